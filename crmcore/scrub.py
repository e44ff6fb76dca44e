"""After an erasure: leave no trace of the person's values in the store's files.

SQLite: the store runs with ``secure_delete`` on, so deleted rows and freed
pages are overwritten with zeros; the full-text indexes keep deleted words in
their older segments until those are merged, so every FTS5 index is merged
into one segment (``optimize``), and the WAL, which still holds copies of the
old pages, is checkpointed and truncated. A backup taken afterwards copies
only zeroed pages.

PostgreSQL: a deleted row stays in its table file as a dead tuple until
VACUUM, and in the write-ahead log until the WAL segment is recycled (after
the next checkpoints; ``max_wal_size``) and in WAL archives and base backups
for as long as they are kept. After an erasure the touched tables are
vacuumed; docs/postgres.md says what remains and for how long.
"""

from .store import quote_name


def fts_tables(store):
    """The FTS5 index tables of a SQLite database."""
    return [r["name"] for r in store.query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%' AND lower(sql) LIKE '%using fts5%'")]


def scrub(store, tables=()):
    """Run after the erasure has committed (outside any transaction).

    ``tables``: the tables rows were deleted from or changed in (PostgreSQL
    vacuums these). Returns a note when something could not be done now."""
    if store.in_transaction:
        raise RuntimeError("scrub() runs after the erasure's transaction has committed")
    if store.kind == "sqlite":
        with store.transaction():
            for name in fts_tables(store):
                store.execute(f"INSERT INTO {quote_name(name)} ({quote_name(name)}) VALUES ('optimize')")
        busy, _log, _done = store.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            return ("another process is reading the database, so the write-ahead log still holds old pages "
                    "until it finishes; the next write checkpoints it")
        return None
    for table in dict.fromkeys(tables):
        if store.table_exists(table):
            store.execute(f"VACUUM {quote_name(table)}")
    return None
