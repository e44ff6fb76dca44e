"""Where stock is taken and what it really is: which location each sales
channel sells from, stocktakes that set on-hand as of a date, cancelled
orders and returns that give stock back, and locations driven below zero.

A stocktake keeps the ledger's promise that a level is the sum of its
movements: it writes a ``count`` movement that brings the sum of everything
up to the count's time to the counted quantity. When a movement dated before
the count arrives later (years of order history imported after the shop
counted its stock), the count is re-applied with another ``count`` movement,
so only movements after the count change what is on hand."""


from crmcore import build, CRMError, FieldError, normalize

from .catalogue import find
from .counting import SaleLocations, cancelled, channel_map, known_locations, recount  # noqa: F401
from .supply_records import CancelledOrder, ChannelLocation, Stocktake

LOCATION_FIELDS = ["location", "channels", "products", "stock"]
NEGATIVE_FIELDS = ["sku", "name", "location", "stock", "below_zero_since", "ref", "sales_while_negative"]


def _chunks(items, size=500):
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _marks(n):
    return ", ".join("?" * n)


def _location(value, what="location"):
    value = normalize.text(value)
    if not value:
        raise CRMError(f"invalid {what}: must not be empty")
    return value


def count_time(at):
    """A stocktake's time: a date alone means the close of that day (its
    sales are already counted); default now."""
    if at in (None, ""):
        return normalize.now()
    text = normalize.text(at)
    try:
        if len(text) == 10:
            return normalize.date(text).isoformat() + "T23:59:59"
        return normalize.timestamp(text)
    except ValueError as exc:
        raise CRMError(f"invalid date --at: {exc}") from None


# -- channels -> locations -----------------------------------------------------


def map_channel(crm, channel, location):
    """Sales of ``channel`` take stock from ``location`` from now on."""
    channel, location = _location(channel, "channel"), _location(location)
    found = crm.store.query_value("SELECT id FROM stock_channel_locations WHERE channel = ?", (channel,))
    if found is None:
        crm.add(ChannelLocation(channel=channel, location=location))
    else:
        crm.update("stock_channel_locations", found, {"location": location})


def unmap_channel(crm, channel):
    found = crm.store.query_value("SELECT id FROM stock_channel_locations WHERE channel = ?", (channel,))
    if found is None:
        raise CRMError(f"channel {channel!r} is not mapped (see crm products locations list)")
    crm.delete("stock_channel_locations", [found])


def list_locations(crm):
    """Every location with its channels, the products it holds and its stock."""
    rows = {r["location"]: {"location": r["location"], "channels": [], "products": r["products"], "stock": r["stock"]}
            for r in crm.store.query(
                "SELECT location, count(*) AS products, sum(stock) AS stock FROM ("
                " SELECT product_id, location, sum(quantity) AS stock FROM stock_movements GROUP BY product_id, location"
                ") AS per_product WHERE stock <> 0 GROUP BY location")}
    for channel, location in sorted(channel_map(crm).items()):
        rows.setdefault(location, {"location": location, "channels": [], "products": 0, "stock": 0})["channels"].append(channel)
    return [rows[k] for k in sorted(rows)]


# -- cancelled orders ----------------------------------------------------------


def cancel_order(crm, ref, reason=""):
    """Cancel a sales order: its lines give their stock back (and take none
    if they change later). Returns the number of movements written."""
    from .stock import sync_sales

    order = crm.store.query("SELECT id, ref FROM orders WHERE ref = ?", (normalize.text(ref),))
    if not order and str(ref).isdigit():
        order = crm.store.query("SELECT id, ref FROM orders WHERE id = ?", (int(ref),))
    if not order:
        raise CRMError(f"no order with ref {ref!r}")
    oid = order[0]["id"]
    with crm.store.transaction():
        if crm.store.query_value("SELECT 1 FROM cancelled_orders WHERE order_id = ?", (oid,)):
            raise CRMError(f"order {ref} is cancelled already")
        crm.add(CancelledOrder(order_id=oid, at=normalize.now(), user=crm.user, reason=reason or "cancelled"))
        lines = crm.store.query("SELECT id, order_id, sku, quantity FROM order_lines WHERE order_id = ?", (oid,))
        return sync_sales(crm, lines)


def forget_orders(crm, order_ids):
    for chunk in _chunks(order_ids):
        crm.store.execute(f"DELETE FROM cancelled_orders WHERE order_id IN ({_marks(len(chunk))})", chunk)


# -- returns ---------------------------------------------------------------------


def return_stock(crm, sku, quantity, location, ref="", reason="", at=None):
    """A customer brought goods back: a ``return`` movement. Returns the level."""
    from .stock import _quantity, _when, _write, level

    product = find(crm, sku)
    qty, location, at = _quantity(quantity), _location(location), _when(at)
    with crm.store.transaction():
        _write(crm, [{"product_id": product["id"], "location": location, "kind": "return", "quantity": qty,
                      "at": at, "reason": reason or "returned by the customer", "ref": ref}])
        return level(crm, product["id"], location)


# -- stocktakes ------------------------------------------------------------------


def count(crm, sku, quantity, location="main", at=None):
    """Record a stocktake: ``quantity`` on hand at ``location`` as of ``at``.
    Returns the level now (the count plus what moved after it)."""
    from .stock import level

    product = find(crm, sku)
    try:
        qty = normalize.number(quantity)
    except ValueError as exc:
        raise CRMError(f"invalid quantity: {exc}") from None
    if qty < 0:
        raise CRMError(f"invalid quantity: a count must not be negative (got {quantity})")
    location, at = _location(location), count_time(at)
    with crm.store.transaction():
        try:
            crm.add(build(Stocktake, {"product_id": product["id"], "location": location, "at": at, "quantity": qty,
                                      "user": crm.user, "recorded_at": normalize.now()}))
        except FieldError as exc:
            raise CRMError(f"invalid {exc.field}: {exc.reason}") from None
        recount(crm, product["id"], location)
        return level(crm, product["id"], location)


def stocktakes(crm, sku=None, location=None):
    sql = ("SELECT p.sku, s.location, s.at, s.quantity, s.user FROM stocktakes s JOIN products p ON p.id = s.product_id WHERE 1 = 1")
    params = []
    if sku:
        sql += " AND s.product_id = ?"
        params.append(find(crm, sku)["id"])
    if location:
        sql += " AND s.location = ?"
        params.append(location)
    return crm.store.query(sql + " ORDER BY s.at DESC, s.id DESC", params)


# -- below zero ------------------------------------------------------------------


def negative(crm, location=None):
    """Locations whose stock is below zero, with the movement that took them
    there: sales are recorded even when the shelf was empty, and listed here."""
    sql = ("SELECT m.product_id, p.sku, p.name, m.location, sum(m.quantity) AS stock FROM stock_movements m "
           "JOIN products p ON p.id = m.product_id")
    params = []
    if location:
        sql += " WHERE m.location = ?"
        params.append(location)
    rows = crm.store.query(sql + " GROUP BY m.product_id, p.sku, p.name, m.location HAVING sum(m.quantity) < -0.000001 "
                           "ORDER BY p.sku, m.location", params)
    for r in rows:
        running, since, ref, sales = 0.0, None, "", 0
        for at, qty, kind, mref in crm.store.execute(
                "SELECT at, quantity, kind, ref FROM stock_movements WHERE product_id = ? AND location = ? ORDER BY at, id",
                (r["product_id"], r["location"])):
            was = running
            running += qty
            if running < -1e-9 and was >= -1e-9:
                since, ref, sales = at, mref, 0
            if running < -1e-9 and kind == "sale" and qty < 0:
                sales += 1
        r.update(below_zero_since=since, ref=ref, sales_while_negative=sales)
        r.pop("product_id")
    return rows
