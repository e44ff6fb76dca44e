"""Schema steps of the products plugin, applied once per database in order."""

from crmcore import schema

from .records import Product, ReorderPoint, StockMovement


def m001_products_tables(store):
    db = store.db
    for cls in (Product, StockMovement, ReorderPoint):
        schema.ensure_table(db, cls)
    db["reorder_points"].create_index(["product_id", "location"], unique=True, if_not_exists=True,
                                      index_name="ux_reorder_points_product_location")
    # Stock levels and recent sales per location are range scans of this index.
    db["stock_movements"].create_index(["product_id", "location", "at"], if_not_exists=True,
                                       index_name="ix_stock_movements_product_location_at")


def m002_order_lines_by_order(store):
    """Bought-together looks up the other SKUs of each order, and sales per
    month sum each order's lines: this index answers both without touching
    the table (and in order_id order, so without a sort)."""
    store.db["order_lines"].create_index(["order_id", "sku", "quantity", "unit_price"], if_not_exists=True,
                                         index_name="ix_order_lines_order_sku")


MIGRATIONS = [m001_products_tables, m002_order_lines_by_order]
