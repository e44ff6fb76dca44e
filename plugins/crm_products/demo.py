"""Demo catalogue for ``crm demo``: the core's DEMO_CATALOGUE with specs,
stock receipts, reorder points and the sales of the demo orders booked.

The core writes the demo orders before this runs, so their lines moved no
stock yet (unknown SKUs); the opening receipts are dated before the first
order and the sales are then booked from the order lines."""

import datetime as dt

from crmcore import DEMO_CATALOGUE, normalize

from .records import Product, ReorderPoint, StockMovement
from .stock import sale_location, sync_all_sales


def create_demo_catalogue(crm, rng):
    """Add the catalogue (skipping SKUs that exist), stock and reorder points."""
    existing = {r["sku"] for r in crm.store.query("SELECT sku FROM products")}
    products = []
    for sku, name, category, price, cost, weight in DEMO_CATALOGUE:
        if sku in existing:
            continue
        products.append(Product(
            sku=sku, name=name, category=category, description=f"{name} from the demo shop's {category.lower()} range.",
            version=f"{rng.randint(1, 3)}.{rng.randint(0, 9)}", lifecycle="active", weight=weight, weight_unit="kg",
            length=round(rng.uniform(5, 120), 1), width=round(rng.uniform(5, 60), 1), height=round(rng.uniform(2, 40), 1),
            produced_at=dt.date.today() - dt.timedelta(days=rng.randint(30, 900)), price=price, cost=cost, currency="EUR",
            custom={"supplier": rng.choice(["Nordwerk", "Hansen & Co", "Lumen Trading", "Atelier Sud"])}))
    if "OUT-006" not in existing:  # not on sale yet: no stock, no sales
        products.append(Product(sku="OUT-006", name="Folding camp chair", category="Outdoor", price=39.0, cost=17.5,
                                lifecycle="planned", active=False, weight=2.2))
    if not products:
        return
    with crm.store.transaction():
        ids = dict(zip((p.sku for p in products), crm.add_many(products)))
        first = crm.store.query_value("SELECT min(ordered_at) FROM orders") or dt.date.today().isoformat()
        opening = (dt.date.fromisoformat(first) - dt.timedelta(days=1)).isoformat() + "T08:00:00"
        from .demo_supply import (create_demo_history, create_demo_stocktakes, create_demo_supply, map_demo_channels,
                                  sold_per_location)

        map_demo_channels(crm)  # the store sells from its own shelves
        per_location = sold_per_location(crm)
        last = crm.store.query_value("SELECT max(ordered_at) FROM orders")
        last = dt.date.fromisoformat(last) if last else dt.date.today()
        on_sale = {s: i for s, i in ids.items() if s != "OUT-006"}
        received = create_demo_supply(crm, rng, on_sale, last)  # a year of purchase orders into main
        sold = {r["sku"]: r["units"] for r in crm.store.query("SELECT sku, sum(quantity) AS units FROM order_lines GROUP BY sku")}
        location, stamp = sale_location(crm), normalize.now()
        moves, points = [], []
        for sku, pid in ids.items():
            if sku == "OUT-006":
                continue
            point = max(5, round(sold.get(sku, 0) / 36))  # about a month of sales
            # most products end comfortably stocked, a few at or under their reorder point
            piled = rng.random() < 0.25  # stock piled up in the store while the warehouse runs low
            left = rng.randint(0, point) if piled or rng.random() < 0.2 else rng.randint(point + 1, point * 4)
            moves.append(StockMovement(product_id=pid, location=location, kind="receipt",
                                       quantity=max(1, per_location.get((sku, location), 0) + left + 20 - received.get(pid, 0)),
                                       at=opening, reason="opening stock", ref="DN-0001", user="demo", recorded_at=stamp))
            moves.append(StockMovement(product_id=pid, location=location, kind="adjustment", quantity=-20, at=opening,
                                       reason="stock count", user="demo", recorded_at=stamp))
            points.append(ReorderPoint(product_id=pid, location=location, reorder_point=point, reorder_quantity=point * 2))
            # the store's shelves: some piled high, some nearly empty
            store_sold = per_location.get((sku, "store"), 0)
            moves.append(StockMovement(product_id=pid, location="store", kind="receipt",
                                       quantity=store_sold + (rng.randint(120, 200) if piled else rng.randint(0, 6)),
                                       at=opening, reason="shop-floor stock", ref="DN-0002", user="demo", recorded_at=stamp))
        crm.add_many(moves)
        crm.add_many(points)
        sync_all_sales(crm)
        create_demo_stocktakes(crm, rng, on_sale, last)
        create_demo_history(crm, rng, on_sale)
