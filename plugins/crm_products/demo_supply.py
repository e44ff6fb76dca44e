"""Demo data of just-in-time supply for ``crm demo`` / ``crm quickstart``:
the shop's store sells from its own shelves, the web and the phone from the
warehouse (``main``); four suppliers with lead times, packs and minimums; a
year of received purchase orders (some late) and one on its way; and a
stocktake at each location a month ago."""

import datetime as dt

from crmcore import normalize

from .records import StockMovement
from .supply_records import ChannelLocation, PurchaseOrder, PurchaseOrderLine, Stocktake, Supplier, SupplierProduct

DEMO_CHANNELS = {"store": "store", "web": "main", "phone": "main", "marketplace": "main"}
#: name, lead time (days), ordering cost, how late it tends to be (days)
DEMO_SUPPLIERS = [("Nordwerk", 10, 45.0, 1), ("Hansen & Co", 5, 25.0, 0), ("Lumen Trading", 21, 60.0, 4),
                  ("Atelier Sud", 14, 35.0, 2)]


def map_demo_channels(crm):
    mapped = {r["channel"] for r in crm.store.query("SELECT channel FROM stock_channel_locations")}
    crm.add_many([ChannelLocation(channel=c, location=loc) for c, loc in DEMO_CHANNELS.items() if c not in mapped])


def sold_per_location(crm):
    """``{(sku, location): units}`` of the demo orders, by their channel."""
    sold = {}
    for r in crm.store.query("SELECT ol.sku, o.channel, sum(ol.quantity) AS units FROM order_lines ol "
                             "JOIN orders o ON o.id = ol.order_id GROUP BY ol.sku, o.channel"):
        key = (r["sku"], DEMO_CHANNELS.get(r["channel"], "main"))
        sold[key] = sold.get(key, 0) + r["units"]
    return sold


def create_demo_supply(crm, rng, product_ids, today):
    """Suppliers, their terms and a year of purchase orders for the demo
    products (``{sku: id}``), dated back from ``today``. Returns
    ``{product_id: units received}`` (the opening stock is that much less)."""
    if crm.store.query_value("SELECT count(*) FROM suppliers"):
        return {}
    stamp = normalize.now()
    costs = {r["id"]: r["cost"] for r in crm.store.query("SELECT id, cost FROM products")}
    sup_ids = crm.add_many([Supplier(name=name, email=f"orders@{name.split()[0].lower()}.example", lead_time_days=lead,
                                     ordering_cost=cost, currency="EUR") for name, lead, cost, _ in DEMO_SUPPLIERS])
    terms, chosen = [], {}
    for i, (sku, pid) in enumerate(sorted(product_ids.items())):
        first = i % len(sup_ids)
        chosen[pid] = first
        pack = rng.choice([1, 1, 6, 12])
        terms.append(SupplierProduct(supplier_id=sup_ids[first], product_id=pid, supplier_sku=f"{DEMO_SUPPLIERS[first][0][:2].upper()}-{1000 + i}",
                                     cost=costs.get(pid), pack_size=pack, min_order=pack * rng.choice([1, 2]), preferred=True))
        if rng.random() < 0.3:  # a dearer second source that delivers faster
            other = (first + 1) % len(sup_ids)
            terms.append(SupplierProduct(supplier_id=sup_ids[other], product_id=pid, cost=round((costs.get(pid) or 1) * 1.15, 2),
                                         pack_size=1, min_order=0, lead_time_days=3, preferred=False))
    crm.add_many(terms)
    # a year of purchase orders: one per supplier about every six weeks, delivered (some late)
    moves, n = [], 0
    by_supplier = {}
    for pid, s in chosen.items():
        by_supplier.setdefault(s, []).append(pid)
    for s, pids in sorted(by_supplier.items()):
        name, lead, _, late = DEMO_SUPPLIERS[s]
        for k in range(8):
            n += 1
            open_order = k == 7
            sent = today - dt.timedelta(days=(lead // 2) if open_order else 365 - 45 * k - s * 3)
            took = lead + max(0, round(rng.gauss(late, 2)))
            arrived = sent + dt.timedelta(days=took)
            if open_order or arrived > today:
                status, received_at = "sent", None
            else:
                status, received_at = "received", f"{arrived.isoformat()}T10:00:00"
            # the demo's history keeps its own series (PO-YYYY-NNN), so a user's
            # first order is PO-00001, as in the README's tour
            ref = f"PO-{sent.year}-{n:03d}"
            po_id = crm.add(PurchaseOrder(ref=ref, supplier_id=sup_ids[s], location="main", status=status,
                                          ordered_at=f"{sent.isoformat()}T09:00:00", expected_at=sent + dt.timedelta(days=lead),
                                          received_at=received_at, lead_time_days=lead, currency="EUR", notes="demo"))
            lines = []
            for pid in rng.sample(pids, min(len(pids), 3)):
                qty = rng.choice([12, 24, 36])
                lines.append(PurchaseOrderLine(purchase_order_id=po_id, product_id=pid, quantity=qty,
                                               received=qty if received_at else 0, unit_cost=costs.get(pid)))
                if received_at:
                    moves.append(StockMovement(product_id=pid, location="main", kind="receipt", quantity=qty, at=received_at,
                                               reason=f"received from {name}", ref=ref, user="demo", recorded_at=stamp))
            crm.add_many(lines)
    crm.add_many(moves)
    received = {}
    for m in moves:
        received[m.product_id] = received.get(m.product_id, 0) + m.quantity
    return received


def create_demo_stocktakes(crm, rng, product_ids, today):
    """A stocktake a month ago at every location, a few units found missing."""
    stamp = normalize.now()
    chosen = set(product_ids.values())
    counted = f"{(today - dt.timedelta(days=30)).isoformat()}T23:59:59"
    takes = []
    for r in crm.store.query("SELECT product_id, location, sum(quantity) AS stock FROM stock_movements WHERE at <= ? "
                             "GROUP BY product_id, location", (counted,)):
        if r["product_id"] in chosen:
            qty = max(0, r["stock"] - (1 if rng.random() < 0.2 else 0))
            takes.append(Stocktake(product_id=r["product_id"], location=r["location"], at=counted, quantity=qty, user="demo",
                                   recorded_at=stamp))
    crm.add_many(takes)
    from .counting import recount

    for t in takes:
        recount(crm, t.product_id, t.location)


def create_demo_history(crm, rng, product_ids):
    """A few catalogue changes (a price rise, a new version, a spec change)
    so `crm products history SKU` has something to show."""
    for sku in sorted(product_ids)[:3]:
        row = crm.store.query("SELECT id, price, version, weight FROM products WHERE sku = ?", (sku,))[0]
        major = int((row["version"] or "1.0").split(".")[0]) + 1
        crm.update("products", row["id"], {"price": round(row["price"] * 1.08, 2), "version": f"{major}.0"})
        if row["weight"]:
            crm.update("products", row["id"], {"weight": round(row["weight"] * 0.9, 2)})
