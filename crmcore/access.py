"""Who may see and do what: roles, permissions and the record filter.

Every list, get and search of the web app (and of anything else acting for a
logged-in user) goes through the functions here, on both stores; pages never
build their own access rules.

Roles:

- ``admin``: everything, including users and plugins;
- ``manager``: every record, reports and segments;
- ``sales``: contacts, companies, deals, activities and orders in their
  territories (answered by plugins through ``crm_contact_scope``) and the
  contacts, deals and tasks they own (``owner`` equal to their e-mail or name);
- ``service``: contacts (read) and activities;
- ``viewer``: reads every record and report, changes nothing.

``scope(crm, user, table)`` is the one filter: ``(sql, params)`` over the
table aliased by its first letter (``c`` contacts, ``co`` companies, ``d``
deals, ``a`` activities, ``o`` orders), values bound.
"""

from . import schema
from .errors import CRMError

PERMISSIONS = {
    "admin": {"*"},
    "manager": {"contacts:read", "contacts:write", "companies:read", "companies:write", "deals:read", "deals:write",
                "activities:read", "activities:write", "orders:read", "reports:read", "segments:read", "segments:write",
                "contacts:delete", "deals:delete", "activities:delete"},
    "sales": {"contacts:read", "contacts:write", "companies:read", "deals:read", "deals:write", "activities:read",
              "activities:write", "orders:read", "deals:delete", "activities:delete"},
    "service": {"contacts:read", "activities:read", "activities:write"},
    "viewer": {"contacts:read", "companies:read", "deals:read", "activities:read", "orders:read", "reports:read", "segments:read"},
}
#: Roles limited to their territories and own records.
SCOPED_ROLES = ("sales",)
ALIASES = {"contacts": "c", "companies": "co", "deals": "d", "activities": "a", "orders": "o"}
PAGE_SIZE = 50


class NotFound(CRMError):
    """The record does not exist, or the user may not see it (the same answer for both)."""


class Forbidden(CRMError):
    """The user's role does not allow this."""


def can(user, permission, permissions=None):
    """True when ``user`` (a user dict) holds ``permission`` (``"contacts:read"``...).

    ``permissions``: role -> permissions, when plugins declared more than
    ``PERMISSIONS`` (the web app passes its merged table)."""
    if user is None:
        return False
    granted = (permissions or PERMISSIONS).get(user["role"], set())
    return "*" in granted or permission in granted


def require(user, permission):
    if not can(user, permission):
        raise Forbidden(f"your role ({user['role'] if user else 'anonymous'}) does not allow {permission}")


def _own(user):
    """The values of ``owner`` that mean this user."""
    return [v for v in (user["email"], user.get("name")) if v]


def contact_scope(crm, user):
    """``(sql, params)`` over contacts ``c``: the contacts ``user`` may see."""
    if user is None:
        return "1 = 0", []
    if user["role"] not in SCOPED_ROLES:
        return "1 = 1", []
    own = _own(user)
    parts = [f"c.owner IN ({', '.join('?' * len(own))})"]
    params = list(own)
    for answer in crm.emit("crm_contact_scope", crm=crm, user=user):
        if isinstance(answer, tuple):
            sql, extra = answer
            parts.append(f"({sql})")
            params.extend(extra)
        else:
            ids = sorted(int(i) for i in answer)
            if ids:
                parts.append(f"c.id IN ({crm.store.dialect.json_values('int')})")
                params.append(_json(ids))
    return "(" + " OR ".join(parts) + ")", params


def _json(ids):
    import json

    return json.dumps(ids)


def scope(crm, user, table):
    """``(sql, params)``: the rows of ``table`` ``user`` may see (aliased, see the module doc)."""
    if table not in ALIASES:
        raise CRMError(f"no access rule for table {table!r}")
    if not can(user, f"{table}:read"):
        return "1 = 0", []
    if user["role"] not in SCOPED_ROLES:
        return "1 = 1", []
    csql, cparams = contact_scope(crm, user)
    own = _own(user)
    owned = ", ".join("?" * len(own))
    if table == "contacts":
        return csql, cparams
    if table == "companies":
        return (f"(co.owner IN ({owned}) OR EXISTS (SELECT 1 FROM contacts c WHERE c.company_id = co.id AND {csql}))",
                [*own, *cparams])
    if table == "deals":
        return (f"(d.owner IN ({owned}) OR EXISTS (SELECT 1 FROM contacts c WHERE c.id = d.contact_id AND {csql}))",
                [*own, *cparams])
    if table == "activities":
        return (f"(a.owner IN ({owned}) OR EXISTS (SELECT 1 FROM contacts c WHERE c.id = a.contact_id AND {csql}))",
                [*own, *cparams])
    return f"EXISTS (SELECT 1 FROM contacts c WHERE c.id = o.contact_id AND {csql})", cparams


def _cls(crm, table):
    return crm.record_type(table)


def get(crm, user, table, record_id):
    """One record ``user`` may see, decoded; ``NotFound`` otherwise."""
    sql, params = scope(crm, user, table)
    alias = ALIASES[table]
    try:
        record_id = int(record_id)
    except (TypeError, ValueError):
        raise NotFound(f"no {table} record {record_id!r}") from None
    rows = crm.store.query(f"SELECT {alias}.* FROM {table} {alias} WHERE {alias}.id = ? AND {sql}", [record_id, *params])
    if not rows:
        raise NotFound(f"no {table} record {record_id}")
    return schema.decode_row(_cls(crm, table), rows[0])


def page(crm, user, table, after=None, limit=PAGE_SIZE, where=None):
    """One page of ``table`` by id, keyset-paged: rows with id > ``after``.

    Returns ``(rows, next_after)``; ``next_after`` is ``None`` on the last page.
    Never counts the table and never uses OFFSET. ``where``: an extra
    ``(sql, params)`` over the same alias (the caller's filter, values bound)."""
    sql, params = scope(crm, user, table)
    alias = ALIASES[table]
    clauses, values = [sql], list(params)
    if after not in (None, ""):
        try:
            after = int(after)
        except (TypeError, ValueError):
            raise CRMError(f"after={after!r} must be a record id") from None
        clauses.append(f"{alias}.id > ?")
        values.append(after)
    if where:
        clauses.append(where[0])
        values.extend(where[1])
    rows = crm.store.query(
        f"SELECT {alias}.* FROM {table} {alias} WHERE {' AND '.join(clauses)} ORDER BY {alias}.id LIMIT ?", [*values, limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    cls = _cls(crm, table)
    return [schema.decode_row(cls, r) for r in rows], (rows[-1]["id"] if more and rows else None)


def search_contacts(crm, user, text, limit=PAGE_SIZE):
    """Full-text search over the contacts ``user`` may see.

    The store's search ranks candidates (up to 20x ``limit``); the scope keeps
    those the user may see."""
    from . import entities, normalize

    words = [w for w in normalize.text(text).replace('"', " ").split(" ") if w]
    if not words:
        return []
    if user is not None and user["role"] not in SCOPED_ROLES:  # sees every contact: the best `limit` are the answer
        found = crm.store.search("contacts", schema.fts_columns(entities.Contact), words, limit)
        return [schema.decode_row(entities.Contact, r) for r in found]
    candidates = crm.store.search("contacts", schema.fts_columns(entities.Contact), words, limit * 20)
    if not candidates:
        return []
    sql, params = contact_scope(crm, user)
    ids = [r["id"] for r in candidates]
    visible = {r["id"] for r in crm.store.query(
        f"SELECT c.id FROM contacts c WHERE c.id IN ({crm.store.dialect.json_values('int')}) AND {sql}", [_json(ids), *params])}
    return [schema.decode_row(entities.Contact, r) for r in candidates if r["id"] in visible][:limit]


def search_page(crm, user, text, after=None, skip=None, limit=PAGE_SIZE):
    """One page of the contacts ``user`` may see that match ``text``, for the
    search box: ``(rows, next_after, next_skip)``, the work bounded however
    many contacts match (``store.search_page``): up to 200 matches come
    ranked, best first, the next page at ``skip=next_skip``; more come in the
    order they were added, the next page at ``after=next_after`` (keyset,
    never counted). The access filter is part of the query."""
    from . import entities, normalize

    words = [w for w in normalize.text(text).replace('"', " ").split(" ") if w]
    if not words:
        return [], None, None
    try:
        after = int(after) if after not in (None, "") else None
        skip = int(skip) if skip not in (None, "") else 0
    except (TypeError, ValueError):
        raise CRMError("after= and skip= must be whole numbers") from None
    if skip < 0 or skip > 10_000:
        raise CRMError("skip= must be 0-10000")
    where = contact_scope(crm, user)
    found, next_after, next_skip = crm.store.search_page("contacts", schema.fts_columns(entities.Contact), words, limit, "c",
                                                         where=where, after=after, skip=skip)
    return [schema.decode_row(entities.Contact, r) for r in found], next_after, next_skip


def rows(crm, user, table, where=None, order="id", limit=PAGE_SIZE):
    """Rows of ``table`` the user may see, with an extra filter and a fixed order
    (``order`` is SQL the caller owns, never user text)."""
    sql, params = scope(crm, user, table)
    alias = ALIASES[table]
    clauses, values = [sql], list(params)
    if where:
        clauses.append(where[0])
        values.extend(where[1])
    found = crm.store.query(f"SELECT {alias}.* FROM {table} {alias} WHERE {' AND '.join(clauses)} ORDER BY {order} LIMIT ?",
                            [*values, limit])
    cls = _cls(crm, table)
    return [schema.decode_row(cls, r) for r in found]
