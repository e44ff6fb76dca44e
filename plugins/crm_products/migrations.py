"""Schema steps of the products plugin, applied once per database in order."""

from .records import Product, ReorderPoint, StockMovement


def m001_products_tables(store):
    for cls in (Product, StockMovement, ReorderPoint):
        store.ensure_table(cls)
    store.create_index("reorder_points", ["product_id", "location"], "ux_reorder_points_product_location", unique=True)
    # Stock levels and recent sales per location are range scans of this index.
    store.create_index("stock_movements", ["product_id", "location", "at"], "ix_stock_movements_product_location_at")


def m002_order_lines_by_order(store):
    """Bought-together looks up the other SKUs of each order, and sales per
    month sum each order's lines: this index answers both without touching
    the table (and in order_id order, so without a sort)."""
    store.create_index("order_lines", ["order_id", "sku", "quantity", "unit_price"], "ix_order_lines_order_sku")


def m003_sales_summaries(store):
    """Whole-history sales reports sum these instead of every order line
    (see summary.py); the first report fills them."""
    from .summary import create_tables

    create_tables(store)


def m004_supply(store):
    """Just-in-time supply: channel locations, stocktakes, suppliers and
    purchase orders (see supply_records.py)."""
    from .supply_records import SUPPLY_RECORD_TYPES

    for cls in SUPPLY_RECORD_TYPES:
        store.ensure_table(cls)
    store.create_index("supplier_products", ["product_id", "supplier_id"], "ux_supplier_products_product_supplier", unique=True)
    store.create_index("stocktakes", ["product_id", "location", "at"], "ix_stocktakes_product_location_at")
    # Demand per SKU and location reads the sales of a window of days.
    store.create_index("stock_movements", ["kind", "at"], "ix_stock_movements_kind_at")


MIGRATIONS = [m001_products_tables, m002_order_lines_by_order, m003_sales_summaries, m004_supply]
