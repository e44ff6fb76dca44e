"""Read-side library functions: lists with filters, and what a person sees
about one contact, company or order. The CLI and the web app call these;
neither holds SQL of its own.
"""

from . import entities, normalize, schema
from .errors import CRMError
from .store import quote_name

#: Filters that are not plain equality on a field: table -> name -> SQL builder.
_SPECIAL_FILTERS = {
    "contacts": {"tag": lambda store: store.dialect.json_array_contains("contacts.tags")},
    "activities": {"open": lambda store: "(CASE WHEN done_at IS NULL THEN 1 ELSE 0 END) = ?",
                   "due_before": lambda store: "(done_at IS NULL AND due_at IS NOT NULL AND due_at < ?)",
                   "due_from": lambda store: "due_at >= ?"},
    "orders": {"since": lambda store: "ordered_at >= ?"},
}


def _where(crm, table, filters):
    """``(sql, params)`` of the WHERE clause for ``filters`` (see ``list_records``)."""
    known = schema.field_names(crm.record_type(table))
    special = _SPECIAL_FILTERS.get(table, {})
    where, params = [], []
    for name, value in (filters or {}).items():
        if value in (None, ""):
            continue
        if name in special:
            where.append(special[name](crm.store))
        elif name in known:
            where.append(f"{quote_name(name)} = ?")
        else:
            raise CRMError(f"cannot filter {table} by {name!r}")
        params.append(int(value) if isinstance(value, bool) else value)
    return (" WHERE " + " AND ".join(where) if where else ""), params


def list_records(crm, table, filters=None, sort="id", limit=100):
    """Records of ``table`` as decoded dicts.

    ``filters``: ``{field: value}`` for equality (``None`` or ``""`` values are
    ignored), plus ``tag`` (contacts with that tag), ``open`` (activities not
    done), ``due_before``/``due_from`` (open tasks by due time) and ``since``
    (orders on or after a date). ``sort`` is a field name, ``name:desc`` to
    reverse; ``limit`` 0 means all."""
    cls = crm.record_type(table)
    known = schema.field_names(cls)
    where, params = _where(crm, table, filters)
    sort_col, _, direction = (sort or "id").partition(":")
    if sort_col not in known:
        raise CRMError(f"cannot sort by {sort_col!r} (choose from {', '.join(known)})")
    sql = f"SELECT * FROM {quote_name(table)}{where}"
    sql += f" ORDER BY {quote_name(sort_col)} {'DESC' if direction.lower() == 'desc' else 'ASC'}, id"
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return [schema.decode_row(cls, r) for r in crm.store.query(sql, params)]


CONTACT_FILTERS = ("country", "tag", "owner", "consent", "segment")


def contact_filter(crm, filters):
    """``(sql, params)`` over contacts aliased ``c`` for the filters people use
    on lists: ``country`` (code or name), ``tag``, ``owner``, ``consent``
    (``yes``/``no``) and ``segment`` (a segment's members, asked of whichever
    plugin knows segments). Empty values are ignored; values are bound."""
    import json

    clauses, params = [], []
    given = {k: str(v).strip() for k, v in (filters or {}).items() if k in CONTACT_FILTERS and str(v or "").strip()}
    if "country" in given:
        try:
            params.append(normalize.country(given["country"]))
        except ValueError as exc:
            raise CRMError(f"country: {exc}") from None
        clauses.append("c.country = ?")
    if "tag" in given:
        clauses.append(crm.store.dialect.json_array_contains("c.tags"))
        params.append(given["tag"])
    if "owner" in given:
        clauses.append("c.owner = ?")
        params.append(given["owner"])
    if "consent" in given:
        if given["consent"] not in ("yes", "no"):
            raise CRMError(f"consent must be yes or no, not {given['consent']!r}")
        clauses.append("c.consent = ?")
        params.append(1 if given["consent"] == "yes" else 0)
    if "segment" in given:
        clauses.append(f"c.id IN ({crm.store.dialect.json_values()})")
        params.append(json.dumps(crm.segment_contact_ids(given["segment"])))
    return (" AND ".join(clauses), params) if clauses else None


def count_records(crm, table, filters=None):
    """How many records ``list_records`` would give without a limit."""
    where, params = _where(crm, table, filters)
    return crm.store.query_value(f"SELECT count(*) FROM {quote_name(table)}{where}", params)


def task_window(due=None, overdue=False, now=None):
    """Filters for open tasks: ``overdue`` (due before now, not done), ``due``
    ``today`` (due before tomorrow, overdue included) or ``week`` (the next 7
    days, overdue included). Times are the CRM's local ISO timestamps."""
    import datetime as dt

    now = now or dt.datetime.fromisoformat(normalize.now())
    filters = {}
    if overdue:
        filters["due_before"] = now.isoformat(timespec="seconds")
    if due:
        days = {"today": 1, "week": 7}[due]
        end = dt.datetime.combine(now.date() + dt.timedelta(days=days), dt.time())
        filters["due_before"] = min(filters.get("due_before", end.isoformat()), end.isoformat(timespec="seconds"))
    return filters


def contact_overview(crm, ref):
    """One contact with deals, order totals and the 10 latest activities."""
    row = crm.find_contact(ref)
    store, cid = crm.store, row["id"]
    from .currency import require_rates

    require_rates(crm, where="contact_id = ?", params=(cid,))  # their total_spent in the base currency
    totals = store.query("SELECT count(*) AS orders, coalesce(sum(total * fx_rate), 0) AS total_spent, max(ordered_at) AS last_order "
                         "FROM orders WHERE contact_id = ?", (cid,))[0]
    facts = {}
    for found in crm.activation.call("crm_contact_facts", crm=crm, contact=row):
        facts.update(found or {})
    return {
        **row,
        "deals": store.query("SELECT id, title, stage, status, amount, currency FROM deals WHERE contact_id = ? ORDER BY id", (cid,)),
        **totals,
        "activities": store.query("SELECT id, kind, subject, due_at, done_at FROM activities WHERE contact_id = ? "
                                  "ORDER BY coalesce(done_at, due_at, created_at) DESC, id DESC LIMIT 10", (cid,)),
        "facts": facts,
    }


def company_overview(crm, ref, today=None):
    """One company with its contacts and deals, and its account figures
    (``accounts.account``): orders, revenue per month, last order, reorder
    interval and whether the next reorder is overdue."""
    from .accounts import account

    row = crm.find_company(ref)
    store = crm.store
    return {
        **row,
        "contacts": store.query("SELECT id, first_name, last_name, email, job_title FROM contacts WHERE company_id = ? ORDER BY id", (row["id"],)),
        "deals": store.query("SELECT id, title, stage, status, amount FROM deals WHERE company_id = ? ORDER BY id", (row["id"],)),
        "account": account(crm, row["id"], today),
    }


def find_order(crm, ref):
    """One order (by ref, or id) with its lines."""
    ref = str(ref).strip()
    rows = crm.store.query("SELECT * FROM orders WHERE ref = ? OR id = ? ORDER BY id LIMIT 1", (ref, int(ref) if ref.isdigit() else None))
    if not rows:
        raise CRMError(f"no order {ref!r}")
    head = schema.decode_row(entities.Order, rows[0])
    head["lines"] = crm.store.query("SELECT id, sku, description, quantity, unit_price FROM order_lines WHERE order_id = ? ORDER BY id",
                                    (head["id"],))
    return head


def parse_since(value):
    """An ISO date from user input, for ``since`` filters."""
    return normalize.date(value).isoformat() if value else None
