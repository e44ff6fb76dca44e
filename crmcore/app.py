"""The CRM object: a store, the enabled plugins, and the Python API.

    crm = CRM("shop.db")                   # installed plugins, or plugins=[...]
    crm.migrate()
    cid = crm.add(Contact(first_name="Ada", email="ada@example.com"))

Every write runs in one transaction together with the event hooks it fires.
"""

import getpass
import json
import os
import warnings

from . import entities, errors, migrations, normalize, pipeline, privacy, schema
from .activation import LIFECYCLE_HOOKS, Activation
from .location import resolve_location
from .plugins import CORE
from .registry import build_registry
from .store import open_store, quote_name, redact

DEFAULT_STAGES = pipeline.DEFAULT_STAGES


def __getattr__(name):
    """Names that moved out of this module keep working, with a warning."""
    moved = {"email_hash": ("crmcore.suppression_key", privacy.suppression_key),
             "CRMError": ("crmcore.CRMError", errors.CRMError)}
    if name in moved:
        where, value = moved[name]
        warnings.warn(f"crmcore.app.{name} moved to {where}", DeprecationWarning, stacklevel=2)
        return value
    raise AttributeError(name)


def current_user():
    return os.environ.get("CRM_USER") or getpass.getuser()


class CRM:
    """One database, the plugins that run on it, and the Python API.

    ``CRM(location)`` opens (creating if needed) the database at ``location``
    (a SQLite path or ``postgresql://`` URL; default ``--db``/``CRM_DB``/
    ``./crm.db``). ``plugins``: ``None`` for every installed plugin
    (``CRM_LOAD_PLUGINS`` applies), or a list of modules / ``(name, module)``
    pairs. ``templates``: a user folder of templates that overrides all others.
    Every write runs in one transaction together with the hooks it fires."""

    def __init__(self, location=None, plugins=None, templates=None):
        self.location = resolve_location(location)
        self.templates = templates or os.environ.get("CRM_TEMPLATES") or None
        self.store = open_store(self.location)
        self._plugin_choice = plugins
        self.activation = Activation.for_store(self.store, plugins)
        self.user = current_user()
        self._registry = None

    def close(self):
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- plugins ------------------------------------------------------------
    @property
    def plugins(self):
        """Loaded plugins (enabled or disabled here) as ``Plugin(name, module, version)``."""
        return self.activation.plugins

    @property
    def plugin_failures(self):
        """Plugins left out, with why: failed to import, wrong API version, store."""
        return self.activation.failures

    @property
    def pm(self):
        """The pluggy ``PluginManager`` (every loaded plugin, disabled ones too)."""
        return self.activation.pm

    @property
    def hook(self):
        """The hooks of the enabled plugins: ``crm.hook.crm_records_saved(crm=crm, ...)``."""
        return self.activation.hook

    @property
    def disabled(self):
        """Names of plugins disabled in this database."""
        return self.activation.disabled

    def is_enabled(self, name):
        return self.activation.is_enabled(name)

    def set_enabled(self, name, enabled):
        """Enable or disable a plugin for this database. Never drops its tables."""
        if name == CORE:
            raise errors.CRMError("the core cannot be disabled")
        if name not in self.activation.names:
            known = ", ".join(self.activation.names) or "none"
            raise errors.CRMError(f"no plugin named {name!r} is installed (installed: {known})")
        migrations.ensure_internal_tables(self.store)
        with self.store.transaction():
            self.store.execute(
                "INSERT INTO _crm_plugins (name, enabled, changed_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET enabled = excluded.enabled, changed_at = excluded.changed_at",
                (name, int(enabled), normalize.now()),
            )
        self.activation = Activation.for_store(self.store, self._plugin_choice)
        self._registry = None
        if enabled:
            self.migrate()

    def hook_impls(self, hook_name):
        """Implementations of enabled plugins, in pluggy's call order (to ask
        whether anyone listens before building an expensive argument)."""
        return self.activation.hook_impls(hook_name)

    def emit(self, hook_name, **kwargs):
        """Call a hook of the enabled plugins through pluggy; return their
        non-None results as a list. Data-lifecycle hooks (erase, merge,
        delete) reach disabled plugins too.

        An exception is re-raised as ``PluginError`` naming plugin, hook and
        source line, so the caller's transaction rolls back with a useful message."""
        hook = self.activation.lifecycle_hook if hook_name in LIFECYCLE_HOOKS else None
        result = self.activation.call(hook_name, hook=hook, **kwargs)
        caller = getattr(self.pm.hook, hook_name)
        if caller.spec is not None and caller.spec.opts.get("firstresult"):
            return [] if result is None else [result]
        return result

    @property
    def registry(self):
        """What the enabled plugins registered (built on first use)."""
        if self._registry is None:
            self._registry = build_registry(self.activation, self.store)
        return self._registry

    def record_type(self, table):
        try:
            return self.registry.record_types[table]
        except KeyError:
            raise errors.CRMError(f"unknown record type {table!r}") from None

    # -- schema -------------------------------------------------------------
    def pending_migrations(self):
        return migrations.pending(self.store, self.registry)

    def migrate(self):
        """Apply pending migrations of the core and enabled plugins; return
        their names (``plugin.step``). All or nothing."""
        return migrations.migrate(self.store, self.registry)

    def schema_drift(self):
        """One line per table whose record class has fields without a column."""
        return migrations.drift(self.store, self.registry)

    def require_schema(self):
        """Fail with a clear message when the database was never initialised;
        apply migrations of newly installed plugins."""
        if not self.store.table_exists("contacts"):
            raise errors.CRMError(f"{redact(self.location)} is not initialised: run `crm --db {redact(self.location)} init` first")
        refusal = migrations.newer_version_refusal(self.store, self.registry,
                                                   [p.name for p in self.plugins if self.is_enabled(p.name)])
        if refusal:
            self.store.refuse_writes(refusal)  # every write fails with this line; reads go on
            return
        if self.pending_migrations():
            self.migrate()

    # -- settings -----------------------------------------------------------
    def get_setting(self, key, default=None):
        value = self.store.query_value("SELECT value FROM _crm_settings WHERE key = ?", (key,))
        return default if value is None else json.loads(value)

    def set_setting(self, key, value):
        if key == "base_currency":  # every order's factor changes with it
            from .currency import set_base_currency

            set_base_currency(self, value)
            return
        with self.store.transaction():
            self.store.execute(
                "INSERT INTO _crm_settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    # -- audit --------------------------------------------------------------
    def audit(self, action, table, record_id, changes=None):
        self.audit_many(action, table, [(record_id, changes)])

    def audit_many(self, action, table, items):
        """Record ``(record_id, changes)`` pairs in the audit trail: who, when, what."""
        at = normalize.now()
        self.store.executemany(
            'INSERT INTO _crm_audit (at, "user", action, table_name, record_id, changes) VALUES (?, ?, ?, ?, ?, ?)',
            [(at, self.user, action, table, record_id, json.dumps(changes or {}, ensure_ascii=False, default=str))
             for record_id, changes in items],
        )

    def history(self, table, record_id):
        """The audit trail of one record, oldest first: ``at``, ``user``, ``action``, ``changes``."""
        rows = self.store.query('SELECT at, "user", action, changes FROM _crm_audit WHERE table_name = ? AND record_id = ? '
                                "ORDER BY id", (table, record_id))
        history = [{**r, "changes": json.loads(r["changes"] or "{}")} for r in rows]
        if not any(h["action"] == "create" for h in history):
            # Records imported in bulk (and those made before creation was audited): their creation time.
            cls = self.registry.record_types.get(table)
            created = self.store.query(f"SELECT created_at FROM {quote_name(table)} WHERE id = ?", (record_id,)) \
                if cls is not None and "created_at" in schema.columns(cls) else []
            if created and created[0]["created_at"]:
                history.insert(0, {"at": created[0]["created_at"], "user": None, "action": "create", "changes": {}})
        return history

    # -- records ------------------------------------------------------------
    def _check(self, rec):
        if isinstance(rec, entities.Deal):
            pipeline.check_stage(self, rec.stage)
        return rec

    def add_many(self, records):
        """Insert records of one type in one transaction; one saved event. Returns ids."""
        if not records:
            return []
        cls = type(records[0])
        table = schema.table_of(cls)
        stamp = normalize.now()
        rows = []
        for rec in records:
            self._check(rec)
            row = schema.to_row(rec)
            row.pop("id", None)
            if "created_at" in row:
                row["created_at"] = row["created_at"] or stamp
                row["updated_at"] = row["updated_at"] or stamp
            rows.append(row)
        with self.store.transaction():
            try:
                ids = self.store.insert_many(table, rows)
            except Exception as exc:
                raise self._integrity(table, exc) from None
            self.audit_many("create", table, [(id_, None) for id_ in ids])  # history starts with the creation
            if table in ("orders", "deals"):
                from .currency import convert_orders

                convert_orders(self)  # each new order's (deal's) factor to the base currency
            if self.hook_impls("crm_records_saved"):
                for id_, row in zip(ids, rows):
                    row["id"] = id_
                self.emit("crm_records_saved", crm=self, table=table,
                          records=[schema.decode_saved(rec, row) for rec, row in zip(records, rows)])
        return ids

    def add(self, rec):
        """Insert one record; returns its id."""
        return self.add_many([rec])[0]

    def _integrity(self, table, exc):
        problem = self.store.integrity_problem(exc)
        if problem is None:
            return exc
        kind, detail = problem
        if kind == "unique":
            return errors.CRMError(f"{table}: another record already has this {detail}")
        if kind == "foreign key":
            return errors.CRMError(f"{table}: refers to a record that does not exist")
        return errors.CRMError(f"{table}: {detail}")

    def get(self, table, id):
        """One record as a decoded dict, or ``None``."""
        return schema.decode_row(self.record_type(table), self.store.get(table, id))

    def update(self, table, id, changes):
        """Validate and apply ``changes`` to one record; audited; fires saved."""
        cls = self.record_type(table)
        row = self.store.get(table, id)
        if row is None:
            raise errors.CRMError(f"no {table} record with id {id}")
        old = schema.from_row(cls, row)
        new = self._check(schema.update(old, changes))
        new_row = schema.to_row(new)
        new_row["id"] = id
        if "updated_at" in new_row:
            new_row["updated_at"] = normalize.now()
        diff = {k: [row.get(k), v] for k, v in new_row.items() if row.get(k) != v and k != "updated_at"}
        with self.store.transaction():
            try:
                self.store.update_many(table, [new_row])
            except Exception as exc:
                raise self._integrity(table, exc) from None
            self.audit("update", table, id, diff)
            if table in ("orders", "deals") and {"currency", "ordered_at", "closed_at"} & set(diff):
                from .currency import convert_orders

                self.store.execute(f"UPDATE {table} SET fx_rate = NULL WHERE id = ?", (id,))
                convert_orders(self)
            saved = schema.decode_row(cls, new_row)
            self.emit("crm_records_saved", crm=self, table=table, records=[saved])
            if table == "deals" and "stage" in diff:
                self.emit("crm_deal_stage_changed", crm=self, deal=saved, old_stage=row["stage"], new_stage=new.stage)
        return saved

    def delete(self, table, ids):
        """Delete records by id, in one batch: ``crm_records_deleted`` fires
        first (disabled plugins too); deleting contacts removes every row
        holding their ids (privacy.delete_contacts); deleting companies
        detaches their contacts and deals. Audited."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return
        with self.store.transaction():
            found = {r["id"] for r in self.store.query(
                f"SELECT id FROM {quote_name(table)} WHERE id IN ({self.store.dialect.json_values()})", (json.dumps(ids),))}
            missing = [i for i in ids if i not in found]
            if missing:
                raise errors.CRMError(f"no {table} record with id {missing[0]}")
            self.emit("crm_records_deleted", crm=self, table=table, ids=ids)
            if table == "contacts":
                privacy.delete_contacts(self, ids)
            elif table == "companies":
                privacy.detach_companies(self, ids)
            self.audit_many("delete", table, [(i, None) for i in ids])
            try:
                self.store.delete_many(table, ids)
            except Exception as exc:
                raise self._integrity(table, exc) from None

    # -- contacts -----------------------------------------------------------
    def find_contact(self, ref):
        """A contact by id or e-mail, as a decoded dict; ``CRMError`` when there is none."""
        ref = str(ref).strip()
        if ref.isdigit():
            row = self.store.get("contacts", int(ref))
        else:
            try:
                email = normalize.email(ref)
            except ValueError:
                raise errors.CRMError(f"{ref!r} is neither a contact id nor an e-mail address") from None
            rows = self.store.query("SELECT * FROM contacts WHERE email = ?", (email,))
            row = rows[0] if rows else None
        if row is None:
            raise errors.CRMError(f"no contact {ref!r}")
        return schema.decode_row(entities.Contact, row)

    def find_company(self, ref):
        """A company by id or exact name, as a decoded dict; ``CRMError`` when there is none."""
        ref = str(ref).strip()
        row = self.store.get("companies", int(ref)) if ref.isdigit() else \
            (self.store.query("SELECT * FROM companies WHERE name = ? ORDER BY id LIMIT 1", (ref,)) or [None])[0]
        if row is None:
            raise errors.CRMError(f"no company {ref!r}")
        return schema.decode_row(entities.Company, row)

    def resolve_references(self, values):
        """Turn ``contact_id``/``company_id``/``deal_id`` given as an id,
        e-mail or company name into ids (what users type on the command line)."""
        out = dict(values)
        if out.get("contact_id") not in (None, ""):
            out["contact_id"] = self.find_contact(out["contact_id"])["id"]
        if out.get("company_id") not in (None, ""):
            out["company_id"] = self.find_company(out["company_id"])["id"]
        if out.get("deal_id") not in (None, ""):
            ref = str(out["deal_id"]).strip()
            if not ref.isdigit() or self.store.get("deals", int(ref)) is None:
                raise errors.CRMError(f"no deal {out['deal_id']!r}")
            out["deal_id"] = int(ref)
        return out

    def merge_contacts(self, keep_ref, duplicate_ref, notes=None):
        """Move everything of the duplicate to the kept contact, then delete it
        (``privacy.merge_contacts``); returns the kept contact. Notes about
        skipped plugins or dropped duplicate rows go to the ``notes`` list."""
        kept, found = privacy.merge_contacts(self, keep_ref, duplicate_ref)
        if notes is not None:
            notes.extend(found)
        return kept

    def erase_contact(self, ref):
        """Erase a person everywhere (``privacy.erase_contact``); returns notes."""
        return privacy.erase_contact(self, ref)

    def is_suppressed(self, email):
        return privacy.is_suppressed(self.store, email)

    def suppress(self, email, reason="unsubscribed"):
        """Add an address to the suppression list and withdraw its consent; permanent."""
        privacy.suppress(self, email, reason)

    def company_id_for(self, name):
        """Id of the company with this name, created when there is none."""
        name = normalize.text(name)
        found = self.store.query_value("SELECT id FROM companies WHERE name = ? ORDER BY id LIMIT 1", (name,))
        return found if found is not None else self.add(entities.Company(name=name))

    def search_contacts(self, text, limit=20):
        """Full-text search: every word must prefix-match a word of the contact.

        The store does the matching (FTS5 on SQLite, tsvector on PostgreSQL)."""
        words = [w for w in normalize.text(text).replace('"', " ").split(" ") if w]
        if not words:
            return []
        rows = self.store.search("contacts", schema.fts_columns(entities.Contact), words, limit)
        return [schema.decode_row(entities.Contact, r) for r in rows]

    def timeline(self, contact, limit=None):
        """Everything that happened with a contact (id, e-mail or row), newest
        first, as dicts with ``at``, ``kind``, ``summary`` and ``ref``: the
        core's activities, orders (with lines), deals and audit events, and
        every enabled plugin's events through ``crm_contact_timeline``."""
        from .timeline import timeline

        return timeline(self, contact, limit)

    def segment_contact_ids(self, name):
        """Contact ids of a segment, answered by whichever plugin knows segments."""
        ids = self._ask_segments("crm_segment_contact_ids", name=name)
        if ids is None:
            raise errors.CRMError(f"no segment named {name!r} (see crm segments list)")
        return list(ids)

    def segment_names(self):
        """Names of every segment, answered by whichever plugin knows segments."""
        return list(self._ask_segments("crm_segment_names") or [])

    def _ask_segments(self, hook_name, **kwargs):
        """The first plugin answer (``firstresult``) to a segment question;
        a clear error when no segments plugin is enabled."""
        if not self.hook_impls(hook_name):
            raise errors.CRMError("segments need the segments plugin: crm plugins enable segments")
        return self.activation.call(hook_name, crm=self, **kwargs)

    # -- deals --------------------------------------------------------------
    @property
    def stages(self):
        """Pipeline stages as ``[(name, probability), ...]`` in order."""
        return pipeline.stages(self)

    def set_stages(self, pairs, moves=()):
        """Configure the pipeline from ``["lead=10", "won=100", ...]``;
        ``moves`` (``["qualified=lead"]``) moves deals out of dropped stages."""
        pipeline.set_stages(self, pairs, moves)

    def move_deal(self, deal_id, stage):
        """Move a deal to ``stage``; ``won``/``lost`` close it, others reopen it."""
        return pipeline.move_deal(self, deal_id, stage)

    def pipeline(self, owner=None):
        """Open deals per stage with probability-weighted value."""
        return pipeline.summary(self, owner)

    # -- plugins info -------------------------------------------------------
    def plugin_info(self):
        """One dict per installed plugin: name, version, enabled, hooks, error."""
        rows = []
        for plugin in self.plugins:
            impls = self.pm.get_hookcallers(plugin.module) or []
            rows.append({"name": plugin.name, "version": plugin.version, "enabled": self.is_enabled(plugin.name),
                         "hooks": sorted(h.name for h in impls), "error": None})
        for failure in self.plugin_failures:
            rows.append({"name": failure.name, "version": "", "enabled": False, "hooks": [], "error": failure.reason})
        return rows

