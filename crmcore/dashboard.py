"""Queries behind the ``dashboard`` report. Plugins add sections through
``crm_register_dashboard_sections``; a disabled plugin's section disappears.

"Recent" periods count back from the newest date in the data, not from
today, so the same database always renders the same bytes.
"""

import datetime as dt


def _month_back(month, n):
    """``"2024-05"`` minus ``n`` months."""
    y, m = int(month[:4]), int(month[5:7]) - n
    while m < 1:
        y, m = y - 1, m + 12
    return f"{y:04d}-{m:02d}"


def _months(last, count):
    return [_month_back(last, count - 1 - i) for i in range(count)]


def _change(now, before):
    """Percentage change, or ``None`` when there is nothing to compare with."""
    return None if not before else round(100 * (now - before) / before, 1)


PARAMS = {"owner": "show only this sales rep's pipeline and win rate"}


def data_as_of(crm):
    """The date of the newest order or contact (ISO), or ``None`` for an empty CRM.

    Reports count "last 12 months" back from here, not from today, so the same
    database renders the same bytes tomorrow; plugin sections should too."""
    return crm.store.query_value(
        "SELECT max(d) FROM (SELECT max(ordered_at) AS d FROM orders UNION ALL SELECT max(substr(created_at, 1, 10)) FROM contacts) AS latest")


def context(crm, params):
    from .errors import CRMError

    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise CRMError(f"dashboard: unknown --param {unknown[0]!r} (known: " + ", ".join(f"{k} = {v}" for k, v in PARAMS.items()) + ")")
    owner = params.get("owner") or None
    from .currency import require_rates

    require_rates(crm)  # revenue in the base currency, or one line naming the currencies without a rate
    store = crm.store
    q, v = store.query, store.query_value
    as_of = data_as_of(crm)
    last_month = (as_of or dt.date(2000, 1, 1).isoformat())[:7]
    months = _months(last_month, 24)
    contacts = store.count("contacts")

    revenue = {r["month"]: r for r in q(
        "SELECT substr(ordered_at, 1, 7) AS month, sum(total * fx_rate) AS revenue, count(*) AS orders FROM orders "
        "WHERE ordered_at >= ? GROUP BY month", (_month_back(last_month, 23) + "-01",))}
    revenue_by_month = [(m, round(revenue[m]["revenue"], 2) if m in revenue else 0) for m in months]
    rev_12 = sum(r for _, r in revenue_by_month[12:])
    rev_prev = sum(r for _, r in revenue_by_month[:12])
    orders_12 = sum(revenue[m]["orders"] for m in months[12:] if m in revenue)

    new = {r["month"]: r["n"] for r in q(
        "SELECT substr(created_at, 1, 7) AS month, count(*) AS n FROM contacts WHERE created_at >= ? GROUP BY month",
        (_month_back(last_month, 11) + "-01",))}
    new_contacts = [(m, new.get(m, 0)) for m in months[12:]]

    pipeline_rows = crm.pipeline(owner=owner)
    closed = {r["status"]: r for r in q(
        "SELECT status, count(*) AS deals, coalesce(sum(amount * fx_rate), 0) AS amount FROM deals "
        "WHERE status != 'open' AND (CAST(? AS TEXT) IS NULL OR owner = ?) GROUP BY status", (owner, owner))}
    won, lost = closed.get("won", {}).get("deals", 0), closed.get("lost", {}).get("deals", 0)

    countries = q("SELECT coalesce(country, '–') AS country, count(*) AS contacts FROM contacts GROUP BY country ORDER BY contacts DESC, country")
    channels = q("SELECT coalesce(nullif(channel, ''), 'other') AS channel, sum(total * fx_rate) AS revenue FROM orders "
                  "WHERE ordered_at >= ? GROUP BY 1 ORDER BY revenue DESC, channel", (months[12] + "-01",))
    top_customers = q(
        "SELECT coalesce(nullif(trim(c.first_name || ' ' || c.last_name), ''), c.email, '#' || c.id) AS name, coalesce(nullif(c.company, ''), '–') AS company, c.country AS country, "
        "count(o.id) AS orders, sum(o.total * o.fx_rate) AS revenue FROM orders o JOIN contacts c ON c.id = o.contact_id "
        "WHERE o.ordered_at >= ? GROUP BY c.id ORDER BY revenue DESC, c.id LIMIT 10", (months[12] + "-01",))

    sections = []
    for section in crm.registry.dashboard_sections:  # only enabled plugins registered one
        sections.append({"title": section.title, "template": section.template, "context": section.context(crm), "plugin": section.plugin})
    return {
        "as_of": as_of,
        "owner": owner,
        "period": f"{months[12]} to {months[-1]}",
        "totals": {
            "contacts": contacts,
            "companies": store.count("companies"),
            "new_contacts_12": sum(n for _, n in new_contacts),
            "open_deals": sum(r["deals"] for r in pipeline_rows),
            "pipeline_value": sum(r["amount"] for r in pipeline_rows),
            "pipeline_weighted": sum(r["weighted"] for r in pipeline_rows),
            "revenue_12": rev_12,
            "revenue_change": _change(rev_12, rev_prev),
            "orders_12": orders_12,
            "avg_order": rev_12 / orders_12 if orders_12 else None,
            "won": won,
            "lost": lost,
            "win_rate": 100 * won / (won + lost) if won + lost else None,
            "won_amount": closed.get("won", {}).get("amount", 0),
            "consented": v("SELECT count(*) FROM contacts WHERE consent = 1"),
            "consent_rate": 100 * v("SELECT count(*) FROM contacts WHERE consent = 1") / contacts if contacts else None,
        },
        "new_contacts": new_contacts,
        "pipeline": pipeline_rows,
        "pipeline_stacked": [(r["stage"], [r["weighted"], r["amount"] - r["weighted"]]) for r in pipeline_rows],
        "revenue_by_month": revenue_by_month,
        "revenue_by_channel": [(r["channel"], round(r["revenue"], 2)) for r in channels],
        "countries": [(r["country"], r["contacts"]) for r in countries],
        "top_customers": top_customers,
        "sections": sections,
    }


def accounts_context(crm, params):
    """The ``accounts`` report: every account with orders, the late reorders first.

    "Today" is the newest date in the data (``data_as_of``), so the report is
    the same tomorrow; ``--param as_of=YYYY-MM-DD`` sets it."""
    from . import normalize
    from .accounts import account_rows
    from .errors import CRMError

    unknown = sorted(set(params) - {"as_of"})
    if unknown:
        raise CRMError(f"accounts: unknown --param {unknown[0]!r} (known: as_of)")
    as_of = params.get("as_of") or (data_as_of(crm) or "")[:10]
    try:
        today = normalize.date(as_of) if as_of else None
    except ValueError as exc:
        raise CRMError(f"accounts: --param as_of: {exc}") from None
    rows = account_rows(crm, today=today)
    late = sorted((r for r in rows if r["reorder_overdue"]), key=lambda r: (-r["days_late"], r["name"]))
    top = sorted(rows, key=lambda r: (-r["revenue_12m"], r["name"]))
    return {"as_of": as_of, "accounts": top, "late": late, "count": len(rows),
            "revenue_12m": round(sum(r["revenue_12m"] for r in rows), 2),
            "with_interval": sum(1 for r in rows if r["reorder_interval_days"] is not None)}
