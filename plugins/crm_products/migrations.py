"""Schema steps of the products plugin, applied once per database in order."""

from crmcore import TableSpec, link_contacts

# The tables as this migration creates them, frozen as data: a later change
# to the record classes needs a migration of its own (crm doctor names it).
M001_TABLES = (
    TableSpec(
        table='products',
        columns=(
            ('id', 'INTEGER'), ('sku', 'TEXT'), ('name', 'TEXT'), ('category', 'TEXT'), ('description', 'TEXT'),
            ('version', 'TEXT'), ('lifecycle', 'TEXT'), ('weight', 'REAL'), ('weight_unit', 'TEXT'),
            ('length', 'REAL'), ('width', 'REAL'), ('height', 'REAL'), ('dimension_unit', 'TEXT'),
            ('produced_at', 'TEXT'), ('price', 'REAL'), ('cost', 'REAL'), ('currency', 'TEXT'),
            ('active', 'INTEGER'), ('custom', 'TEXT'), ('created_at', 'TEXT'), ('updated_at', 'TEXT'),
        ),
        unique=('sku',),
        index=('category',),
    ),
    TableSpec(
        table='stock_movements',
        columns=(
            ('id', 'INTEGER'), ('product_id', 'INTEGER'), ('location', 'TEXT'), ('kind', 'TEXT'),
            ('quantity', 'REAL'), ('at', 'TEXT'), ('reason', 'TEXT'), ('ref', 'TEXT'), ('order_line_id', 'INTEGER'),
            ('user', 'TEXT'), ('recorded_at', 'TEXT'),
        ),
        references=(('product_id', 'products'),),
        index=('product_id', 'order_line_id'),
    ),
    TableSpec(
        table='reorder_points',
        columns=(
            ('id', 'INTEGER'), ('product_id', 'INTEGER'), ('location', 'TEXT'), ('reorder_point', 'REAL'),
            ('reorder_quantity', 'REAL'),
        ),
        references=(('product_id', 'products'),),
        index=('product_id',),
    ),
)


def m001_products_tables(store):
    for spec in M001_TABLES:
        store.ensure_table(spec)
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


def m004_contact_links(store):
    """The sales summaries name customers: a buyer row goes with its contact,
    summed orders stay without one (as the core's orders do)."""
    link_contacts(store, "product_buyers", "contact_id", "delete")
    for table in ("product_sales_orders", "product_sales_categories"):
        link_contacts(store, table, "contact_id", "unlink")


MIGRATIONS = [m001_products_tables, m002_order_lines_by_order, m003_sales_summaries, m004_contact_links]
