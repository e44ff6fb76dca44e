"""Where the database is: ``--db``, then ``CRM_DB``, then ``./crm.db``.

A module of its own so that ``crm --help`` can find the database (to hide
the commands of plugins disabled there) without importing the store."""

import os

DEFAULT_DB = "crm.db"


def resolve_location(location=None):
    """``--db``, then ``CRM_DB``, then ``./crm.db``."""
    return str(location or os.environ.get("CRM_DB") or DEFAULT_DB)
