"""Segment definitions and membership: create, refresh, members, history.

A dynamic segment's rule is compiled to SQL and evaluated set-wise inside
SQLite; a refresh compares the result with the stored membership in one
transaction, records who entered and who left, and fires
``crm_segment_membership_changed`` with both batches.
"""

import contextlib
import datetime as dt
import json

from crmcore import build, CRMError, FieldError, normalize

from . import fields as field_registry
from .records import Segment
from .rules import RuleError, compile_rule, referenced_fields, referenced_segments

SEGMENT_FIELDS = ["id", "name", "kind", "rule", "description", "size", "refreshed_at"]


# -- definitions --------------------------------------------------------------


def get_segment(crm, name):
    """The segment row called ``name``, or ``None``."""
    rows = crm.store.query("SELECT * FROM segments WHERE name = ?", (name,))
    return rows[0] if rows else None


def require_segment(crm, name):
    row = get_segment(crm, name)
    if row is None:
        known = [r["name"] for r in crm.store.query("SELECT name FROM segments ORDER BY name")]
        import difflib

        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else " (see crm segments list)"
        raise CRMError(f"no segment named {name!r}{hint}")
    return row


def segment_lookup(crm):
    """The compiler's view of other segments for ``segment("name")``."""

    def lookup(name):
        row = get_segment(crm, name)
        if row is None:
            return None
        return ("static", row["id"]) if row["kind"] == "static" else ("dynamic", row["rule"])

    return lookup


def compile_segment_rule(crm, rule, today=None):
    """``(sql, params)`` selecting the ids of contacts matching ``rule``."""
    where, params = compile_rule(rule, field_registry.build_fields(crm, today), segment_lookup(crm), crm.store.dialect)
    return f"SELECT c.id FROM contacts c WHERE {where}", params


class DisabledField(CRMError):
    """A segment's rule uses a field only a disabled plugin registers."""


def disabled_field(crm, rule):
    """``(field, plugin)`` when ``rule`` (or a dynamic segment it refers to)
    tests a field that no enabled plugin registers but a disabled one does."""
    known = field_registry.build_fields(crm)
    used, seen, stack = [], set(), [rule]
    while stack:
        text = stack.pop()
        try:
            used += [f for f in referenced_fields(text) if f not in known]
            refs = referenced_segments(text)
        except RuleError:
            continue
        for name in refs:
            row = get_segment(crm, name)
            if name not in seen and row is not None and row["kind"] == "dynamic":
                seen.add(name)
                stack.append(row["rule"])
    if not used:
        return None
    owners = _disabled_plugin_fields(crm)
    return next(((f, owners[f]) for f in used if f in owners), None)


def _disabled_plugin_fields(crm):
    """``{field: plugin}`` of the segment fields the disabled plugins register
    (their registration hook called through pluggy, on them alone)."""
    activation = crm.activation
    disabled = {p.module for p in activation.plugins if not activation.is_enabled(p.name)}
    if not disabled:
        return {}
    others = [p for p in activation.pm.get_plugins() if p not in disabled]
    caller = activation.pm.subset_hook_caller("crm_register_segment_fields", others)
    owners = {}

    def register(name, *args, **kwargs):
        owners.setdefault(name, activation.registering_plugin("crm_register_segment_fields"))

    try:
        caller(register=register, store=crm.store)
    except Exception:  # a disabled plugin failing here only loses the explanation
        pass
    return owners


def compile_segment(crm, segment, today=None):
    """``compile_segment_rule`` for a stored segment; a field of a disabled
    plugin becomes a ``DisabledField`` naming the segment and the plugin."""
    try:
        return compile_segment_rule(crm, segment["rule"], today)
    except RuleError:
        found = disabled_field(crm, segment["rule"])
        if found is None:
            raise
        field, plugin = found
        raise DisabledField(f"segment {segment['name']!r} uses field {field!r} of the disabled plugin {plugin!r} "
                            f"(crm plugins enable {plugin}); not refreshed") from None


@contextlib.contextmanager
def database_refusal(store, what):
    """Our SQL is checked, but a plugin's registered field SQL may be broken:
    say so in one line instead of a traceback."""
    try:
        yield
    except store.sql_errors as exc:
        friendly = getattr(store, "friendly", None)
        if friendly is not None and friendly(exc) is not None:
            raise friendly(exc) from None  # busy, read-only, a damaged file: not the rule's fault
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CRMError(f"{what}: the database refused the rule's SQL ({reason}); a field a plugin registered may be broken "
                       "(crm segments fields lists who registered each)") from None


def _build(data):
    try:
        return build(Segment, data)
    except FieldError as exc:
        raise CRMError(f"segment {data.get('name')!r}: invalid {exc.field}: {exc.reason}") from None


def create_segment(crm, name, rule=None, description="", static=False):
    """Add a dynamic (``rule``) or static segment; the rule is checked first."""
    if get_segment(crm, name) is not None:
        raise CRMError(f"a segment named {name!r} exists already (use crm segments edit)")
    if static and rule:
        raise CRMError("a static segment has members, not a rule: drop --rule or --static")
    if not static and not rule:
        raise CRMError("give --rule for a dynamic segment, or --static for a hand-kept list")
    seg = _build({"name": name, "kind": "static" if static else "dynamic", "rule": rule or "", "description": description})
    if not static:
        _check_rule(crm, seg.name, seg.rule)
    return crm.add(seg)


def _check_rule(crm, name, rule):
    if name in referenced_segments(rule):
        raise RuleError(f"segment {name!r} cannot refer to itself")
    sql, params = compile_segment_rule(crm, rule)
    with database_refusal(crm.store, f"segment {name!r}"):
        crm.store.execute("EXPLAIN " + sql, params)
    # A rule may make an existing segment refer back to this one.
    for row in crm.store.query("SELECT name, rule FROM segments WHERE kind = 'dynamic' AND name != ?", (name,)):
        if name in _refs(row["rule"]) and row["name"] in _closure(crm, rule, name):
            raise RuleError(f"segments refer to each other in a circle: {name} -> {row['name']} -> {name}")


def _refs(rule):
    """Segments a stored rule names; a rule still being loaded may not parse yet."""
    try:
        return referenced_segments(rule)
    except RuleError:
        return []


def _closure(crm, rule, skip):
    seen, todo = set(), list(referenced_segments(rule))
    while todo:
        name = todo.pop()
        if name in seen or name == skip:
            continue
        seen.add(name)
        row = get_segment(crm, name)
        if row is not None and row["kind"] == "dynamic":
            todo.extend(_refs(row["rule"]))
    return seen


def edit_segment(crm, name, rule=None, description=None, new_name=None):
    row = require_segment(crm, name)
    changes = {}
    if rule is not None:
        if row["kind"] == "static":
            raise CRMError(f"{name!r} is a static segment: change its members, not a rule")
        _check_rule(crm, name, rule)
        changes["rule"] = rule
    if description is not None:
        changes["description"] = description
    if new_name is not None and new_name != name:
        if get_segment(crm, new_name) is not None:
            raise CRMError(f"a segment named {new_name!r} exists already")
        users = _users(crm, name, row["id"])
        if users:
            raise CRMError(f"segment {name!r} is used by {', '.join(users)}; change those rules before renaming it")
        changes["name"] = new_name
    if not changes:
        raise CRMError("nothing to change: give --rule, --description or --rename")
    with crm.store.transaction():
        try:
            saved = crm.update("segments", row["id"], changes)
        except FieldError as exc:
            raise CRMError(f"invalid {exc.field}: {exc.reason}") from None
        if "name" in changes:
            crm.store.execute("UPDATE segment_targets SET name = ? WHERE scope = 'segment' AND name = ?", (saved["name"], name))
    return saved


def _users(crm, name, segment_id):
    """Dynamic segments whose rules name segment ``name``."""
    return [r["name"] for r in crm.store.query("SELECT name, rule FROM segments WHERE kind = 'dynamic' AND id != ? ORDER BY name",
                                               (segment_id,)) if name in _refs(r["rule"])]


def delete_segment(crm, name):
    """Delete a segment with its membership and history; refuse if another rule uses it."""
    row = require_segment(crm, name)
    users = _users(crm, name, row["id"])
    if users:
        raise CRMError(f"segment {name!r} is used by {', '.join(users)}; change those rules first")
    with crm.store.transaction():
        for table in ("segment_members", "segment_history", "segment_refreshes"):
            crm.store.execute(f"DELETE FROM {table} WHERE segment_id = ?", (row["id"],))
        crm.store.execute("DELETE FROM segment_targets WHERE scope = 'segment' AND name = ?", (name,))
        crm.delete("segments", [row["id"]])


def list_segments(crm):
    rows = crm.store.query(
        "SELECT s.*, (SELECT count(*) FROM segment_members m WHERE m.segment_id = s.id) AS size FROM segments s ORDER BY s.name"
    )
    for r in rows:
        if r["kind"] == "dynamic" and r["refreshed_at"] is None:
            r["size"] = None  # never refreshed: no materialised size yet
    return rows


# -- membership ---------------------------------------------------------------


def contact_ids(crm, name, today=None):
    """Members of ``name`` (materialised, or evaluated if never refreshed); ``None`` if unknown."""
    row = get_segment(crm, name)
    if row is None:
        return None
    if row["kind"] == "dynamic" and row["refreshed_at"] is None:
        sql, params = compile_segment(crm, row, today)
        with database_refusal(crm.store, f"segment {name!r}"):
            return [r[0] for r in crm.store.execute(sql + " ORDER BY c.id", params)]
    return [r[0] for r in crm.store.execute(
        "SELECT contact_id FROM segment_members WHERE segment_id = ? ORDER BY contact_id", (row["id"],))]


def _apply(crm, segment, at):
    """Make membership equal the temp table ``_segment_new``; record the change.

    Set-based: the history rows of this refresh are written first and then
    drive the membership update, so nothing passes through Python unless a
    plugin listens to ``crm_segment_membership_changed``."""
    store = crm.store
    sid = segment["id"]
    size = store.query_value("SELECT count(*) FROM _segment_new")
    refresh_id = store.insert("segment_refreshes", {"segment_id": sid, "at": at, "size": size, "entered": 0, "left": 0})
    entered = store.execute(
        "INSERT INTO segment_history (segment_id, refresh_id, contact_id, change, at) "
        "SELECT ?, ?, n.contact_id, 'entered', ? FROM _segment_new n WHERE NOT EXISTS "
        "(SELECT 1 FROM segment_members m WHERE m.segment_id = ? AND m.contact_id = n.contact_id) ORDER BY n.contact_id",
        (sid, refresh_id, at, sid)).rowcount
    left = store.execute(
        "INSERT INTO segment_history (segment_id, refresh_id, contact_id, change, at) "
        "SELECT ?, ?, m.contact_id, 'left', ? FROM segment_members m WHERE m.segment_id = ? AND NOT EXISTS "
        "(SELECT 1 FROM _segment_new n WHERE n.contact_id = m.contact_id) ORDER BY m.contact_id",
        (sid, refresh_id, at, sid)).rowcount
    return _finish(crm, segment, at, refresh_id, size, entered, left)


def _apply_first(crm, segment, at, sql, params):
    """The first refresh of a segment without members: everyone the rule
    selects enters and nobody leaves. The members come straight from the
    rule's SELECT (no temporary table, no comparison with members that do not
    exist yet) and the history rows from the members just written: a scan of
    the segment's primary-key range, the rule run once, so both agree."""
    store = crm.store
    sid = segment["id"]
    refresh_id = store.insert("segment_refreshes", {"segment_id": sid, "at": at, "size": 0, "entered": 0, "left": 0})
    entered = store.execute(
        f"INSERT INTO segment_members (segment_id, contact_id, since) SELECT ?, n.id, ? FROM ({sql}) AS n ORDER BY n.id",
        (sid, at, *params)).rowcount
    if entered:
        store.execute(
            "INSERT INTO segment_history (segment_id, refresh_id, contact_id, change, at) "
            "SELECT segment_id, ?, contact_id, 'entered', ? FROM segment_members WHERE segment_id = ? ORDER BY contact_id",
            (refresh_id, at, sid))
    return _finish(crm, segment, at, refresh_id, entered, entered, 0, members_written=True)


def _finish(crm, segment, at, refresh_id, size, entered, left, members_written=False):
    """Membership follows this refresh's history rows (unless
    ``members_written``: a first refresh wrote them already); the refresh row
    gets its counts; listeners of ``crm_segment_membership_changed`` hear of it."""
    store = crm.store
    sid = segment["id"]
    changed = "SELECT contact_id FROM segment_history WHERE segment_id = ? AND refresh_id = ? AND change = ?"
    if left:
        store.execute(f"DELETE FROM segment_members WHERE segment_id = ? AND contact_id IN ({changed})", (sid, sid, refresh_id, "left"))
    if entered and not members_written:
        store.execute(f"INSERT INTO segment_members (segment_id, contact_id, since) SELECT ?, contact_id, ? FROM ({changed}) AS ch",
                      (sid, at, sid, refresh_id, "entered"))
    store.execute('UPDATE segment_refreshes SET size = ?, entered = ?, "left" = ? WHERE id = ?', (size, entered, left, refresh_id))
    if (entered or left) and crm.hook_impls("crm_segment_membership_changed"):
        ids = {kind: [r[0] for r in store.execute(changed + " ORDER BY contact_id", (sid, refresh_id, kind))] for kind in ("entered", "left")}
        crm.emit("crm_segment_membership_changed", crm=crm, segment=_public(segment), entered=ids["entered"], left=ids["left"])
    return {"segment": segment["name"], "size": size, "entered": entered, "left": left, "at": at}


def _public(row):
    return {k: row[k] for k in ("id", "name", "kind", "rule", "description")}


def _temp_table(store):
    store.execute("CREATE TEMP TABLE IF NOT EXISTS _segment_new (contact_id INTEGER PRIMARY KEY)")
    store.execute("DELETE FROM _segment_new")


def refresh_order(crm, names=None):
    """Dynamic segments in an order where referenced segments come first."""
    rows = {r["name"]: r for r in crm.store.query("SELECT * FROM segments WHERE kind = 'dynamic' ORDER BY name")}
    if names:
        for name in names:
            row = require_segment(crm, name)
            if row["kind"] != "dynamic":
                raise CRMError(f"{name!r} is a static segment: it has no rule to refresh")
        wanted = list(names)
    else:
        wanted = list(rows)
    ordered, seen = [], set()

    def visit(name):
        if name in seen or name not in rows:
            return
        seen.add(name)
        for dep in referenced_segments(rows[name]["rule"]):
            if dep in wanted:
                visit(dep)
        ordered.append(rows[name])

    for name in wanted:
        visit(name)
    return ordered


def refresh(crm, names=None, today=None, at=None, skipped=None):
    """Materialise the membership of the named (default: all) dynamic segments.

    Returns one summary dict per segment. Each segment commits on its own so a
    broken rule leaves the others refreshed. Refreshing all, a segment that
    uses a field of a disabled plugin is skipped and its one-line reason
    appended to ``skipped``; named, it is an error."""
    results = []
    for segment in refresh_order(crm, names):
        stamp = at or normalize.now()
        try:
            sql, params = compile_segment(crm, segment, today)
        except DisabledField as exc:
            if names:
                raise
            if skipped is not None:
                skipped.append(str(exc))
            continue
        with crm.store.transaction():
            first = crm.store.query_value("SELECT 1 FROM segment_members WHERE segment_id = ? LIMIT 1", (segment["id"],)) is None
            if first:
                with database_refusal(crm.store, f"segment {segment['name']!r}"):
                    results.append(_apply_first(crm, segment, stamp, sql, params))
            else:
                _temp_table(crm.store)
                with database_refusal(crm.store, f"segment {segment['name']!r}"):
                    crm.store.execute(f"INSERT INTO _segment_new (contact_id) {sql}", params)
                results.append(_apply(crm, segment, stamp))
            crm.store.execute("UPDATE segments SET refreshed_at = ? WHERE id = ?", (stamp, segment["id"]))
    return results


def add_members(crm, name, refs, remove=False, at=None):
    """Add (or remove) contacts, by id or e-mail, to a static segment; all or nothing."""
    segment = require_segment(crm, name)
    if segment["kind"] != "static":
        raise CRMError(f"{name!r} is a dynamic segment: its members come from its rule (crm segments refresh)")
    ids = []
    for where, ref in refs:
        try:
            ids.append(crm.find_contact(ref)["id"])
        except CRMError as exc:
            raise CRMError(f"{where}: {exc}" if where else str(exc)) from None
    stamp = at or normalize.now()
    current = set(contact_ids(crm, name))
    new = (current - set(ids)) if remove else (current | set(ids))
    with crm.store.transaction():
        _temp_table(crm.store)
        crm.store.executemany("INSERT INTO _segment_new (contact_id) VALUES (?)", ((c,) for c in new))
        result = _apply(crm, segment, stamp)
        crm.store.execute("UPDATE segments SET refreshed_at = ? WHERE id = ?", (stamp, segment["id"]))
    return result


def emails_from_file(path):
    """``(where, e-mail)`` pairs from a CSV/JSON file with an e-mail column."""
    from crmcore import read_rows

    out = []
    for number, row in read_rows(path):
        key = next((k for k in row if k.strip().lower().replace("-", "").replace("_", "") in ("email", "emailaddress", "mail")), None)
        if key is None:
            raise CRMError(f"{path}: row {number}: no e-mail column (name one 'email')")
        value = str(row[key] or "").strip()
        if not value:
            raise CRMError(f"{path}: row {number}: email: empty")
        out.append((f"{path}: row {number}: email", value))
    return out


MEMBER_COLUMNS = "c.id, c.first_name, c.last_name, c.email, c.country, c.city, c.owner"


def members(crm, name, limit=None, today=None):
    """Member contacts as dicts (id, name, e-mail, country, city, owner, since)."""
    segment = require_segment(crm, name)
    if segment["kind"] == "dynamic" and segment["refreshed_at"] is None:
        rule_sql, params = compile_segment_rule(crm, segment["rule"], today)
        sql = f"SELECT {MEMBER_COLUMNS}, NULL AS since FROM contacts c WHERE c.id IN ({rule_sql}) ORDER BY c.id"
    else:
        sql = (f"SELECT {MEMBER_COLUMNS}, m.since FROM segment_members m JOIN contacts c ON c.id = m.contact_id "
               "WHERE m.segment_id = ? ORDER BY c.id")
        params = [segment["id"]]
    if limit:
        sql += " LIMIT ?"
        params = [*params, limit]
    with database_refusal(crm.store, f"segment {name!r}"):
        return crm.store.query(sql, params)


def history(crm, name, limit=None):
    """Entered/left events, newest first."""
    segment = require_segment(crm, name)
    sql = ("SELECT h.at, h.change, h.contact_id, c.email, trim(c.first_name || ' ' || c.last_name) AS name FROM segment_history h "
           "LEFT JOIN contacts c ON c.id = h.contact_id WHERE h.segment_id = ? ORDER BY h.refresh_id DESC, h.change, h.contact_id")
    params = [segment["id"]]
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return crm.store.query(sql, params)


def refreshes(crm, name):
    segment = require_segment(crm, name)
    return crm.store.query('SELECT at, size, entered, "left" FROM segment_refreshes WHERE segment_id = ? ORDER BY id', (segment["id"],))


def show(crm, name, today=None):
    """Size, rule, last refresh and what changed then; for a dynamic segment
    also who would enter or leave if it were refreshed now."""
    segment = require_segment(crm, name)
    last = crm.store.query('SELECT at, size, entered, "left" FROM segment_refreshes WHERE segment_id = ? ORDER BY id DESC LIMIT 1',
                           (segment["id"],))
    last = last[0] if last else None
    try:
        size, note = len(contact_ids(crm, name, today)), None
    except DisabledField as exc:  # shown as last stored; it cannot be evaluated now
        size, note = None, str(exc).replace("; not refreshed", "; its members are as last refreshed")
    info = {"name": segment["name"], "kind": segment["kind"], "rule": segment["rule"] or None,
            "description": segment["description"], "size": size,
            "refreshed_at": segment["refreshed_at"], "entered_last_refresh": last["entered"] if last else None,
            "left_last_refresh": last["left"] if last else None}
    if note:
        info["note"] = note
        return info
    if segment["kind"] == "dynamic" and last is not None:
        try:
            sql, params = compile_segment(crm, segment, today)
        except DisabledField as exc:
            info["note"] = str(exc).replace("; not refreshed", "; its members are as last refreshed")
            return info
        with database_refusal(crm.store, f"segment {name!r}"):
            now = {r[0] for r in crm.store.execute(sql, params)}
        stored = set(contact_ids(crm, name))
        info["would_enter_now"] = len(now - stored)
        info["would_leave_now"] = len(stored - now)
    return info


# -- dump / load ----------------------------------------------------------------


def dump(crm, with_members=True):
    """Definitions as plain data: ``{"segments": [...]}``, ready for YAML or JSON."""
    out = []
    for row in crm.store.query("SELECT * FROM segments ORDER BY name"):
        item = {"name": row["name"], "kind": row["kind"]}
        if row["description"]:
            item["description"] = row["description"]
        if row["kind"] == "dynamic":
            item["rule"] = row["rule"]
        elif with_members:
            item["members"] = [r[0] for r in crm.store.execute(
                "SELECT c.email FROM segment_members m JOIN contacts c ON c.id = m.contact_id "
                "WHERE m.segment_id = ? AND c.email IS NOT NULL ORDER BY c.email", (row["id"],))]
        out.append(item)
    return {"segments": out}


def read_data(path):
    """Parse a YAML or JSON file (``.json`` is JSON, anything else YAML)."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise CRMError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise CRMError(f"{path}: not valid UTF-8 text") from None
    is_json = path.lower().endswith(".json")
    try:
        if is_json:
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except Exception as exc:  # yaml and json errors both carry the line in their text
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CRMError(f"{path}: not valid {'JSON' if is_json else 'YAML'}: {first}") from None


def read_definitions(path):
    """The list of segment definitions in a YAML or JSON file."""
    data = read_data(path)
    items = data.get("segments") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise CRMError(f"{path}: expected a list of segments under 'segments'")
    return items


def load(crm, path, today=None):
    """Create or update the segments in a definitions file; all or nothing."""
    items = read_definitions(path)
    created = updated = 0
    with crm.store.transaction():
        # Definitions first (rules may refer to segments later in the file), then check every rule.
        for i, item in enumerate(items, start=1):
            where = f"{path}: segment {i}"
            if not isinstance(item, dict):
                raise CRMError(f"{where}: expected a mapping with name and rule or members")
            unknown = set(item) - {"name", "kind", "rule", "description", "members"}
            if unknown:
                raise CRMError(f"{where}: unknown key {sorted(unknown)[0]!r} (name, kind, rule, description, members)")
            kind = item.get("kind") or ("static" if "members" in item else "dynamic")
            data = {"name": str(item.get("name") or ""), "kind": kind, "rule": item.get("rule") or "",
                    "description": item.get("description") or ""}
            try:
                seg = build(Segment, data)
            except FieldError as exc:
                raise CRMError(f"{where}: {exc.field}: {exc.reason}") from None
            row = get_segment(crm, seg.name)
            if row is None:
                crm.add(seg)
                created += 1
            else:
                if row["kind"] != seg.kind:
                    raise CRMError(f"{where}: {seg.name!r} exists as a {row['kind']} segment; delete it first to change its kind")
                crm.update("segments", row["id"], {"rule": seg.rule, "description": seg.description})
                updated += 1
        for i, item in enumerate(items, start=1):
            name = str(item["name"]).strip()
            if (item.get("kind") or ("static" if "members" in item else "dynamic")) == "dynamic":
                try:
                    _check_rule(crm, name, item.get("rule") or "")
                except RuleError as exc:
                    raise CRMError(f"{path}: segment {i} ({name}): {exc}") from None
            elif item.get("members") is not None:
                refs = item["members"]
                if not isinstance(refs, list):
                    raise CRMError(f"{path}: segment {i} ({name}): members must be a list of e-mails or ids")
                segment = get_segment(crm, name)
                ids = []
                for ref in refs:
                    try:
                        ids.append(crm.find_contact(ref)["id"])
                    except CRMError as exc:
                        raise CRMError(f"{path}: segment {i} ({name}): {exc}") from None
                _temp_table(crm.store)
                crm.store.executemany("INSERT INTO _segment_new (contact_id) VALUES (?) ON CONFLICT DO NOTHING", ((c,) for c in ids))
                stamp = normalize.now()
                _apply(crm, segment, stamp)
                crm.store.execute("UPDATE segments SET refreshed_at = ? WHERE id = ?", (stamp, segment["id"]))
    return {"created": created, "updated": updated}


# -- keeping membership tidy when contacts go ---------------------------------------


def forget_contacts(crm, ids):
    """Remove deleted or erased contacts from membership, history, RFM and lifetime value."""
    for table in ("segment_members", "segment_history", "segment_rfm", "segment_clv"):
        crm.store.execute(f"DELETE FROM {table} WHERE contact_id IN ({crm.store.dialect.json_values()})", (json.dumps(list(ids)),))


def merge_contacts(crm, keep_id, duplicate_id):
    """Static lists keep the person: the kept contact takes the duplicate's places."""
    crm.store.execute(
        "INSERT INTO segment_members (segment_id, contact_id, since) SELECT m.segment_id, ?, m.since "
        "FROM segment_members m JOIN segments s ON s.id = m.segment_id WHERE s.kind = 'static' AND m.contact_id = ? "
        "ON CONFLICT DO NOTHING",
        (keep_id, duplicate_id))
    crm.store.execute("UPDATE segment_history SET contact_id = ? WHERE contact_id = ?", (keep_id, duplicate_id))
    forget_contacts(crm, [duplicate_id])


def today_from(value):
    """``--as-of`` text -> date (today when empty)."""
    if not value:
        return dt.date.today()
    try:
        return normalize.date(value)
    except ValueError as exc:
        raise CRMError(f"--as-of: {exc}") from None
