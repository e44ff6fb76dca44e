"""The product catalogue: add, edit, find, list, import and export products."""

from crmcore import build, CRMError, decode_row, FieldError, normalize

from .records import Product

LIST_FIELDS = ["sku", "name", "category", "lifecycle", "price", "cost", "currency", "active"]

#: Header spellings seen in shop and ERP exports.
IMPORT_ALIASES = {
    "product sku": "sku", "item sku": "sku", "article": "sku", "article number": "sku", "product id": "sku",
    "product": "name", "product name": "name", "title": "name", "item": "name",
    "product type": "category", "type": "category", "group": "category",
    "list price": "price", "unit price": "price", "variant price": "price",
    "unit cost": "cost", "cost per item": "cost", "cost price": "cost",
    "status": "lifecycle", "state": "lifecycle",
    "production date": "produced_at", "produced": "produced_at", "manufactured": "produced_at",
    "weight unit": "weight_unit", "length unit": "dimension_unit",
}


def _field_error(exc):
    return CRMError(f"invalid {exc.field}: {exc.reason}")


def find(crm, sku):
    """The product with this SKU as a dict; ``CRMError`` when there is none."""
    rows = crm.store.query("SELECT * FROM products WHERE sku = ?", (normalize.text(sku),))
    if not rows:
        raise CRMError(f"no product with SKU {sku!r} (see crm products list)")
    return decode_row(Product, rows[0])


def product_ids(crm, skus):
    """``{sku: id}`` for the known SKUs among ``skus``."""
    skus = [s for s in set(skus) if s]
    found = {}
    for i in range(0, len(skus), 500):
        chunk = skus[i:i + 500]
        for sku, id_ in crm.store.execute(f"SELECT sku, id FROM products WHERE sku IN ({', '.join('?' * len(chunk))})", chunk):
            found[sku] = id_
    return found


def add(crm, data):
    """Validate and insert a product; returns its id. A taken SKU is an error."""
    try:
        product = build(Product, data)
    except FieldError as exc:
        raise _field_error(exc) from None
    if crm.store.query_value("SELECT 1 FROM products WHERE sku = ?", (product.sku,)):
        raise CRMError(f"a product with SKU {product.sku!r} exists already (use crm products edit)")
    return crm.add(product)


def edit(crm, sku, changes):
    """Apply validated ``changes`` to the product with ``sku``; returns it."""
    row = find(crm, sku)
    if "sku" in changes and changes["sku"] != row["sku"] and crm.store.query_value(
            "SELECT 1 FROM products WHERE sku = ?", (normalize.text(changes["sku"]),)):
        raise CRMError(f"a product with SKU {changes['sku']!r} exists already")
    try:
        return crm.update("products", row["id"], changes)
    except FieldError as exc:
        raise _field_error(exc) from None


def list_products(crm, category=None, lifecycle=None, active=None, search=None, limit=0):
    sql, params = "SELECT * FROM products WHERE 1 = 1", []
    if category:
        sql += " AND category = ?"
        params.append(category)
    if lifecycle:
        sql += " AND lifecycle = ?"
        params.append(lifecycle)
    if active is not None:
        sql += " AND active = ?"
        params.append(int(active))
    if search:
        sql += " AND (sku LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\')"
        like = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        params += [like, like]
    sql += " ORDER BY sku"
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return [decode_row(Product, r) for r in crm.store.query(sql, params)]


def import_products(crm, path, **options):
    """Products keyed on SKU, through the core's importer: same validation,
    rejects file, dry run and all-or-nothing behaviour as a contact import."""
    from crmcore import import_records

    def prepare(data):
        for key in EXPORT_ONLY:  # our own export's columns, not user data
            data.pop(key, None)
        if "name" not in data and data.get("sku") not in (None, ""):
            # a row updating an existing product may leave out its name
            name = crm.store.query_value("SELECT name FROM products WHERE sku = ?", (normalize.text(data["sku"]),))
            if name is not None:
                data["name"] = name
        return data

    return import_records(crm, path, "products", "sku", prepare=prepare, extra_fields=EXPORT_ONLY, **options)


EXPORT_ONLY = ("id", "created_at", "updated_at")


def margin(price, cost):
    """Unit margin and margin in percent of the price (``None`` without a cost)."""
    if cost is None:
        return None, None
    unit = round(price - cost, 2)
    return unit, (round(100 * unit / price, 1) if price else None)
