"""The storage seam: the CRM talks to a store, never to a driver directly.

``open_store(location)`` picks the implementation from the location; SQLite
(one file) is the embedded default, a ``postgresql://`` URL opens PostgreSQL.
Where SQL differs between them, the store provides the piece: ``ensure_table``,
``create_index``, ``search``, ``integrity_problem`` and the fragments of
``store.dialect``. Every method takes SQL with ``?``
placeholders and bound values; table and column names go through
``quote_name``, which accepts only plain identifiers.
"""

import re

from .sqlite import SQLiteStore, StoreError, quote_name

__all__ = ["SQLiteStore", "StoreError", "open_store", "quote_name", "redact"]


def redact(location):
    """The location for messages: a URL's password replaced by ``***``."""
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", str(location))


def open_store(location):
    """Open the store at ``location`` (a SQLite file path or a PostgreSQL URL)."""
    if str(location).startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore(location)
    if "://" in str(location) and not str(location).startswith("file:"):
        raise StoreError(f"unsupported database location {location!r}: use a SQLite file path or a postgresql:// URL")
    return SQLiteStore(location)
