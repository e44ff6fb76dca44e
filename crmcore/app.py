"""The CRM object: a store, the enabled plugins, and the Python API.

    crm = CRM("shop.db")                   # installed plugins, or plugins=[...]
    crm.migrate()
    cid = crm.add(Contact(first_name="Ada", email="ada@example.com"))

Every write runs in one transaction together with the event hooks it fires.
"""

import getpass
import hashlib
import json
import os

import attrs

from . import entities, normalize, schema
from .location import resolve_location
from .plugins import CORE, PluginError, as_plugin, discover, make_manager, refuse_unsupported
from .store import StoreError, open_store, redact

DEFAULT_STAGES = (("lead", 10), ("qualified", 25), ("proposal", 50), ("negotiation", 75), ("won", 100), ("lost", 0))


class CRMError(Exception):
    """A user-facing problem: the message is one line that says what to do."""


def current_user():
    return os.environ.get("CRM_USER") or getpass.getuser()


def email_hash(email):
    """The suppression key of an address: SHA-256 of the normalised e-mail."""
    return hashlib.sha256(normalize.email(email).encode()).hexdigest()


@attrs.frozen
class Report:
    name: str
    template: str
    description: str
    context: object
    plugin: str


@attrs.frozen
class DashboardSection:
    title: str
    template: str
    context: object
    plugin: str


@attrs.frozen
class SegmentField:
    name: str
    sql: str
    type: str
    description: str
    plugin: str


@attrs.frozen
class ExportFormat:
    name: str
    writer: object
    description: str
    plugin: str


@attrs.define
class Registry:
    """Everything the enabled plugins registered, collected once per CRM."""

    record_types: dict = attrs.Factory(dict)
    migrations: list = attrs.Factory(list)
    reports: dict = attrs.Factory(dict)
    template_dirs: list = attrs.Factory(list)
    dashboard_sections: list = attrs.Factory(list)
    import_aliases: dict = attrs.Factory(dict)
    segment_fields: dict = attrs.Factory(dict)
    export_formats: dict = attrs.Factory(dict)


class CRM:
    def __init__(self, location=None, plugins=None, templates=None):
        """Open (creating if needed) the database at ``location``.

        ``plugins``: ``None`` for every installed plugin (``CRM_LOAD_PLUGINS``
        applies), or a list of modules / ``(name, module)`` pairs.
        ``templates``: a user folder of templates that overrides all others."""
        self.location = resolve_location(location)
        if plugins is None:
            self.plugins, self.plugin_failures = discover()
        else:
            self.plugins, self.plugin_failures = [as_plugin(p) for p in plugins], []
        self.templates = templates or os.environ.get("CRM_TEMPLATES") or None
        self.store = open_store(self.location)
        self.plugins, refused = refuse_unsupported(self.plugins, self.store.kind)
        self.plugin_failures = [*self.plugin_failures, *refused]
        self.pm = make_manager(self.plugins)
        self.user = current_user()
        self._registry = None
        self._disabled = None

    def close(self):
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- plugins ------------------------------------------------------------
    @property
    def disabled(self):
        """Names of plugins disabled in this database."""
        if self._disabled is None:
            if self.store.table_exists("_crm_plugins"):
                rows = self.store.query("SELECT name FROM _crm_plugins WHERE enabled = 0")
                self._disabled = {r["name"] for r in rows}
            else:
                self._disabled = set()
        return self._disabled

    def is_enabled(self, name):
        return name == CORE or (name not in self.disabled and any(p.name == name for p in self.plugins))

    def set_enabled(self, name, enabled):
        """Enable or disable a plugin for this database. Never drops its tables."""
        if name == CORE:
            raise CRMError("the core cannot be disabled")
        if not any(p.name == name for p in self.plugins):
            known = ", ".join(p.name for p in self.plugins) or "none"
            raise CRMError(f"no plugin named {name!r} is installed (installed: {known})")
        self._ensure_internal_tables()
        with self.store.transaction():
            self.store.execute(
                "INSERT INTO _crm_plugins (name, enabled, changed_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET enabled = excluded.enabled, changed_at = excluded.changed_at",
                (name, int(enabled), normalize.now()),
            )
        self._disabled = None
        self._registry = None
        if enabled:
            self.migrate()

    def hook_impls(self, hook_name):
        """Implementations of an enabled plugin, in pluggy's call order."""
        hook = getattr(self.pm.hook, hook_name)
        return [impl for impl in reversed(hook.get_hookimpls()) if self.is_enabled(impl.plugin_name)]

    def emit(self, hook_name, **kwargs):
        """Call an event hook on every enabled plugin; return their non-None results.

        An exception is re-raised as ``PluginError`` naming plugin and hook,
        so the caller's transaction rolls back with a useful message."""
        results = []
        for impl in self.hook_impls(hook_name):
            args = {k: kwargs[k] for k in impl.argnames if k in kwargs}
            try:
                result = impl.function(**args)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(impl.plugin_name, hook_name, exc) from exc
            if result is not None:
                results.append(result)
        return results

    def _collect(self, hook_name, make_register, **kwargs):
        """Call a registration hook plugin by plugin, in registration order (the
        core first, so plugin migrations can reference core tables)."""
        for impl in reversed(self.hook_impls(hook_name)):
            args = {k: v for k, v in kwargs.items() if k in impl.argnames}
            if "register" in impl.argnames:
                args["register"] = make_register(impl.plugin_name)
            try:
                impl.function(**args)
            except (CRMError, PluginError):
                raise
            except Exception as exc:
                raise PluginError(impl.plugin_name, hook_name, exc) from exc

    @property
    def registry(self):
        """What the enabled plugins registered (built on first use)."""
        if self._registry is None:
            self._registry = self._build_registry()
        return self._registry

    def _build_registry(self):
        reg = Registry()

        def record_types(plugin):
            def register(cls):
                reg.record_types[schema.table_of(cls)] = cls
            return register

        def migrations(plugin):
            return lambda fn: reg.migrations.append((plugin, fn))

        def reports(plugin):
            def register(name, template, description="", context=None):
                reg.reports[name] = Report(name, template, description, context or (lambda crm, params: {}), plugin)
            return register

        def template_dirs(plugin):
            return lambda path: reg.template_dirs.append(str(path))

        def sections(plugin):
            def register(title, template, context=None):
                reg.dashboard_sections.append(DashboardSection(title, template, context or (lambda crm: {}), plugin))
            return register

        def aliases(plugin):
            def register(table, mapping):
                reg.import_aliases.setdefault(table, {}).update(mapping)
            return register

        def segment_fields(plugin):
            def register(name, sql, type="text", description=""):
                if not name.isidentifier():
                    raise ValueError(f"segment field name {name!r} is not an identifier")
                reg.segment_fields[name] = SegmentField(name, sql, type, description, plugin)
            return register

        def export_formats(plugin):
            def register(name, writer, description=""):
                reg.export_formats[name] = ExportFormat(name, writer, description, plugin)
            return register

        self._collect("crm_register_record_types", record_types)
        self._collect("crm_register_migrations", migrations)
        self._collect("crm_register_reports", reports)
        self._collect("crm_register_template_dirs", template_dirs)
        self._collect("crm_register_dashboard_sections", sections)
        self._collect("crm_register_import_aliases", aliases)
        self._collect("crm_register_segment_fields", segment_fields, store=self.store)
        self._collect("crm_register_export_formats", export_formats)
        return reg

    def record_type(self, table):
        try:
            return self.registry.record_types[table]
        except KeyError:
            raise CRMError(f"unknown record type {table!r}") from None

    # -- schema -------------------------------------------------------------
    def _ensure_internal_tables(self):
        self.store.execute(
            "CREATE TABLE IF NOT EXISTS _crm_migrations (plugin TEXT NOT NULL, name TEXT NOT NULL, "
            "applied_at TEXT NOT NULL, PRIMARY KEY (plugin, name))"
        )
        self.store.execute(
            "CREATE TABLE IF NOT EXISTS _crm_plugins (name TEXT PRIMARY KEY, enabled INTEGER NOT NULL, changed_at TEXT)"
        )

    def pending_migrations(self):
        self._ensure_internal_tables()
        done = {(r["plugin"], r["name"]) for r in self.store.query("SELECT plugin, name FROM _crm_migrations")}
        return [(p, fn) for p, fn in self.registry.migrations if (p, fn.__name__) not in done]

    def migrate(self):
        """Apply pending migrations of the core and enabled plugins; return their names.

        All of them and their records commit together (SQLite DDL is
        transactional), so a crash or a failing migration leaves exactly the
        schema the database had before the command."""
        applied = []
        with self.store.transaction():
            for plugin, fn in self.pending_migrations():
                try:
                    with self.store.transaction():
                        fn(self.store)
                        self.store.execute(
                            "INSERT INTO _crm_migrations (plugin, name, applied_at) VALUES (?, ?, ?)",
                            (plugin, fn.__name__, normalize.now()),
                        )
                except StoreError:
                    raise
                except Exception as exc:
                    raise PluginError(plugin, f"migration {fn.__name__}", exc) from exc
                applied.append(f"{plugin}.{fn.__name__}")
        return applied

    def require_schema(self):
        """Fail with a clear message when the database was never initialised."""
        if not self.store.table_exists("contacts"):
            raise CRMError(f"{redact(self.location)} is not initialised: run `crm --db {redact(self.location)} init` first")
        pending = self.pending_migrations()
        if pending:
            self.migrate()

    # -- settings -----------------------------------------------------------
    def get_setting(self, key, default=None):
        value = self.store.query_value("SELECT value FROM _crm_settings WHERE key = ?", (key,))
        return default if value is None else json.loads(value)

    def set_setting(self, key, value):
        with self.store.transaction():
            self.store.execute(
                "INSERT INTO _crm_settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    @property
    def stages(self):
        """Pipeline stages as ``[(name, probability), ...]`` in order."""
        return [tuple(s) for s in self.get_setting("pipeline.stages", DEFAULT_STAGES)]

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

    # -- records ------------------------------------------------------------
    def _check(self, rec):
        if isinstance(rec, entities.Deal):
            names = [s for s, _ in self.stages]
            if rec.stage not in names:
                raise schema.FieldError("stage", f"unknown stage {rec.stage!r} (stages: {', '.join(names)})")
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
            return CRMError(f"{table}: another record already has this {detail}")
        if kind == "foreign key":
            return CRMError(f"{table}: refers to a record that does not exist")
        return CRMError(f"{table}: {detail}")

    def get(self, table, id):
        """One record as a decoded dict, or ``None``."""
        return schema.decode_row(self.record_type(table), self.store.get(table, id))

    def update(self, table, id, changes):
        """Validate and apply ``changes`` to one record; audited; fires saved."""
        cls = self.record_type(table)
        row = self.store.get(table, id)
        if row is None:
            raise CRMError(f"no {table} record with id {id}")
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
            saved = schema.decode_row(cls, new_row)
            self.emit("crm_records_saved", crm=self, table=table, records=[saved])
            if table == "deals" and "stage" in diff:
                self.emit("crm_deal_stage_changed", crm=self, deal=saved, old_stage=row["stage"], new_stage=new.stage)
        return saved

    def delete(self, table, ids):
        """Delete records by id; fires ``crm_records_deleted`` first; audited."""
        ids = list(ids)
        with self.store.transaction():
            for id_ in ids:
                if self.store.get(table, id_) is None:
                    raise CRMError(f"no {table} record with id {id_}")
            self.emit("crm_records_deleted", crm=self, table=table, ids=ids)
            if table == "contacts":
                self._detach_contacts(ids)
            for id_ in ids:
                self.audit("delete", table, id_)
            try:
                self.store.delete_many(table, ids)
            except Exception as exc:
                raise self._integrity(table, exc) from None

    def _detach_contacts(self, ids):
        for id_ in ids:
            self.store.execute("UPDATE deals SET contact_id = NULL WHERE contact_id = ?", (id_,))
            self.store.execute("DELETE FROM activities WHERE contact_id = ?", (id_,))
            order_ids = [r["id"] for r in self.store.query("SELECT id FROM orders WHERE contact_id = ?", (id_,))]
            for oid in order_ids:
                self.store.execute("DELETE FROM order_lines WHERE order_id = ?", (oid,))
            self.store.execute("DELETE FROM orders WHERE contact_id = ?", (id_,))

    # -- contacts -----------------------------------------------------------
    def find_contact(self, ref):
        """A contact row by id or e-mail; ``CRMError`` when there is none."""
        ref = str(ref).strip()
        if ref.isdigit():
            row = self.store.get("contacts", int(ref))
        else:
            try:
                email = normalize.email(ref)
            except ValueError:
                raise CRMError(f"{ref!r} is neither a contact id nor an e-mail address") from None
            rows = self.store.query("SELECT * FROM contacts WHERE email = ?", (email,))
            row = rows[0] if rows else None
        if row is None:
            raise CRMError(f"no contact {ref!r}")
        return schema.decode_row(entities.Contact, row)

    def merge_contacts(self, keep_ref, duplicate_ref):
        """Move everything of the duplicate to the kept contact, then delete it.

        Empty fields of the kept contact are filled from the duplicate; tags
        are united. Plugins move their records in ``crm_contacts_merged``."""
        keep, dup = self.find_contact(keep_ref), self.find_contact(duplicate_ref)
        if keep["id"] == dup["id"]:
            raise CRMError("cannot merge a contact with itself")
        fill = {k: v for k, v in dup.items() if k not in ("id", "email", "created_at", "updated_at") and v not in (None, "", [], {}) and keep.get(k) in (None, "", [], {})}
        if dup["tags"]:
            fill["tags"] = sorted(set(keep["tags"]) | set(dup["tags"]))
        with self.store.transaction():
            for table in ("deals", "activities", "orders"):
                self.store.execute(f"UPDATE {table} SET contact_id = ? WHERE contact_id = ?", (keep["id"], dup["id"]))
            self.emit("crm_contacts_merged", crm=self, keep_id=keep["id"], duplicate_id=dup["id"])
            self.audit("merge", "contacts", keep["id"], {"merged": dup["id"], "email": dup["email"]})
            self.store.delete_many("contacts", [dup["id"]])
            if fill:
                self.update("contacts", keep["id"], fill)
        return self.get("contacts", keep["id"])

    def erase_contact(self, ref):
        """Erase a person: every plugin removes its data (``crm_contact_erased``),
        activities and the audit trail of the contact go, deals and orders stay
        for the books without the link, and a hash of the e-mail is kept on the
        suppression list so no later import brings them back as a marketing
        contact. Returns the plugins' notes (e.g. where data had been sent)."""
        row = self.find_contact(ref)
        cid, email = row["id"], row["email"]
        with self.store.transaction():
            notes = []
            for result in self.emit("crm_contact_erased", crm=self, contact_id=cid, email=email):
                notes.extend(result if isinstance(result, (list, tuple)) else [result])
            if email:
                self.store.execute(
                    "INSERT INTO suppressions (email_hash, reason, at) VALUES (?, 'erased', ?) "
                    "ON CONFLICT(email_hash) DO UPDATE SET reason = 'erased'",
                    (email_hash(email), normalize.now()),
                )
            self.store.execute("DELETE FROM activities WHERE contact_id = ?", (cid,))
            self.store.execute("UPDATE deals SET contact_id = NULL WHERE contact_id = ?", (cid,))
            self.store.execute("UPDATE orders SET contact_id = NULL WHERE contact_id = ?", (cid,))
            self.store.execute("DELETE FROM _crm_audit WHERE table_name = 'contacts' AND record_id = ?", (cid,))
            self.store.delete_many("contacts", [cid])
            self.audit("erase", "contacts", cid)
        return notes

    def is_suppressed(self, email):
        return self.store.query_value("SELECT 1 FROM suppressions WHERE email_hash = ?", (email_hash(email),)) is not None

    def suppress(self, email, reason="unsubscribed"):
        """Add an address to the suppression list and withdraw its consent; permanent."""
        try:
            key = email_hash(email)
        except ValueError as exc:
            raise CRMError(str(exc)) from None
        with self.store.transaction():
            self.store.execute(
                "INSERT INTO suppressions (email_hash, reason, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (key, reason, normalize.now())
            )
            self.store.execute(
                "UPDATE contacts SET consent = 0, consent_at = ?, consent_source = ? WHERE email = ?",
                (normalize.now(), reason, normalize.email(email)),
            )

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

    def segment_contact_ids(self, name):
        """Contact ids of a segment, answered by whichever plugin knows segments."""
        ids = self._ask_segments("crm_segment_contact_ids", name=name)
        if ids is None:
            raise CRMError(f"no segment named {name!r} (see crm segments list)")
        return ids

    def segment_names(self):
        """Names of every segment, answered by whichever plugin knows segments."""
        return self._ask_segments("crm_segment_names") or []

    def _ask_segments(self, hook, **kwargs):
        """The first plugin answer to a segment question (``None``: nobody knows);
        a clear error when no segments plugin is enabled."""
        impls = self.hook_impls(hook)
        if not impls:
            raise CRMError("segments need the segments plugin: crm plugins enable segments")
        kwargs["crm"] = self
        for impl in impls:
            try:
                found = impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})
            except CRMError:
                raise
            except Exception as exc:
                raise PluginError(impl.plugin_name, hook, exc) from exc
            if found is not None:
                return list(found)
        return None

    # -- deals --------------------------------------------------------------
    def set_stages(self, pairs):
        """Configure the pipeline from ``["lead=10", "won=100", ...]``."""
        stages = []
        for pair in pairs:
            name, sep, prob = pair.partition("=")
            name = normalize.text(name).lower()
            try:
                probability = int(prob) if sep else -1
            except ValueError:
                probability = -1
            if not name or not 0 <= probability <= 100:
                raise CRMError(f"stage {pair!r} must look like NAME=PROBABILITY with 0-100")
            stages.append((name, probability))
        names = [s for s, _ in stages]
        if "won" not in names or "lost" not in names:
            raise CRMError("the pipeline needs a 'won' and a 'lost' stage")
        if len(set(names)) != len(names):
            raise CRMError("stage names must be unique")
        in_use = {r["stage"] for r in self.store.query("SELECT DISTINCT stage FROM deals")} - set(names)
        if in_use:
            raise CRMError(f"deals are still in stage(s) {', '.join(sorted(in_use))}; move them first")
        self.set_setting("pipeline.stages", stages)

    def move_deal(self, deal_id, stage):
        """Move a deal to ``stage``; ``won``/``lost`` close it, others reopen it."""
        stage = normalize.text(stage).lower()
        changes = {"stage": stage}
        if stage in ("won", "lost"):
            changes.update(status=stage, closed_at=normalize.now()[:10])
        else:
            changes.update(status="open", closed_at=None)
        try:
            return self.update("deals", deal_id, changes)
        except schema.FieldError as exc:
            raise CRMError(f"invalid {exc.field}: {exc.reason}") from None

    def pipeline(self, owner=None):
        """Open deals per stage with probability-weighted value."""
        sql = "SELECT stage, count(*) AS deals, coalesce(sum(amount), 0) AS amount, sum(amount * coalesce(probability, -1)) AS own FROM deals WHERE status = 'open'"
        params = []
        if owner:
            sql += " AND owner = ?"
            params.append(owner)
        found = {r["stage"]: r for r in self.store.query(sql + " GROUP BY stage", params)}
        rows = []
        for name, probability in self.stages:
            if name in ("won", "lost"):
                continue
            r = found.get(name, {"deals": 0, "amount": 0.0})
            rows.append({"stage": name, "probability": probability, "deals": r["deals"], "amount": r["amount"],
                         "weighted": round(r["amount"] * probability / 100, 2)})
        return rows

    # -- plugins info -------------------------------------------------------
    def plugin_info(self):
        """One dict per installed plugin: name, version, enabled, hooks."""
        rows = []
        for plugin in self.plugins:
            impls = self.pm.get_hookcallers(plugin.module) or []
            rows.append({"name": plugin.name, "version": plugin.version, "enabled": self.is_enabled(plugin.name),
                         "hooks": sorted(h.name for h in impls), "error": None})
        for failure in self.plugin_failures:
            rows.append({"name": failure.name, "version": "", "enabled": False, "hooks": [], "error": failure.reason})
        return rows
