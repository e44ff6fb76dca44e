"""What the stock ledger needs when it books movements: which location a
sale is taken from (the channel map), which orders are cancelled, and
re-applying stocktakes that a back-dated movement fell before (see
locations.py for the commands around them)."""

from crmcore import normalize, to_row

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


def _takes(crm, product_ids):
    """``{(product_id, location): [(at, quantity)]}`` of these products' stocktakes, oldest first."""
    takes = {}
    for chunk in _chunks(set(product_ids)):
        for product_id, location, at, qty in crm.store.execute(
                f"SELECT product_id, location, at, quantity FROM stocktakes WHERE product_id IN ({_marks(len(chunk))}) "
                "ORDER BY at, id", chunk):
            takes.setdefault((product_id, location), []).append((at, qty))
    return takes


def _book(crm, corrections):
    """Write ``count`` movements ``(product_id, location, at, delta, counted)``."""
    stamp, rows = normalize.now(), []
    for product_id, location, at, delta, qty in corrections:
        if abs(delta) < 1e-9:
            continue
        row = to_row(StockMovement(product_id=product_id, location=location, kind="count", quantity=delta, at=at,
                                   reason=f"stocktake: {qty:g} counted", ref=f"count {at[:10]}", user=crm.user,
                                   recorded_at=stamp))
        row.pop("id")
        rows.append(row)
    if rows:
        crm.store.insert_many("stock_movements", rows)
    return len(rows)


def reconcile(crm, moved):
    """Keep every stocktake true after new movements: ``moved`` are
    ``(product_id, location, at, quantity)`` of movements just written. A
    stocktake at time t then gets a ``count`` movement taking out what the
    new movements added between the stocktake before it and t (what it
    already counted), so only movements after a count change the stock. No
    read of the ledger: a batch of a million old sales costs one query for
    the stocktakes. Runs in the caller's transaction."""
    moved = [m for m in moved if m[2]]
    if not moved:
        return 0
    takes = _takes(crm, {m[0] for m in moved})
    if not takes:
        return 0
    new = {}
    for product_id, location, at, qty in moved:
        if (product_id, location) in takes:
            new.setdefault((product_id, location), []).append((at, qty))
    corrections = []
    for key, counts in takes.items():
        if key not in new:
            continue
        previous = None
        for at, counted in counts:
            added = sum(q for t, q in new[key] if t <= at and (previous is None or t > previous))
            corrections.append((key[0], key[1], at, -added, counted))
            previous = at
    return _book(crm, corrections)


def recount(crm, product_id, location):
    """Make every stocktake of a product at a location true again from the
    whole ledger (after a new stocktake, or movements written outside the CRM)."""
    corrections = []
    for at, counted in _takes(crm, [product_id]).get((product_id, location), []):
        before = crm.store.query_value(
            "SELECT coalesce(sum(quantity), 0) FROM stock_movements WHERE product_id = ? AND location = ? AND at <= ?",
            (product_id, location, at))
        written = _book(crm, [(product_id, location, at, counted - before, counted)])
        corrections.append(written)
    return sum(corrections)
