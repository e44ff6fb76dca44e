"""Suppliers and what each sells us: per SKU a cost, a pack size, a minimum
order quantity and a lead time; several suppliers per SKU, one preferred."""

from crmcore import build, CRMError, FieldError, normalize

from .catalogue import find
from .supply_records import Supplier, SupplierProduct

SUPPLIER_FIELDS = ["name", "email", "phone", "currency", "lead_time_days", "ordering_cost", "products"]
TERMS_FIELDS = ["sku", "supplier", "supplier_sku", "cost", "pack_size", "min_order", "lead_time_days", "preferred"]
DEFAULT_LEAD_TIME = 7.0


def _invalid(exc):
    return CRMError(f"invalid {exc.field}: {exc.reason}")


def find_supplier(crm, name):
    rows = crm.store.query("SELECT * FROM suppliers WHERE name = ?", (normalize.text(name),))
    if not rows and str(name).isdigit():
        rows = crm.store.query("SELECT * FROM suppliers WHERE id = ?", (int(name),))
    if not rows:
        raise CRMError(f"no supplier named {name!r} (see crm products suppliers list)")
    return rows[0]


def add_supplier(crm, data):
    """Add a supplier, or change the given fields of the one with this name."""
    name = normalize.text(data.get("name"))
    existing = crm.store.query("SELECT id FROM suppliers WHERE name = ?", (name,))
    try:
        if existing:
            changes = {k: v for k, v in data.items() if v is not None and k != "name"}
            if changes:
                crm.update("suppliers", existing[0]["id"], changes)
            return existing[0]["id"], False
        return crm.add(build(Supplier, {k: v for k, v in data.items() if v is not None})), True
    except FieldError as exc:
        raise _invalid(exc) from None


def set_terms(crm, supplier, sku, *, cost=None, pack_size=None, min_order=None, lead_time_days=None, supplier_sku=None,
              preferred=None):
    """Set what ``supplier`` charges for ``sku`` (only the given terms
    change). ``preferred`` makes it the SKU's preferred supplier, and no
    other. The first supplier of a SKU is preferred."""
    sup, product = find_supplier(crm, supplier), find(crm, sku)
    given = {k: v for k, v in {"cost": cost, "pack_size": pack_size, "min_order": min_order, "lead_time_days": lead_time_days,
                                "supplier_sku": supplier_sku, "preferred": preferred}.items() if v is not None}
    with crm.store.transaction():
        found = crm.store.query_value("SELECT id FROM supplier_products WHERE supplier_id = ? AND product_id = ?",
                                      (sup["id"], product["id"]))
        others = crm.store.query_value("SELECT count(*) FROM supplier_products WHERE product_id = ? AND supplier_id <> ?",
                                       (product["id"], sup["id"]))
        if found is None and not others and preferred is None:
            given["preferred"] = True
        try:
            if found is None:
                terms_id = crm.add(build(SupplierProduct, {"supplier_id": sup["id"], "product_id": product["id"], **given}))
            else:
                terms_id = found
                if given:
                    crm.update("supplier_products", found, given)
        except FieldError as exc:
            raise _invalid(exc) from None
        if given.get("preferred") and normalize.boolean(given["preferred"]):
            for (other,) in crm.store.execute("SELECT id FROM supplier_products WHERE product_id = ? AND id <> ? AND preferred = 1",
                                              (product["id"], terms_id)):
                crm.update("supplier_products", other, {"preferred": False})
    return terms_id


def list_suppliers(crm):
    return crm.store.query(
        "SELECT s.name, s.email, s.phone, s.currency, s.lead_time_days, s.ordering_cost, "
        "(SELECT count(*) FROM supplier_products t WHERE t.supplier_id = s.id) AS products FROM suppliers s ORDER BY s.name")


def terms(crm, supplier=None, sku=None):
    """Every supplier's terms per SKU, with the supplier's lead time where
    the SKU has none of its own."""
    sql = ("SELECT p.sku, s.name AS supplier, t.supplier_sku, t.cost, t.pack_size, t.min_order, "
           "coalesce(t.lead_time_days, s.lead_time_days) AS lead_time_days, t.preferred "
           "FROM supplier_products t JOIN suppliers s ON s.id = t.supplier_id JOIN products p ON p.id = t.product_id WHERE 1 = 1")
    params = []
    if supplier:
        sql += " AND t.supplier_id = ?"
        params.append(find_supplier(crm, supplier)["id"])
    if sku:
        sql += " AND t.product_id = ?"
        params.append(find(crm, sku)["id"])
    rows = crm.store.query(sql + " ORDER BY p.sku, t.preferred DESC, s.name", params)
    for r in rows:
        r["preferred"] = bool(r["preferred"])
    return rows


def show_supplier(crm, name):
    sup = find_supplier(crm, name)
    sup["products"] = terms(crm, supplier=sup["name"])
    sup["purchase_orders"] = crm.store.query(
        "SELECT ref, status, location, ordered_at, expected_at, received_at FROM purchase_orders WHERE supplier_id = ? "
        "ORDER BY id DESC LIMIT 20", (sup["id"],))
    return sup


def sourcing(crm):
    """``{product_id: terms}`` of each SKU's preferred supplier (else its
    cheapest), with ``supplier_id``, ``supplier``, ``cost``, ``pack_size``,
    ``min_order``, ``lead_time_days`` and ``ordering_cost``."""
    rows = crm.store.query(
        "SELECT t.product_id, t.supplier_id, s.name AS supplier, coalesce(t.cost, p.cost) AS cost, t.pack_size, t.min_order, "
        "coalesce(t.lead_time_days, s.lead_time_days) AS lead_time_days, s.ordering_cost, t.preferred "
        "FROM supplier_products t JOIN suppliers s ON s.id = t.supplier_id JOIN products p ON p.id = t.product_id "
        "ORDER BY t.product_id, t.preferred DESC, coalesce(t.cost, p.cost), s.name")
    best = {}
    for r in rows:
        best.setdefault(r["product_id"], r)
    return best
