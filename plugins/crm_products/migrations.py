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


M004_TABLES = (
    TableSpec(
        table='stock_channel_locations',
        columns=(
            ('id', 'INTEGER'), ('channel', 'TEXT'), ('location', 'TEXT'),
        ),
        unique=('channel',),
    ),
    TableSpec(
        table='stocktakes',
        columns=(
            ('id', 'INTEGER'), ('product_id', 'INTEGER'), ('location', 'TEXT'), ('at', 'TEXT'), ('quantity', 'REAL'),
            ('user', 'TEXT'), ('recorded_at', 'TEXT'),
        ),
        references=(('product_id', 'products'),),
        index=('product_id',),
    ),
    TableSpec(
        table='suppliers',
        columns=(
            ('id', 'INTEGER'), ('name', 'TEXT'), ('email', 'TEXT'), ('phone', 'TEXT'), ('currency', 'TEXT'),
            ('lead_time_days', 'REAL'), ('ordering_cost', 'REAL'), ('notes', 'TEXT'), ('created_at', 'TEXT'),
            ('updated_at', 'TEXT'),
        ),
        unique=('name',),
    ),
    TableSpec(
        table='supplier_products',
        columns=(
            ('id', 'INTEGER'), ('supplier_id', 'INTEGER'), ('product_id', 'INTEGER'), ('supplier_sku', 'TEXT'),
            ('cost', 'REAL'), ('pack_size', 'REAL'), ('min_order', 'REAL'), ('lead_time_days', 'REAL'),
            ('preferred', 'INTEGER'),
        ),
        references=(('supplier_id', 'suppliers'), ('product_id', 'products')),
        index=('supplier_id', 'product_id'),
    ),
    TableSpec(
        table='purchase_orders',
        columns=(
            ('id', 'INTEGER'), ('ref', 'TEXT'), ('supplier_id', 'INTEGER'), ('location', 'TEXT'), ('status', 'TEXT'),
            ('ordered_at', 'TEXT'), ('expected_at', 'TEXT'), ('received_at', 'TEXT'), ('lead_time_days', 'REAL'),
            ('currency', 'TEXT'), ('notes', 'TEXT'), ('created_at', 'TEXT'), ('updated_at', 'TEXT'),
        ),
        references=(('supplier_id', 'suppliers'),),
        unique=('ref',),
        index=('supplier_id', 'status'),
    ),
    TableSpec(
        table='purchase_order_lines',
        columns=(
            ('id', 'INTEGER'), ('purchase_order_id', 'INTEGER'), ('product_id', 'INTEGER'), ('quantity', 'REAL'),
            ('received', 'REAL'), ('unit_cost', 'REAL'),
        ),
        references=(('purchase_order_id', 'purchase_orders'), ('product_id', 'products')),
        index=('purchase_order_id', 'product_id'),
    ),
    TableSpec(
        table='cancelled_orders',
        columns=(
            ('id', 'INTEGER'), ('order_id', 'INTEGER'), ('at', 'TEXT'), ('user', 'TEXT'), ('reason', 'TEXT'),
        ),
        unique=('order_id',),
    ),
)


def m004_supply(store):
    """Just-in-time supply: channel locations, stocktakes, suppliers and
    purchase orders (see supply_records.py)."""
    for spec in M004_TABLES:
        store.ensure_table(spec)
    store.create_index("supplier_products", ["product_id", "supplier_id"], "ux_supplier_products_product_supplier", unique=True)
    store.create_index("stocktakes", ["product_id", "location", "at"], "ix_stocktakes_product_location_at")
    # Demand per SKU and location reads the sales of a window of days.
    store.create_index("stock_movements", ["kind", "at"], "ix_stock_movements_kind_at")



def m005_contact_links(store):
    """The sales summaries name customers: a buyer row goes with its contact,
    summed orders stay without one (as the core's orders do)."""
    link_contacts(store, "product_buyers", "contact_id", "delete")
    for table in ("product_sales_orders", "product_sales_categories"):
        link_contacts(store, table, "contact_id", "unlink")


def m006_cost_in_base_currency(store):
    """Each product's factor to the base currency at the latest rate
    (``fx_rate``, kept by analytics.costs_in_base), so margins and stock value
    add costs of products priced in different currencies."""
    import json

    if "fx_rate" not in store.columns("products"):
        store.execute(f"ALTER TABLE products ADD COLUMN fx_rate {store.dialect.real}")
    setting = store.query_value("SELECT value FROM _crm_settings WHERE key = 'base_currency'")
    store.execute("UPDATE products SET fx_rate = 1 WHERE currency = ?", (json.loads(setting) if setting else "EUR",))


MIGRATIONS = [m001_products_tables, m002_order_lines_by_order, m003_sales_summaries, m004_supply, m005_contact_links,
              m006_cost_in_base_currency]
