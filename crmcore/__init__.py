"""crmcore: a small, plugin-based CRM on SQLite.

The public API for plugin authors: ``hookimpl`` to implement hooks,
``record`` and ``column`` to describe record types, ``CRM`` to open a
database. Heavy modules are imported lazily (``crm --help`` stays fast).
"""

from .hookspecs import API_VERSION, hookimpl, hookspec

__all__ = ["API_VERSION", "CRM", "CRMError", "column", "hookimpl", "hookspec", "record"]


def __getattr__(name):
    if name in ("CRM", "CRMError"):
        from . import app

        return getattr(app, name)
    if name in ("record", "column"):
        from . import schema

        return getattr(schema, name)
    raise AttributeError(name)
