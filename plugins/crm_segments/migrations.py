"""Schema steps of the segments plugin, applied once per database in order."""

from crmcore import TableSpec, link_contacts

# The tables as this migration creates them, frozen as data: a later change
# to the record classes needs a migration of its own (crm doctor names it).
M001_TABLES = (
    TableSpec(
        table='segments',
        columns=(
            ('id', 'INTEGER'), ('name', 'TEXT'), ('kind', 'TEXT'), ('rule', 'TEXT'), ('description', 'TEXT'),
            ('refreshed_at', 'TEXT'), ('created_at', 'TEXT'), ('updated_at', 'TEXT'),
        ),
        unique=('name',),
    ),
    TableSpec(
        table='territories',
        columns=(
            ('id', 'INTEGER'), ('name', 'TEXT'), ('owner', 'TEXT'), ('countries', 'TEXT'), ('regions', 'TEXT'),
            ('postal_prefixes', 'TEXT'), ('created_at', 'TEXT'), ('updated_at', 'TEXT'),
        ),
        unique=('name',),
    ),
    TableSpec(
        table='segment_targets',
        columns=(
            ('id', 'INTEGER'), ('scope', 'TEXT'), ('name', 'TEXT'), ('period', 'TEXT'), ('revenue', 'REAL'),
            ('units', 'REAL'), ('created_at', 'TEXT'), ('updated_at', 'TEXT'),
        ),
    ),
)


def m001_segment_tables(store):
    for spec in M001_TABLES:
        store.ensure_table(spec)
    # Current membership: the static list, or the last refresh of a dynamic segment.
    store.execute(
        "CREATE TABLE IF NOT EXISTS segment_members (segment_id INTEGER NOT NULL REFERENCES segments(id), "
        f"contact_id INTEGER NOT NULL, since TEXT NOT NULL, PRIMARY KEY (segment_id, contact_id)){store.dialect.without_rowid}"
    )
    store.execute("CREATE INDEX IF NOT EXISTS ix_segment_members_contact ON segment_members (contact_id)")
    # One row per refresh (or static change): size over time.
    store.execute(
        f"CREATE TABLE IF NOT EXISTS segment_refreshes (id {store.dialect.auto_id}, segment_id INTEGER NOT NULL REFERENCES segments(id), "
        'at TEXT NOT NULL, size INTEGER NOT NULL, entered INTEGER NOT NULL, "left" INTEGER NOT NULL)'
    )
    store.execute("CREATE INDEX IF NOT EXISTS ix_segment_refreshes_segment ON segment_refreshes (segment_id, id)")
    # Who entered or left, and when.
    store.execute(
        f"CREATE TABLE IF NOT EXISTS segment_history (id {store.dialect.auto_id}, segment_id INTEGER NOT NULL REFERENCES segments(id), "
        "refresh_id INTEGER NOT NULL, contact_id INTEGER NOT NULL, change TEXT NOT NULL CHECK (change IN ('entered', 'left')), at TEXT NOT NULL)"
    )
    store.execute("CREATE INDEX IF NOT EXISTS ix_segment_history_segment ON segment_history (segment_id, refresh_id)")
    store.execute("CREATE INDEX IF NOT EXISTS ix_segment_history_contact ON segment_history (contact_id)")
    # RFM scores of every customer with orders, recomputed as a whole.
    store.execute(
        "CREATE TABLE IF NOT EXISTS segment_rfm (contact_id INTEGER PRIMARY KEY, as_of TEXT NOT NULL, last_order TEXT, "
        f"recency_days INTEGER, frequency INTEGER, monetary {store.dialect.real}, r INTEGER, f INTEGER, m INTEGER, score TEXT, segment TEXT)"
    )


def m002_purchase_indexes(store):
    """Covering index for RFM and purchase fields: one index scan, no table lookups."""
    store.execute("CREATE INDEX IF NOT EXISTS ix_segments_orders_rfm ON orders (contact_id, ordered_at, total)")
    store.execute("CREATE INDEX IF NOT EXISTS ix_segments_deals_contact_status ON deals (contact_id, status)")


def m003_lifetime_value(store):
    """Lifetime-value scores of every customer (`crm segments clv`), recomputed as a whole."""
    real = store.dialect.real
    store.execute(
        "CREATE TABLE IF NOT EXISTS segment_clv (contact_id INTEGER PRIMARY KEY, as_of TEXT NOT NULL, frequency INTEGER, "
        f"recency_days INTEGER, age_days INTEGER, p_alive {real}, expected_purchases {real}, expected_order_value {real}, clv {real})"
    )



def m004_contact_links(store):
    """Membership, history, RFM and lifetime-value scores hold contact ids: the core deletes
    them when a contact is erased or deleted, and moves them on a merge,
    whether or not this plugin is enabled then."""
    for table in ("segment_members", "segment_history", "segment_rfm", "segment_clv"):
        link_contacts(store, table, "contact_id", "delete")


def m005_covering_index_with_rates(store):
    """RFM, lifetime value and the purchase fields sum ``total * fx_rate`` (each
    order in the base currency, core migration m008): the covering index
    carries the factor too, so they still read no table row."""
    if "fx_rate" not in store.columns("orders"):  # whichever of the two steps runs first adds it
        store.execute(f"ALTER TABLE orders ADD COLUMN fx_rate {store.dialect.real}")
    store.execute("DROP INDEX IF EXISTS ix_segments_orders_rfm")
    store.execute("CREATE INDEX ix_segments_orders_rfm ON orders (contact_id, ordered_at, total, fx_rate)")


MIGRATIONS = [m001_segment_tables, m002_purchase_indexes, m003_lifetime_value, m004_contact_links, m005_covering_index_with_rates]
