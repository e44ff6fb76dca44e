"""The stock ledger: every change of stock is a movement with a kind, a
reason and a time; a stock level is the sum of a product's movements at a
location. Sales come from order lines (``sync_sales``), so imported orders
keep the stock true."""

import datetime as dt
import math

from crmcore import build, CRMError, FieldError, normalize, to_row

from .catalogue import find, product_ids
from .records import ReorderPoint, StockMovement

DEFAULT_LOCATION = "main"
LEDGER_FIELDS = ["id", "sku", "location", "kind", "quantity", "at", "reason", "ref", "user"]


def sale_location(crm):
    """Where sold goods leave from (setting ``products.sale_location``)."""
    return crm.get_setting("products.sale_location", DEFAULT_LOCATION)


def _quantity(value, *, signed=False):
    try:
        qty = normalize.number(value)
    except ValueError as exc:
        raise CRMError(f"invalid quantity: {exc}") from None
    if signed and qty == 0:
        raise CRMError("invalid quantity: an adjustment must not be zero")
    if not signed and qty <= 0:
        raise CRMError(f"invalid quantity: must be greater than zero (got {value})")
    return qty


def _when(at):
    if at in (None, ""):
        return normalize.now()
    try:
        return normalize.timestamp(at)
    except ValueError as exc:
        raise CRMError(f"invalid date: {exc}") from None


def _location(location):
    location = normalize.text(location)
    if not location:
        raise CRMError("invalid location: must not be empty")
    return location


def level(crm, product_id, location):
    return crm.store.query_value(
        "SELECT coalesce(sum(quantity), 0) FROM stock_movements WHERE product_id = ? AND location = ?", (product_id, location))


def _write(crm, movements):
    stamp = normalize.now()
    records = []
    for data in movements:
        try:
            records.append(build(StockMovement, {"user": crm.user, "recorded_at": stamp, **data}))
        except FieldError as exc:
            raise CRMError(f"invalid {exc.field}: {exc.reason}") from None
    ids = crm.add_many(records)
    from .counting import reconcile

    reconcile(crm, [(r.product_id, r.location, r.at, r.quantity) for r in records])
    return ids


def receive(crm, sku, quantity, location=DEFAULT_LOCATION, reason="", ref="", at=None):
    """Goods arrived: one receipt movement. Returns the new stock level."""
    product = find(crm, sku)
    qty, location, at = _quantity(quantity), _location(location), _when(at)
    with crm.store.transaction():
        _write(crm, [{"product_id": product["id"], "location": location, "kind": "receipt", "quantity": qty,
                      "at": at, "reason": reason or "goods received", "ref": ref}])
        return level(crm, product["id"], location)


def adjust(crm, sku, quantity, reason, location=DEFAULT_LOCATION, at=None):
    """Correct the stock by a signed ``quantity`` (counted, damaged, lost).

    The reason is required: the ledger must say why stock changed. A
    correction may not leave the location below zero."""
    product = find(crm, sku)
    qty, location, at = _quantity(quantity, signed=True), _location(location), _when(at)
    if not normalize.text(reason):
        raise CRMError("an adjustment needs a reason (--reason), e.g. 'stock count' or 'damaged'")
    with crm.store.transaction():
        before = level(crm, product["id"], location)
        if before + qty < 0:
            raise CRMError(f"cannot adjust {product['sku']} at {location} by {qty:g}: only {before:g} in stock")
        _write(crm, [{"product_id": product["id"], "location": location, "kind": "adjustment", "quantity": qty,
                      "at": at, "reason": reason}])
        return before + qty


def transfer(crm, sku, quantity, source, target, reason="", at=None):
    """Move stock between locations: an outgoing and an incoming movement,
    written together. Returns the levels ``(source, target)`` afterwards."""
    product = find(crm, sku)
    qty, source, target, at = _quantity(quantity), _location(source), _location(target), _when(at)
    if source == target:
        raise CRMError(f"cannot transfer from {source} to itself")
    with crm.store.transaction():
        available = level(crm, product["id"], source)
        if available < qty:
            raise CRMError(f"cannot transfer {qty:g} of {product['sku']} from {source}: only {available:g} in stock")
        ref = f"{source} -> {target}"
        common = {"product_id": product["id"], "kind": "transfer", "at": at, "reason": reason or "transfer", "ref": ref}
        _write(crm, [{**common, "location": source, "quantity": -qty}, {**common, "location": target, "quantity": qty}])
        return level(crm, product["id"], source), level(crm, product["id"], target)


def set_reorder(crm, sku, point, quantity, location=DEFAULT_LOCATION):
    """Set (or replace) the reorder point and quantity of a product at a location."""
    product = find(crm, sku)
    location = _location(location)
    try:
        rec = build(ReorderPoint, {"product_id": product["id"], "location": location, "reorder_point": point,
                                   "reorder_quantity": quantity})
    except FieldError as exc:
        raise CRMError(f"invalid {exc.field}: {exc.reason}") from None
    found = crm.store.query_value("SELECT id FROM reorder_points WHERE product_id = ? AND location = ?", (product["id"], location))
    if found is None:
        return crm.add(rec)
    crm.update("reorder_points", found, {"reorder_point": rec.reorder_point, "reorder_quantity": rec.reorder_quantity})
    return found


def levels(crm, location=None, sku=None):
    """Stock per product and location, with the reorder point where one is set."""
    sql = (
        "SELECT p.sku, p.name, m.location, sum(m.quantity) AS stock, r.reorder_point, r.reorder_quantity "
        "FROM stock_movements m JOIN products p ON p.id = m.product_id "
        "LEFT JOIN reorder_points r ON r.product_id = m.product_id AND r.location = m.location WHERE 1 = 1"
    )
    params = []
    if location:
        sql += " AND m.location = ?"
        params.append(location)
    if sku:
        sql += " AND p.sku = ?"
        params.append(sku)
    return crm.store.query(sql + " GROUP BY m.product_id, m.location, p.sku, p.name, r.reorder_point, r.reorder_quantity ORDER BY p.sku, m.location", params)


def ledger(crm, sku=None, location=None, limit=100):
    """Movements, newest first."""
    sql = ("SELECT m.id, p.sku, m.location, m.kind, m.quantity, m.at, m.reason, m.ref, m.user "
           "FROM stock_movements m JOIN products p ON p.id = m.product_id WHERE 1 = 1")
    params = []
    if sku:
        sql += " AND m.product_id = ?"
        params.append(find(crm, sku)["id"])
    if location:
        sql += " AND m.location = ?"
        params.append(location)
    sql += " ORDER BY m.at DESC, m.id DESC"
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return crm.store.query(sql, params)


def low_stock(crm, location=None, cover_days=30, today=None):
    """Products at or under their reorder point, with what to order.

    Demand is the higher of the average daily sales (sale movements) of the
    last 30 and of the last 90 days, so a recent surge is not averaged away.
    ``days_cover`` is how long the stock lasts at that rate; the suggested
    order covers ``cover_days`` of demand beyond the current stock, and is at
    least the reorder quantity."""
    today = today or dt.date.today()
    since30 = (today - dt.timedelta(days=30)).isoformat()
    since90 = (today - dt.timedelta(days=90)).isoformat()
    sql = (
        "SELECT p.sku, p.name, r.location, r.reorder_point, r.reorder_quantity, "
        "  (SELECT coalesce(sum(m.quantity), 0) FROM stock_movements m WHERE m.product_id = r.product_id AND m.location = r.location) AS stock, "
        "  (SELECT coalesce(-sum(m.quantity), 0) FROM stock_movements m WHERE m.product_id = r.product_id AND m.location = r.location "
        "     AND m.kind = 'sale' AND m.at >= ?) AS sold_30, "
        "  (SELECT coalesce(-sum(m.quantity), 0) FROM stock_movements m WHERE m.product_id = r.product_id AND m.location = r.location "
        "     AND m.kind = 'sale' AND m.at >= ?) AS sold_90 "
        "FROM reorder_points r JOIN products p ON p.id = r.product_id"
    )
    params = [since30, since90]
    if location:
        sql += " WHERE r.location = ?"
        params.append(location)
    rows = []
    for r in crm.store.query(sql + " ORDER BY p.sku, r.location", params):
        if r["stock"] > r["reorder_point"]:
            continue
        daily = max(r["sold_30"] / 30, r["sold_90"] / 90)
        r["avg_daily_30"] = round(r["sold_30"] / 30, 3)
        r["avg_daily_90"] = round(r["sold_90"] / 90, 3)
        r["days_cover"] = round(max(r["stock"], 0) / daily, 1) if daily else None
        need = math.ceil(round(daily * cover_days - r["stock"], 6)) if daily else 0
        r["suggested_order"] = max(need, r["reorder_quantity"], 0)
        rows.append(r)
    return rows


# -- sales from order lines ----------------------------------------------------


def _chunks(items, size=500):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def sync_sales(crm, lines):
    """Make the sale movements of these order lines match them.

    ``lines`` are order-line dicts (``id``, ``order_id``, ``sku``,
    ``quantity``; a removed line has quantity 0). The ledger is append-only:
    a changed or removed line gets a correcting movement, never an edit.
    Lines whose SKU is not in the catalogue move no stock (see
    ``crm products unknown-skus``). Runs in the caller's transaction."""
    if not lines:
        return 0
    ids = product_ids(crm, [l.get("sku") for l in lines])
    line_ids = [l["id"] for l in lines]
    booked = {}
    for chunk in _chunks(line_ids):
        for line_id, product_id, location, qty in crm.store.execute(
                "SELECT order_line_id, product_id, location, sum(quantity) FROM stock_movements "
                f"WHERE kind = 'sale' AND order_line_id IN ({', '.join('?' * len(chunk))}) "
                "GROUP BY order_line_id, product_id, location", chunk):
            booked[(line_id, product_id, location)] = qty
    if not ids and not booked:
        return 0
    from .counting import SaleLocations, cancelled, reconcile

    orders, channels = {}, {}
    order_ids = list({l["order_id"] for l in lines if l.get("order_id") is not None})
    for chunk in _chunks(order_ids):
        for oid, ordered_at, ref, channel in crm.store.execute(
                f"SELECT id, ordered_at, ref, channel FROM orders WHERE id IN ({', '.join('?' * len(chunk))})", chunk):
            orders[oid] = (ordered_at, ref or f"order {oid}")
            channels[oid] = channel
    # a sale is taken where it was sold: the order's channel picks the location
    location_of = SaleLocations(crm, sale_location(crm))
    gone = cancelled(crm, order_ids)
    wanted = {}
    for line in lines:
        product_id = ids.get(line.get("sku"))
        if product_id is not None and line.get("quantity") and line.get("order_id") not in gone:
            key = (line["id"], product_id, location_of(channels.get(line.get("order_id"))))
            wanted[key] = wanted.get(key, 0) - float(line["quantity"])
    stamp = normalize.now()
    order_of = {l["id"]: l.get("order_id") for l in lines}
    rows = []
    moved = {k[0] for k in wanted.keys() - booked.keys()}
    for key in wanted.keys() | booked.keys():
        delta = wanted.get(key, 0) - booked.get(key, 0)
        if abs(delta) < 1e-9:
            continue
        line_id, product_id, loc = key
        ordered_at, ref = orders.get(order_of[line_id], (None, ""))
        at = f"{ordered_at}T00:00:00" if ordered_at and key in wanted and key not in booked else stamp
        if ordered_at and key not in wanted and line_id in moved:
            at = f"{ordered_at}T00:00:00"  # sold elsewhere (another channel): demand moves on the order's day
        reason = "sold" if key not in booked else ("order line changed" if key in wanted else "order line removed")
        if key in booked and key not in wanted and order_of[line_id] in gone:
            reason = "order cancelled"
        rows.append(to_row(StockMovement(product_id=product_id, location=loc, kind="sale", quantity=delta, at=at,
                                         reason=reason, ref=ref, order_line_id=line_id, user=crm.user, recorded_at=stamp)))
    for row in rows:
        row.pop("id")
    crm.store.insert_many("stock_movements", rows)
    reconcile(crm, [(r["product_id"], r["location"], r["at"], r["quantity"]) for r in rows])
    return len(rows)


def lines_of_orders(crm, order_ids, with_quantity=False):
    """Order lines of these orders, as removed lines (quantity 0), or as
    they are with ``with_quantity``."""
    lines = []
    for chunk in _chunks(list(order_ids)):
        for id_, order_id, sku, quantity in crm.store.execute(
                f"SELECT id, order_id, sku, quantity FROM order_lines WHERE order_id IN ({', '.join('?' * len(chunk))})", chunk):
            lines.append({"id": id_, "order_id": order_id, "sku": sku, "quantity": quantity if with_quantity else 0})
    return lines


def sync_all_sales(crm):
    """Book every order line with a known SKU that has no sale movement yet
    (after products were added for SKUs that orders already used)."""
    rows = crm.store.query(
        "SELECT ol.id, ol.order_id, ol.sku, ol.quantity FROM order_lines ol JOIN products p ON p.sku = ol.sku "
        "WHERE NOT EXISTS (SELECT 1 FROM stock_movements m WHERE m.order_line_id = ol.id AND m.kind = 'sale')")
    with crm.store.transaction():
        written = 0
        for chunk in _chunks(rows, 5000):
            written += sync_sales(crm, chunk)
    return written
