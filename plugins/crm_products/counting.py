"""What the stock ledger needs when it books movements: which location a
sale is taken from (the channel map), which orders are cancelled, and
re-applying stocktakes that a back-dated movement fell before (see
locations.py for the commands around them)."""

from crmcore import normalize
from crmcore.schema import to_row

from .records import StockMovement


def _chunks(items, size=500):
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _marks(n):
    return ", ".join("?" * n)


def channel_map(crm):
    """``{channel: location}`` as set with ``crm products locations map``."""
    return {r["channel"]: r["location"] for r in crm.store.query("SELECT channel, location FROM stock_channel_locations")}


def known_locations(crm):
    """Locations named anywhere but the ledger (cheap to read on every batch)."""
    rows = crm.store.query(
        "SELECT location FROM stock_channel_locations UNION SELECT location FROM stocktakes "
        "UNION SELECT location FROM reorder_points UNION SELECT location FROM purchase_orders")
    return {r["location"] for r in rows}


class SaleLocations:
    """Picks the location a sale is taken from: the channel's mapped
    location; else the channel itself when it names a known location (an
    imported ``location`` column arrives as the channel); else the default."""

    def __init__(self, crm, default):
        self.mapped = channel_map(crm)
        self.known = known_locations(crm)
        self.default = default

    def __call__(self, channel):
        channel = (channel or "").strip()
        if channel in self.mapped:
            return self.mapped[channel]
        if channel and channel in self.known:
            return channel
        return self.default


def cancelled(crm, order_ids):
    found = set()
    for chunk in _chunks({o for o in order_ids if o is not None}):
        found |= {r[0] for r in crm.store.execute(f"SELECT order_id FROM cancelled_orders WHERE order_id IN ({_marks(len(chunk))})", chunk)}
    return found


def reconcile(crm, moved):
    """Re-apply the stocktakes that ``moved`` (``(product_id, location, at)``
    of movements just written) fell before. Runs in the caller's transaction."""
    earliest = {}
    for product_id, location, at in moved:
        key = (product_id, location)
        if at and (key not in earliest or at < earliest[key]):
            earliest[key] = at
    if not earliest:
        return 0
    takes = {}
    for chunk in _chunks({p for p, _ in earliest}):
        for product_id, location, at, qty in crm.store.execute(
                f"SELECT product_id, location, at, quantity FROM stocktakes WHERE product_id IN ({_marks(len(chunk))}) "
                "ORDER BY at, id", chunk):
            key = (product_id, location)
            if key in earliest and at >= earliest[key]:
                takes.setdefault(key, []).append((at, qty))
    if not takes:
        return 0
    stamp, written = normalize.now(), 0
    for (product_id, location), counts in takes.items():
        for at, qty in counts:
            before = crm.store.query_value(
                "SELECT coalesce(sum(quantity), 0) FROM stock_movements WHERE product_id = ? AND location = ? AND at <= ?",
                (product_id, location, at))
            delta = qty - before
            if abs(delta) < 1e-9:
                continue
            row = to_row(StockMovement(product_id=product_id, location=location, kind="count", quantity=delta, at=at,
                                       reason=f"stocktake: {qty:g} counted", ref=f"count {at[:10]}", user=crm.user,
                                       recorded_at=stamp))
            row.pop("id")
            crm.store.insert_many("stock_movements", [row])
            written += 1
    return written
