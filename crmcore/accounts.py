"""Accounts for wholesale: a company's orders (those of its contacts), revenue
per month, and whether its next reorder is late.

The reorder interval is the mean gap between the account's distinct order
days: (last day - first day) / (days - 1), so it needs two order days. The
next reorder is due one interval after the last order, and overdue once
today is past that day. The same definition drives ``crm companies show``,
the ``accounts`` report and the segment fields ``company.orders``,
``company.revenue_12m`` and ``company.reorder_overdue``.
"""

import datetime as dt
import math

from . import normalize
from .periods import last_12_months

ACCOUNT_FIELDS = ["company_id", "name", "contacts", "orders", "revenue", "revenue_12m", "first_order", "last_order",
                  "reorder_interval_days", "next_reorder", "days_late", "reorder_overdue"]


def _today(today=None):
    return today or dt.date.fromisoformat(normalize.now()[:10])


def account_rows(crm, company_ids=None, today=None):
    """One dict per company with orders (``ACCOUNT_FIELDS``), all or ``company_ids``."""
    from .currency import require_rates

    today = _today(today)
    since = last_12_months(today).since  # the CRM's one "last 12 months"
    where, params = "", [since]
    if company_ids is None:
        require_rates(crm)  # revenue in the base currency
    else:
        import json

        companies = crm.store.dialect.json_values()
        where = f" AND k.id IN ({companies})"
        params.append(json.dumps(list(company_ids)))
        # only these companies' orders: another account's order without a rate blocks nobody here
        require_rates(crm, where=f"contact_id IN (SELECT id FROM contacts WHERE company_id IN ({companies}))", params=params[-1:])
    rows = crm.store.query(
        "SELECT k.id AS company_id, k.name AS name, count(DISTINCT x.id) AS contacts, count(o.id) AS orders, "
        "coalesce(sum(o.total * o.fx_rate), 0) AS revenue, "
        "coalesce(sum(CASE WHEN o.ordered_at >= ? THEN o.total * o.fx_rate ELSE 0 END), 0) AS revenue_12m, "
        "min(substr(o.ordered_at, 1, 10)) AS first_order, max(substr(o.ordered_at, 1, 10)) AS last_order, "
        "count(DISTINCT substr(o.ordered_at, 1, 10)) AS order_days "
        "FROM companies k JOIN contacts x ON x.company_id = k.id JOIN orders o ON o.contact_id = x.id "
        f"WHERE o.ordered_at IS NOT NULL{where} GROUP BY k.id, k.name ORDER BY k.name, k.id", params)
    out = []
    for r in rows:
        first, last, days = r.pop("first_order"), r.pop("last_order"), r.pop("order_days")
        interval = None
        if days >= 2:
            interval = (dt.date.fromisoformat(last) - dt.date.fromisoformat(first)).days / (days - 1)
        # Overdue once more days than the interval have passed: the due day is the last one still on time.
        due = dt.date.fromisoformat(last) + dt.timedelta(days=math.floor(interval)) if interval else None
        late = (today - due).days if due and today > due else 0
        out.append({**r, "revenue": round(r["revenue"], 2), "revenue_12m": round(r["revenue_12m"], 2), "first_order": first,
                    "last_order": last, "reorder_interval_days": None if interval is None else round(interval, 1),
                    "next_reorder": due.isoformat() if due else None, "days_late": late, "reorder_overdue": late > 0})
    return out


def account(crm, company_id, today=None):
    """The account figures of one company, and its revenue per month over the last 12 months."""
    found = account_rows(crm, [company_id], today)
    figures = found[0] if found else {"orders": 0, "revenue": 0.0, "revenue_12m": 0.0, "last_order": None,
                                      "reorder_interval_days": None, "next_reorder": None, "days_late": 0,
                                      "reorder_overdue": False}
    since = last_12_months(_today(today)).since
    months = crm.store.query(
        "SELECT substr(o.ordered_at, 1, 7) AS month, count(*) AS orders, round(CAST(sum(o.total * o.fx_rate) AS NUMERIC), 2) AS revenue "
        "FROM orders o JOIN contacts x ON x.id = o.contact_id WHERE x.company_id = ? AND o.ordered_at >= ? "
        "GROUP BY substr(o.ordered_at, 1, 7) ORDER BY month", (company_id, since))
    return {**{k: v for k, v in figures.items() if k not in ("company_id", "name", "contacts")},
            "revenue_per_month": [{**m, "revenue": float(m["revenue"] or 0)} for m in months]}


def late_accounts(crm, today=None):
    """Accounts whose next reorder is overdue, latest first."""
    return sorted((r for r in account_rows(crm, today=today) if r["reorder_overdue"]), key=lambda r: (-r["days_late"], r["name"]))


def segment_fields(register, store, today=None):
    """``company.orders``, ``company.revenue_12m`` and ``company.reorder_overdue``
    for segment rules, over the contact's company (SQL over contact ``c``)."""
    since = last_12_months(_today(today)).since  # a date we format, never user text
    orders_of = "FROM orders o JOIN contacts x ON x.id = o.contact_id WHERE x.company_id = c.company_id"
    register("company.orders", f"(SELECT count(*) {orders_of})", "number", "orders of the contact's company (all its contacts)")
    register("company.revenue_12m", f"(SELECT coalesce(sum(o.total * o.fx_rate), 0) {orders_of} AND o.ordered_at >= '{since}')", "number",
             "revenue of the contact's company in the last 12 months (the 12 full months before this one, and this one so far; base currency)")
    day = "substr(o.ordered_at, 1, 10)"
    today = _today(today).isoformat()
    span = store.dialect.days_between(f"max({day})", f"min({day})")
    since_last = store.dialect.days_between(f"'{today}'", f"max({day})")
    register("company.reorder_overdue",
             f"(SELECT CASE WHEN count(DISTINCT {day}) >= 2 AND {since_last} * (count(DISTINCT {day}) - 1) > {span} "
             f"THEN 1 ELSE 0 END {orders_of} AND o.ordered_at IS NOT NULL)", "bool",
             "the contact's company is late for its next reorder (mean gap between its order days)")
