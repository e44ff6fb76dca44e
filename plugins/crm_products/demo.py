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
        sold = {r["sku"]: r["units"] for r in crm.store.query("SELECT sku, sum(quantity) AS units FROM order_lines GROUP BY sku")}
        location, stamp = sale_location(crm), normalize.now()
        moves, points = [], []
        for sku, pid in ids.items():
            if sku == "OUT-006":
                continue
            point = max(5, round(sold.get(sku, 0) / 36))  # about a month of sales
            # most products end comfortably stocked, a few at or under their reorder point
            left = rng.randint(0, point) if rng.random() < 0.25 else rng.randint(point + 1, point * 4)
            moves.append(StockMovement(product_id=pid, location=location, kind="receipt", quantity=sold.get(sku, 0) + left + 20,
                                       at=opening, reason="opening stock", ref="DN-0001", user="demo", recorded_at=stamp))
            moves.append(StockMovement(product_id=pid, location=location, kind="adjustment", quantity=-20, at=opening,
                                       reason="stock count", user="demo", recorded_at=stamp))
            points.append(ReorderPoint(product_id=pid, location=location, reorder_point=point, reorder_quantity=point * 2))
            if rng.random() < 0.4:
                moves.append(StockMovement(product_id=pid, location="store", kind="receipt", quantity=rng.randint(3, 12),
                                           at=opening, reason="shop-floor stock", ref="DN-0002", user="demo", recorded_at=stamp))
        crm.add_many(moves)
        crm.add_many(points)
        sync_all_sales(crm)
