"""The storage seam: the CRM talks to a store, never to a driver directly.

``open_store(location)`` picks the implementation from the location; SQLite
(one file) is the embedded default. Every method takes SQL with ``?``
placeholders and bound values; table and column names go through
``quote_name``, which accepts only plain identifiers.
"""

from .sqlite import SQLiteStore, StoreError, quote_name

__all__ = ["SQLiteStore", "StoreError", "open_store", "quote_name"]


def open_store(location):
    """Open the store at ``location`` (a SQLite file path)."""
    if "://" in str(location) and not str(location).startswith("file:"):
        raise StoreError(f"unsupported database location {location!r}: only SQLite files are supported in this version")
    return SQLiteStore(location)
