"""Queries behind the ``dashboard`` report. Plugins add sections through
``crm_register_dashboard_sections``; a disabled plugin's section disappears.

"Recent" periods count back from the newest date in the data, not from
today, so the same database always renders the same bytes. "The last 12
months" is ``crmcore.periods``' one definition: the 12 full months before
the current month plus the current month so far, marked partial.
"""

from .periods import data_as_of  # its home was here; plugins import it from crmcore


def _change(now, before):
    """Percentage change, or ``None`` when there is nothing to compare with."""
    return None if not before else round(100 * (now - before) / before, 1)


PARAMS = {"owner": "show only this sales rep's pipeline and win rate"}


def context(crm, params):
    from . import periods
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
    period = periods.report_period(crm, as_of)  # the last 12 months
    chart = periods.months_to(period.as_of, 24)  # the revenue chart: two years
    previous = period.previous()
    contacts = store.count("contacts")
    consented = v("SELECT count(*) FROM contacts WHERE consent = 1")

    # per month, and per month split at the report's day of the month, so that a partial month
    # is compared with the same days of its month a year earlier
    revenue = {}
    for r in q("SELECT substr(ordered_at, 1, 7) AS month, CASE WHEN substr(ordered_at, 9, 2) <= ? THEN 1 ELSE 0 END AS early, "
               "sum(total * fx_rate) AS revenue, count(*) AS orders FROM orders "
               "WHERE ordered_at >= ? AND ordered_at < ? GROUP BY 1, 2", (f"{period.as_of.day:02d}", previous.since, period.until)):
        month = revenue.setdefault(r["month"], {"revenue": 0, "orders": 0, "early_revenue": 0, "early_orders": 0})
        month["revenue"] += r["revenue"] or 0
        month["orders"] += r["orders"]
        if r["early"]:
            month["early_revenue"] += r["revenue"] or 0
            month["early_orders"] += r["orders"]

    def total(p, key):
        return sum(revenue.get(m.key, {}).get(("early_" if m.partial else "") + key, 0) for m in p.months)

    revenue_by_month = chart.series({k: round(v["revenue"], 2) for k, v in revenue.items()})
    rev_12, rev_prev = total(period, "revenue"), total(previous, "revenue")
    orders_12 = total(period, "orders")

    new = {r["month"]: r["n"] for r in q(
        "SELECT substr(created_at, 1, 7) AS month, count(*) AS n FROM contacts WHERE created_at >= ? AND created_at < ? GROUP BY month",
        (period.since, period.until))}
    new_contacts = period.series(new)

    pipeline_rows = crm.pipeline(owner=owner)
    closed = {r["status"]: r for r in q(
        "SELECT status, count(*) AS deals, coalesce(sum(amount * fx_rate), 0) AS amount FROM deals "
        "WHERE status != 'open' AND (CAST(? AS TEXT) IS NULL OR owner = ?) GROUP BY status", (owner, owner))}
    won, lost = closed.get("won", {}).get("deals", 0), closed.get("lost", {}).get("deals", 0)

    countries = q("SELECT coalesce(country, '–') AS country, count(*) AS contacts FROM contacts GROUP BY country ORDER BY contacts DESC, country")
    channels = q("SELECT coalesce(nullif(channel, ''), 'other') AS channel, sum(total * fx_rate) AS revenue FROM orders "
                  "WHERE ordered_at >= ? AND ordered_at < ? GROUP BY 1 ORDER BY revenue DESC, channel", (period.since, period.until))
    # The ten best customers' sums first, then their names: joining every order of the year to its
    # contact before grouping took 3-4x as long (the dashboard's slowest statement).
    top_customers = q(
        "SELECT coalesce(nullif(trim(c.first_name || ' ' || c.last_name), ''), c.email, '#' || c.id) AS name, coalesce(nullif(c.company, ''), '–') AS company, c.country AS country, "
        "t.orders AS orders, t.revenue AS revenue FROM (SELECT contact_id, count(*) AS orders, sum(total * fx_rate) AS revenue FROM orders "
        "WHERE ordered_at >= ? AND ordered_at < ? AND contact_id IS NOT NULL GROUP BY contact_id ORDER BY revenue DESC, contact_id LIMIT 10) AS t "
        "JOIN contacts c ON c.id = t.contact_id ORDER BY t.revenue DESC, c.id", (period.since, period.until))

    sections = []
    for section in crm.registry.dashboard_sections:  # only enabled plugins registered one
        sections.append({"title": section.title, "template": section.template, "context": section.context(crm), "plugin": section.plugin})
    return {
        "as_of": as_of,
        "owner": owner,
        "period": period,
        "chart_period": chart,
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
            "consented": consented,
            "consent_rate": 100 * consented / contacts if contacts else None,
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
    from .periods import last_12_months

    return {"as_of": as_of, "period": last_12_months(today) if today else None, "accounts": top, "late": late, "count": len(rows),
            "revenue_12m": round(sum(r["revenue_12m"] for r in rows), 2),
            "with_interval": sum(1 for r in rows if r["reorder_interval_days"] is not None)}
