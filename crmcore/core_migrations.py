"""The core's schema steps, applied once per database in order and recorded.

Each step describes the tables it creates as data (``TableSpec``), frozen
here, so it means the same on a database made today and one made in a year;
a change to a record class in entities.py needs a new step.
"""

from .migrations import link_contacts
from .schema import TableSpec

M001_TABLES = (
    TableSpec(
        table='companies',
        columns=(
            ('id', 'INTEGER'), ('name', 'TEXT'), ('domain', 'TEXT'), ('industry', 'TEXT'), ('size', 'TEXT'),
            ('street', 'TEXT'), ('city', 'TEXT'), ('region', 'TEXT'), ('postal_code', 'TEXT'), ('country', 'TEXT'),
            ('owner', 'TEXT'), ('created_at', 'TEXT'), ('updated_at', 'TEXT'),
        ),
        unique=('domain',),
        index=('name',),
        fts=('name',),
    ),
    TableSpec(
        table='contacts',
        columns=(
            ('id', 'INTEGER'), ('first_name', 'TEXT'), ('last_name', 'TEXT'), ('email', 'TEXT'), ('phone', 'TEXT'),
            ('company', 'TEXT'), ('company_id', 'INTEGER'), ('job_title', 'TEXT'), ('street', 'TEXT'),
            ('city', 'TEXT'), ('region', 'TEXT'), ('postal_code', 'TEXT'), ('country', 'TEXT'),
            ('birth_date', 'TEXT'), ('gender', 'TEXT'), ('source', 'TEXT'), ('owner', 'TEXT'), ('tags', 'TEXT'),
            ('consent', 'INTEGER'), ('consent_at', 'TEXT'), ('consent_source', 'TEXT'), ('notes', 'TEXT'),
            ('custom', 'TEXT'), ('created_at', 'TEXT'), ('updated_at', 'TEXT'),
        ),
        references=(('company_id', 'companies'),),
        unique=('email',),
        index=('company_id', 'postal_code', 'country', 'owner'),
        fts=('first_name', 'last_name', 'email', 'company', 'city', 'tags', 'notes'),
    ),
    TableSpec(
        table='deals',
        columns=(
            ('id', 'INTEGER'), ('title', 'TEXT'), ('contact_id', 'INTEGER'), ('company_id', 'INTEGER'),
            ('amount', 'REAL'), ('currency', 'TEXT'), ('stage', 'TEXT'), ('probability', 'REAL'),
            ('expected_close', 'TEXT'), ('owner', 'TEXT'), ('status', 'TEXT'), ('closed_at', 'TEXT'),
            ('created_at', 'TEXT'), ('updated_at', 'TEXT'),
        ),
        references=(('contact_id', 'contacts'), ('company_id', 'companies')),
        index=('contact_id', 'company_id', 'stage', 'status'),
        fts=('title',),
    ),
    TableSpec(
        table='activities',
        columns=(
            ('id', 'INTEGER'), ('contact_id', 'INTEGER'), ('deal_id', 'INTEGER'), ('kind', 'TEXT'),
            ('channel', 'TEXT'), ('subject', 'TEXT'), ('body', 'TEXT'), ('owner', 'TEXT'), ('due_at', 'TEXT'),
            ('done_at', 'TEXT'), ('created_at', 'TEXT'), ('updated_at', 'TEXT'),
        ),
        references=(('contact_id', 'contacts'), ('deal_id', 'deals')),
        index=('contact_id', 'deal_id', 'kind'),
        fts=('subject', 'body'),
    ),
    TableSpec(
        table='orders',
        columns=(
            ('id', 'INTEGER'), ('ref', 'TEXT'), ('contact_id', 'INTEGER'), ('ordered_at', 'TEXT'),
            ('channel', 'TEXT'), ('currency', 'TEXT'), ('total', 'REAL'), ('created_at', 'TEXT'),
            ('updated_at', 'TEXT'),
        ),
        references=(('contact_id', 'contacts'),),
        unique=('ref',),
        index=('contact_id', 'ordered_at'),
    ),
    TableSpec(
        table='order_lines',
        columns=(
            ('id', 'INTEGER'), ('order_id', 'INTEGER'), ('sku', 'TEXT'), ('description', 'TEXT'),
            ('quantity', 'REAL'), ('unit_price', 'REAL'),
        ),
        references=(('order_id', 'orders'),),
        index=('order_id', 'sku'),
    ),
)


def m001_core_tables(store):
    for spec in M001_TABLES:
        store.ensure_table(spec)
    store.create_index("orders", ["contact_id", "ordered_at"], "ix_orders_contact_date")
    store.create_index("order_lines", ["sku", "order_id"], "ix_order_lines_sku_order")
    store.execute("CREATE TABLE IF NOT EXISTS _crm_settings (key TEXT PRIMARY KEY, value TEXT)")
    store.execute(
        f'CREATE TABLE IF NOT EXISTS _crm_audit (id {store.dialect.auto_id}, at TEXT NOT NULL, "user" TEXT, action TEXT NOT NULL, '
        "table_name TEXT NOT NULL, record_id INTEGER, changes TEXT)"
    )
    store.execute("CREATE INDEX IF NOT EXISTS ix_audit_record ON _crm_audit (table_name, record_id)")
    store.execute("CREATE TABLE IF NOT EXISTS suppressions (email_hash TEXT PRIMARY KEY, reason TEXT, at TEXT)")



def m002_users_sessions(store):
    """Users, their sessions, login attempts and public-link tokens (core tables)."""
    auto = store.dialect.auto_id
    store.execute(
        f"CREATE TABLE IF NOT EXISTS _crm_users (id {auto}, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL DEFAULT '', "
        "role TEXT NOT NULL, territories TEXT NOT NULL DEFAULT '[]', password_hash TEXT, active INTEGER NOT NULL DEFAULT 1, "
        "created_at TEXT NOT NULL, last_login_at TEXT)"
    )
    store.execute(
        "CREATE TABLE IF NOT EXISTS _crm_sessions (token_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL, csrf_token TEXT NOT NULL, "
        "created_at TEXT NOT NULL, seen_at TEXT NOT NULL)"
    )
    store.execute("CREATE INDEX IF NOT EXISTS ix_sessions_user ON _crm_sessions (user_id)")
    store.execute(
        f"CREATE TABLE IF NOT EXISTS _crm_login_attempts (id {auto}, at TEXT NOT NULL, email TEXT NOT NULL, ip TEXT NOT NULL, ok INTEGER NOT NULL)"
    )
    store.execute("CREATE INDEX IF NOT EXISTS ix_login_attempts_email ON _crm_login_attempts (email, at)")
    store.execute("CREATE INDEX IF NOT EXISTS ix_login_attempts_ip ON _crm_login_attempts (ip, at)")
    store.execute(
        "CREATE TABLE IF NOT EXISTS _crm_link_tokens (token_hash TEXT PRIMARY KEY, contact_id INTEGER NOT NULL, "
        "purpose TEXT NOT NULL, created_at TEXT NOT NULL, used_at TEXT)"
    )
    store.execute("CREATE INDEX IF NOT EXISTS ix_link_tokens_contact ON _crm_link_tokens (contact_id)")
    link_contacts(store, "_crm_link_tokens", "contact_id", "delete")  # a contact's unsubscribe link goes with them


def m003_api_tokens(store):
    """Bearer tokens of the JSON API (``crm tokens create``): only their SHA-256 is kept."""
    store.execute(
        f"CREATE TABLE IF NOT EXISTS _crm_api_tokens (id {store.dialect.auto_id}, token_hash TEXT NOT NULL UNIQUE, "
        "user_id INTEGER NOT NULL, name TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, last_used_at TEXT)"
    )


MIGRATIONS = [m001_core_tables, m002_users_sessions, m003_api_tokens]
