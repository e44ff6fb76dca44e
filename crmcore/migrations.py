"""Applying schema steps, and what the database records about its plugins.

Each plugin (the core too) registers ordered, named steps; ``migrate``
applies those not yet recorded in ``_crm_migrations`` and records them, all
in one transaction. ``link_contacts`` records, in the database, which
columns of a plugin's tables hold contact ids, so the core can delete or
move those rows on erase, merge and delete even when the plugin is
disabled, not loaded or uninstalled.
"""

from . import normalize, schema
from .errors import CRMError, PluginError, StoreError
from .plugins import CORE

#: What happens to a plugin's rows of a contact that is erased or deleted.
ON_DELETE = ("delete", "unlink")


def ensure_internal_tables(store):
    store.execute(
        "CREATE TABLE IF NOT EXISTS _crm_migrations (plugin TEXT NOT NULL, name TEXT NOT NULL, "
        "applied_at TEXT NOT NULL, PRIMARY KEY (plugin, name))"
    )
    store.execute(
        "CREATE TABLE IF NOT EXISTS _crm_plugins (name TEXT PRIMARY KEY, enabled INTEGER NOT NULL, changed_at TEXT)"
    )
    store.execute(
        "CREATE TABLE IF NOT EXISTS _crm_contact_links (table_name TEXT NOT NULL, column_name TEXT NOT NULL, "
        "plugin TEXT NOT NULL, on_delete TEXT NOT NULL, PRIMARY KEY (table_name, column_name))"
    )


def link_contacts(store, table, column, on_delete="delete", plugin=None):
    """Record that ``table.column`` holds contact ids (call it in a migration).

    When a contact is erased or deleted the core then deletes those rows
    (``on_delete="delete"``, with rows of other tables that reference them
    by foreign key) or empties the column (``"unlink"``); when two contacts
    are merged it moves them to the kept contact. This holds whether or not
    the plugin is enabled, loaded or still installed."""
    if on_delete not in ON_DELETE:
        raise ValueError(f"on_delete must be one of {', '.join(ON_DELETE)}, not {on_delete!r}")
    from .store import quote_name

    quote_name(table), quote_name(column)  # refuse anything but plain identifiers
    ensure_internal_tables(store)
    store.execute(
        "INSERT INTO _crm_contact_links (table_name, column_name, plugin, on_delete) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (table_name, column_name) DO UPDATE SET on_delete = excluded.on_delete",
        (table, column, plugin or "", on_delete),
    )


def contact_links(store):
    """``[(table, column, on_delete, plugin)]`` of every plugin table holding contact ids."""
    if not store.table_exists("_crm_contact_links"):
        return []
    rows = store.query("SELECT table_name, column_name, on_delete, plugin FROM _crm_contact_links ORDER BY table_name, column_name")
    return [(r["table_name"], r["column_name"], r["on_delete"], r["plugin"]) for r in rows if store.table_exists(r["table_name"])]


def pending(store, registry):
    ensure_internal_tables(store)
    done = {(r["plugin"], r["name"]) for r in store.query("SELECT plugin, name FROM _crm_migrations")}
    return [m for m in registry.migrations if (m.plugin, m.name) not in done]


def unknown_steps(store, registry, installed):
    """Steps recorded in the database that this version does not know, of the
    core or of a plugin that is loaded: the database was made by a newer version."""
    if not store.table_exists("_crm_migrations"):
        return []
    known = {(m.plugin, m.name) for m in registry.migrations}
    mine = {CORE, *installed}
    return [f"{r['plugin']}.{r['name']}" for r in store.query("SELECT plugin, name FROM _crm_migrations ORDER BY plugin, name")
            if r["plugin"] in mine and (r["plugin"], r["name"]) not in known]


def newer_version_refusal(store, registry, installed=None):
    """The one-line reason to refuse writes when the database was written by a
    newer version (``unknown_steps``), else ``None``. ``installed``: the
    plugins loaded (default: those with migrations in ``registry``)."""
    if installed is None:
        installed = {m.plugin for m in registry.migrations}
    unknown = unknown_steps(store, registry, installed)
    if not unknown:
        return None
    return (f"this database was written by a newer version: migration step{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)} {'are' if len(unknown) > 1 else 'is'} unknown here; upgrade crmcore and its plugins "
            "(pip install -U ...) before writing to it (reading works)")


def migrate(store, registry):
    """Apply pending steps of the core and enabled plugins; return their names.

    All of them and their records commit together (DDL is transactional on
    both stores), so a crash or a failing step leaves exactly the schema the
    database had before. After a plugin's steps, the contact-id columns of
    its record types are recorded with ``link_contacts``."""
    applied, touched = [], []
    refusal = newer_version_refusal(store, registry)
    if refusal:
        raise CRMError(refusal)
    with store.transaction():
        for step in pending(store, registry):
            try:
                with store.transaction():
                    step.apply(store)
                    if store.table_exists("_crm_contact_links"):  # links the step made are its plugin's
                        store.execute("UPDATE _crm_contact_links SET plugin = ? WHERE plugin = ''", (step.plugin,))
                    store.execute("INSERT INTO _crm_migrations (plugin, name, applied_at) VALUES (?, ?, ?)",
                                  (step.plugin, step.name, normalize.now()))
            except (StoreError, CRMError):
                raise
            except Exception as exc:
                raise PluginError(step.plugin, f"migration {step.name}", exc) from exc
            applied.append(f"{step.plugin}.{step.name}")
            touched.append(step.plugin)
        for table, cls in registry.record_types.items():
            plugin = registry.record_plugins.get(table)
            if plugin == CORE or plugin not in touched:
                continue
            for f in schema.fields(cls):
                if f.metadata.get("references") == "contacts" and store.table_exists(table):
                    link_contacts(store, table, f.name, f.metadata.get("on_contact_delete") or "delete", plugin)
    return applied


def drift(store, registry):
    """One line per table whose record class has fields without a column,
    naming the plugin that needs a migration for them."""
    problems = []
    for table, cls in sorted(registry.record_types.items()):
        if not store.table_exists(table):
            continue
        missing = schema.drift(cls, store.columns(table))
        if missing:
            plugin = registry.record_plugins.get(table, "?")
            problems.append(f"table {table}: field(s) {', '.join(missing)} of {cls.__name__} have no column; "
                            f"plugin {plugin!r} is missing a migration that adds them")
    return problems
