"""The core's schema steps, applied once per database in order and recorded.

Each step describes the tables it creates as data (``TableSpec``), frozen
here, so it means the same on a database made today and one made in a year;
a change to a record class in entities.py needs a new step.
"""

from .migrations import link_contacts
from .schema import TableSpec
from .store import quote_name

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


def m003_ids_never_reused(store):
    """Ids of records with history are never reused: SQLite hands the highest
    id of a table out again once that record is deleted, and the new record
    then showed the deleted one's history. Every table with an ``id INTEGER
    PRIMARY KEY`` becomes AUTOINCREMENT (the stored rows are the same; only
    the declaration changes), its counter starting above every id it had and
    every id its history names. PostgreSQL's identity columns never reuse an
    id already."""
    if store.kind != "sqlite":
        return
    import re

    declared = re.compile(r'((?:\[id\]|"id"|\bid)\s+INTEGER\s+PRIMARY\s+KEY)(?!\s+AUTOINCREMENT)', re.IGNORECASE)
    rows = store.query("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    virtual = [r["name"] for r in rows if (r["sql"] or "").upper().startswith("CREATE VIRTUAL")]
    # Full-text indexes' shadow tables (contacts_fts_data, ...) belong to SQLite's FTS5: left as they are.
    tables = [(r["name"], declared.sub(r"\1 AUTOINCREMENT", r["sql"], count=1)) for r in rows
              if r["name"] not in virtual and not any(r["name"].startswith(v + "_") for v in virtual) and declared.search(r["sql"] or "")]
    if not tables:
        return
    store.execute("CREATE TABLE IF NOT EXISTS _crm_sequence_probe (id INTEGER PRIMARY KEY AUTOINCREMENT)")  # makes sqlite_sequence
    store.execute("DROP TABLE _crm_sequence_probe")
    version = store.query_value("PRAGMA schema_version")
    store.execute("PRAGMA writable_schema = ON")
    try:
        for name, sql in tables:
            store.execute("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (sql, name))
        store.execute(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        store.execute("PRAGMA writable_schema = OFF")
    audit = store.table_exists("_crm_audit")
    for name, _sql in tables:
        q = quote_name(name)
        highest = store.query_value(f"SELECT max(id) FROM {q}") or 0
        if audit:
            highest = max(highest, store.query_value("SELECT max(record_id) FROM _crm_audit WHERE table_name = ?", (name,)) or 0)
        store.execute("DELETE FROM sqlite_sequence WHERE name = ?", (name,))
        store.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (name, highest))


def m004_privacy_identity(store):
    """The id and secret salt under which the privacy log records erasures
    and unsubscribes (crmcore/privacy_log.py), made now so that every backup
    taken from here on carries them and the log matches restored data."""
    import json
    import secrets

    for key, value in (("privacy.crm_id", secrets.token_hex(16)), ("privacy.salt", secrets.token_hex(32))):
        store.execute("INSERT INTO _crm_settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING", (key, json.dumps(value)))


def m005_jobs(store):
    """When each job of ``crm run-due`` last ran, and how it went (crmcore/jobs.py)."""
    store.execute(
        "CREATE TABLE IF NOT EXISTS _crm_jobs (name TEXT PRIMARY KEY, plugin TEXT NOT NULL, started_at TEXT, "
        "finished_at TEXT, result TEXT, message TEXT, runs INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0)"
    )


def m006_api_tokens(store):
    """Bearer tokens of the JSON API (``crm tokens create``): only their SHA-256 is kept."""
    store.execute(
        f"CREATE TABLE IF NOT EXISTS _crm_api_tokens (id {store.dialect.auto_id}, token_hash TEXT NOT NULL UNIQUE, "
        "user_id INTEGER NOT NULL, name TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, last_used_at TEXT)"
    )



def m007_canonical_emails(store):
    """Addresses stored with a punycode domain (``user@xn--bcher-kva.de``) take
    the canonical form (``user@bücher.de``), so a lookup, a re-import and the
    suppression list agree on one spelling. An address whose canonical form a
    second contact already has is left as it is (merge the two by hand)."""
    from . import normalize

    rows = store.query("SELECT id, email FROM contacts WHERE email LIKE ?", ("%xn--%",))
    taken = set()
    for row in rows:
        try:
            canonical = normalize.email(row["email"])
        except ValueError:
            continue
        if canonical == row["email"] or canonical in taken:
            continue
        if store.query_value("SELECT 1 FROM contacts WHERE email = ?", (canonical,)) is None:
            store.execute("UPDATE contacts SET email = ? WHERE id = ?", (canonical, row["id"]))
            taken.add(canonical)


def m008_exchange_rates(store):
    """Money in more than one currency (crmcore/currency.py): exchange rates
    (``1 base = rate currency`` on a day, as the ECB publishes them) and each
    order's and deal's factor to the base currency, ``fx_rate`` (NULL until a
    rate is known). Those already in the base currency (the setting, else
    EUR) get 1; the others wait for ``crm rates load``. A partial index finds
    the orders without a factor at once."""
    import json

    store.execute(
        f"CREATE TABLE IF NOT EXISTS exchange_rates (base TEXT NOT NULL, currency TEXT NOT NULL, day TEXT NOT NULL, "
        f"rate {store.dialect.real} NOT NULL, source TEXT, loaded_at TEXT, PRIMARY KEY (base, currency, day)){store.dialect.without_rowid}"
    )
    for table in ("orders", "deals"):
        if "fx_rate" not in store.columns(table):
            store.execute(f"ALTER TABLE {table} ADD COLUMN fx_rate {store.dialect.real}")
    # Covering (fx_rate too): SQLite then answers "any order without a factor?" from it, not from a scan of the orders.
    store.execute("CREATE INDEX IF NOT EXISTS ix_orders_without_fx ON orders (currency, ordered_at, fx_rate) WHERE fx_rate IS NULL")
    setting = store.query_value("SELECT value FROM _crm_settings WHERE key = 'base_currency'")
    for table in ("orders", "deals"):
        store.execute(f"UPDATE {table} SET fx_rate = 1 WHERE currency = ?", (json.loads(setting) if setting else "EUR",))


MIGRATIONS = [m001_core_tables, m002_users_sessions, m003_ids_never_reused, m004_privacy_identity, m005_jobs, m006_api_tokens,
              m007_canonical_emails, m008_exchange_rates]
