"""Purchase orders: drafts (by hand or from the plan), sending (the PO files
for the supplier: CSV and a printable HTML page), and receiving, which books
the goods into the stock ledger (partial deliveries allowed).

Sending writes files and marks the order sent; it does not e-mail them."""

import datetime as dt
import math
import os
import re

from crmcore import build, CRMError, FieldError, normalize

from .catalogue import find
from .supply_records import PurchaseOrder, PurchaseOrderLine

PO_FIELDS = ["ref", "supplier", "location", "status", "lines", "units", "received", "value", "currency", "ordered_at",
             "expected_at", "received_at"]
PO_LINE_FIELDS = ["sku", "name", "supplier_sku", "quantity", "received", "open", "unit_cost", "line_total"]
FILE_FIELDS = ["po", "supplier", "supplier_sku", "sku", "name", "quantity", "unit_cost", "line_total", "currency",
               "deliver_to", "expected_at"]


def _next_ref(crm):
    refs = [r["ref"] for r in crm.store.query("SELECT ref FROM purchase_orders WHERE ref LIKE 'PO-%'")]
    numbers = [int(m.group(1)) for m in (re.fullmatch(r"PO-(\d+)", r) for r in refs) if m]
    return f"PO-{max(numbers, default=0) + 1:05d}"


def find_po(crm, ref):
    rows = crm.store.query("SELECT o.*, s.name AS supplier FROM purchase_orders o JOIN suppliers s ON s.id = o.supplier_id "
                           "WHERE o.ref = ?", (normalize.text(ref),))
    if not rows:
        raise CRMError(f"no purchase order {ref!r} (see crm products po list)")
    return rows[0]


def _quantity(value, sku):
    try:
        qty = normalize.number(value)
    except ValueError as exc:
        raise CRMError(f"invalid quantity for {sku}: {exc}") from None
    if qty <= 0:
        raise CRMError(f"invalid quantity for {sku}: must be greater than zero (got {value})")
    return qty


def create(crm, supplier, lines, location="main", notes="", round_to_terms=True):
    """A draft purchase order for ``lines`` (``[(sku, quantity)]``) at the
    supplier's cost; with ``round_to_terms`` each quantity is rounded up to
    the supplier's minimum order and pack size. Returns the ref."""
    from .planning import round_order
    from .suppliers import find_supplier

    sup = find_supplier(crm, supplier)
    location = normalize.text(location)
    if not location:
        raise CRMError("invalid location: must not be empty")
    if not lines:
        raise CRMError("a purchase order needs at least one line (SKU=QUANTITY)")
    prepared = {}
    for sku, qty in lines:
        product = find(crm, sku)
        qty = _quantity(qty, sku)
        terms = crm.store.query("SELECT cost, pack_size, min_order FROM supplier_products WHERE supplier_id = ? AND product_id = ?",
                                (sup["id"], product["id"]))
        t = terms[0] if terms else {"cost": None, "pack_size": 1.0, "min_order": 0.0}
        if round_to_terms:
            qty = round_order(qty, t["pack_size"], t["min_order"])
        cost = t["cost"] if t["cost"] is not None else product["cost"]
        if product["id"] in prepared:
            prepared[product["id"]]["quantity"] += qty
        else:
            prepared[product["id"]] = {"product_id": product["id"], "quantity": qty, "unit_cost": cost}
    with crm.store.transaction():
        ref = _next_ref(crm)
        try:
            po_id = crm.add(build(PurchaseOrder, {"ref": ref, "supplier_id": sup["id"], "location": location, "status": "draft",
                                                  "currency": sup["currency"], "notes": notes}))
            crm.add_many([build(PurchaseOrderLine, {"purchase_order_id": po_id, **line}) for line in prepared.values()])
        except FieldError as exc:
            raise CRMError(f"invalid {exc.field}: {exc.reason}") from None
    return ref


def create_from_plan(crm, rows):
    """Draft purchase orders from the plan's purchases, one per supplier and
    location (already rounded to packs and minimums by the plan). Returns
    ``(refs, unsourced)``: the new refs and the rows without a supplier."""
    groups, unsourced = {}, []
    for r in rows:
        if r["action"] != "purchase" or r["quantity"] <= 0:
            continue
        if not r.get("supplier"):
            unsourced.append(r)
            continue
        groups.setdefault((r["supplier"], r["location"]), []).append((r["sku"], r["quantity"]))
    refs = []
    with crm.store.transaction():
        for (supplier, location), lines in sorted(groups.items()):
            refs.append(create(crm, supplier, lines, location, notes="from the plan", round_to_terms=True))
    return refs, unsourced


def list_pos(crm, status=None, supplier=None):
    sql = ("SELECT o.id, o.ref, s.name AS supplier, o.location, o.status, o.currency, o.ordered_at, o.expected_at, o.received_at, "
           "count(l.id) AS lines, coalesce(sum(l.quantity), 0) AS units, coalesce(sum(l.received), 0) AS received, "
           "round(CAST(sum(l.quantity * l.unit_cost) AS NUMERIC), 2) AS value "
           "FROM purchase_orders o JOIN suppliers s ON s.id = o.supplier_id "
           "LEFT JOIN purchase_order_lines l ON l.purchase_order_id = o.id WHERE 1 = 1")
    params = []
    if status:
        sql += " AND o.status = ?"
        params.append(status)
    if supplier:
        sql += " AND s.name = ?"
        params.append(supplier)
    rows = crm.store.query(sql + " GROUP BY o.id, o.ref, s.name, o.location, o.status, o.currency, o.ordered_at, "
                           "o.expected_at, o.received_at ORDER BY o.id", params)
    for r in rows:
        r["value"] = None if r["value"] is None else float(r["value"])
    return rows


def po_lines(crm, po_id):
    rows = crm.store.query(
        "SELECT l.id, l.product_id, p.sku, p.name, t.supplier_sku, l.quantity, l.received, l.unit_cost "
        "FROM purchase_order_lines l JOIN products p ON p.id = l.product_id "
        "JOIN purchase_orders o ON o.id = l.purchase_order_id "
        "LEFT JOIN supplier_products t ON t.product_id = l.product_id AND t.supplier_id = o.supplier_id "
        "WHERE l.purchase_order_id = ? ORDER BY p.sku", (po_id,))
    for r in rows:
        r["open"] = max(r["quantity"] - r["received"], 0.0)
        r["line_total"] = None if r["unit_cost"] is None else round(r["quantity"] * r["unit_cost"], 2)
    return rows


def show_po(crm, ref):
    po = find_po(crm, ref)
    po["lines"] = po_lines(crm, po["id"])
    po["value"] = round(sum(l["line_total"] or 0 for l in po["lines"]), 2)
    return po


def _slug(text):
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "supplier"


def send(crm, ref, folder=".", today=None):
    """Write the supplier's PO files (``REF-supplier.csv`` and ``.html``) to
    ``folder`` and mark a draft sent, with the promised delivery date from
    the longest lead time of its lines. Returns the paths."""
    import csv
    import io

    from crmcore import atomic_write, safe_cell
    from crmcore import template_environment as environment

    po = show_po(crm, ref)
    if po["status"] not in ("draft", "sent"):
        raise CRMError(f"purchase order {ref} is {po['status']}: only a draft (or a sent order, again) can be sent")
    if not os.path.isdir(folder):  # `-o outbox/` makes the folder, as the README's tour does; not a missing parent
        parent = os.path.dirname(os.path.abspath(folder.rstrip("/\\") or folder))
        if os.path.exists(folder) or not os.path.isdir(parent):
            raise CRMError(f"{folder} is not a folder" if os.path.exists(folder) else f"folder {parent} does not exist")
        os.makedirs(folder, exist_ok=True)
    supplier = crm.store.query("SELECT * FROM suppliers WHERE id = ?", (po["supplier_id"],))[0]
    updates = {}
    if po["status"] == "draft":
        lead = crm.store.query_value(
            "SELECT max(coalesce(t.lead_time_days, s.lead_time_days)) FROM purchase_order_lines l "
            "JOIN purchase_orders o ON o.id = l.purchase_order_id JOIN suppliers s ON s.id = o.supplier_id "
            "LEFT JOIN supplier_products t ON t.product_id = l.product_id AND t.supplier_id = o.supplier_id "
            "WHERE o.id = ?", (po["id"],))
        lead = float(lead if lead is not None else supplier["lead_time_days"])
        sent_at = normalize.now() if today is None else f"{today.isoformat()}T09:00:00"
        day = dt.date.fromisoformat(sent_at[:10])
        updates = {"status": "sent", "ordered_at": sent_at, "lead_time_days": lead,
                   "expected_at": (day + dt.timedelta(days=math.ceil(lead))).isoformat()}
        po.update(updates)
    rows = [{"po": po["ref"], "supplier": supplier["name"], "supplier_sku": l["supplier_sku"] or "", "sku": l["sku"],
             "name": l["name"], "quantity": l["quantity"], "unit_cost": l["unit_cost"], "line_total": l["line_total"],
             "currency": po["currency"], "deliver_to": po["location"], "expected_at": po["expected_at"]} for l in po["lines"]]
    base = os.path.join(folder, f"{po['ref']}-{_slug(supplier['name'])}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FILE_FIELDS)
    for r in rows:
        writer.writerow([safe_cell(r[f]) for f in FILE_FIELDS])
    html = environment(crm).get_template("purchase_order.html").render(po=po, supplier=supplier, lines=rows)
    with crm.store.transaction():
        if updates:
            crm.update("purchase_orders", po["id"], updates)
        with atomic_write(base + ".csv", "purchase order") as f:
            f.write(out.getvalue())
        with atomic_write(base + ".html", "purchase order") as f:
            f.write(html)
    return [base + ".csv", base + ".html"]


def receive(crm, ref, quantities=None, at=None):
    """Book delivered goods: ``quantities`` ``{sku: units}`` (default:
    everything still open). Each becomes a receipt in the ledger at the
    order's location with the PO's ref. Returns the order's new status."""
    from .stock import _when, _write

    po = show_po(crm, ref)
    if po["status"] in ("received", "cancelled"):
        raise CRMError(f"purchase order {ref} is {po['status']}: nothing more to receive")
    at = _when(at)
    by_sku = {l["sku"]: l for l in po["lines"]}
    if quantities:
        wanted = {}
        for sku, qty in quantities.items():
            if sku not in by_sku:
                raise CRMError(f"purchase order {ref} has no line for {sku!r} (lines: {', '.join(sorted(by_sku))})")
            wanted[sku] = _quantity(qty, sku)
    else:
        wanted = {sku: l["open"] for sku, l in by_sku.items() if l["open"] > 0}
    if not wanted:
        raise CRMError(f"purchase order {ref}: nothing left to receive")
    with crm.store.transaction():
        moves = []
        for sku, qty in sorted(wanted.items()):
            line = by_sku[sku]
            crm.update("purchase_order_lines", line["id"], {"received": line["received"] + qty})
            line["received"] += qty
            moves.append({"product_id": line["product_id"], "location": po["location"], "kind": "receipt", "quantity": qty,
                          "at": at, "reason": f"received from {po['supplier']}", "ref": po["ref"]})
        _write(crm, moves)
        done = all(l["received"] >= l["quantity"] - 1e-9 for l in po["lines"])
        status = "received" if done else "partial"
        crm.update("purchase_orders", po["id"], {"status": status, "received_at": at,
                                                 "ordered_at": po["ordered_at"] or at})
    return status


def cancel(crm, ref):
    po = find_po(crm, ref)
    if po["status"] in ("received", "cancelled"):
        raise CRMError(f"purchase order {ref} is {po['status']} and cannot be cancelled")
    crm.update("purchase_orders", po["id"], {"status": "cancelled"})
