"""Schema steps of the exports plugin, applied in order and recorded."""

from crmcore import TableSpec

# The tables as this migration creates them, frozen as data: a later change
# to the record classes needs a migration of its own (crm doctor names it).
M001_TABLES = (
    TableSpec(
        table='export_log',
        columns=(
            ('id', 'INTEGER'), ('format', 'TEXT'), ('segment', 'TEXT'), ('exported_at', 'TEXT'), ('user', 'TEXT'),
            ('path', 'TEXT'), ('row_count', 'INTEGER'), ('sha256', 'TEXT'), ('excluded', 'TEXT'),
            ('options', 'TEXT'),
        ),
        index=('format', 'exported_at'),
    ),
)


def m001_export_log(store):
    for spec in M001_TABLES:
        store.ensure_table(spec)
    # A contact erased (or deleted) after being exported: its old id and the
    # hash of its e-mail (the suppression list's key), never the address itself.
    # Its log rows point here, so a new contact reusing the id is not mixed up
    # with it and where-sent still answers for the erased address.
    store.execute(
        f"CREATE TABLE IF NOT EXISTS export_erasures (id {store.dialect.auto_id}, contact_id INTEGER NOT NULL, "
        "email_hash TEXT, at TEXT NOT NULL)"
    )
    store.execute("CREATE INDEX IF NOT EXISTS ix_export_erasures_hash ON export_erasures (email_hash)")
    # Which contacts each export held: ids only, one b-tree keyed for
    # "where was this contact sent?". A million-row export adds a million
    # rows here, so no other index.
    store.execute(
        "CREATE TABLE IF NOT EXISTS export_log_contacts ("
        "contact_id INTEGER NOT NULL, export_id INTEGER NOT NULL REFERENCES export_log(id), "
        f"erasure_id INTEGER REFERENCES export_erasures(id), PRIMARY KEY (contact_id, export_id)){store.dialect.without_rowid}"
    )


MIGRATIONS = [m001_export_log]
