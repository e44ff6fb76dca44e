"""Retention cohorts: customers grouped by the period of their first order.

For every cohort (the month or quarter of a customer's first order up to the
as-of date) and every period since (0 = the first period, 1 = the next, ...):

- ``customers``: the cohort's size (customers whose first order fell in it)
- ``active``   : how many of them ordered in that period
- ``revenue``  : what they spent in that period
- ``rate``     : ``active / customers`` (metric ``customers``), or the period's
                 revenue as a share of the cohort's period-0 revenue (metric
                 ``revenue``)
- ``partial``  : the period contains the as-of date and does not end on it,
                 so it is still running and its numbers will grow

Per calendar period (``periods``): the customers who ordered in the period
before (``start``), how many of them ordered again in this one
(``retained``), the retention rate ``retained / start`` and the churn rate
``1 - retention``; plus new customers and all active ones.

``crm segments cohorts`` over all customers keeps a small summary for the
dashboard (``save_summary``): how many of the customers are still buying 1,
2, 3 ... periods after their first, pooled over every cohort whose period is
complete. Recomputing cohorts reads every order, too slow for a dashboard
at a million customers; the stored summary states its as-of date, as the
RFM scores do.

Dates are ISO text in both stores, so a period is read from the date's
characters (``substr``), the same on SQLite and PostgreSQL; only orders with
a customer and dated up to the as-of date count.
"""

import datetime as dt
import json

from crmcore import CRMError, require_rates

COHORT_FIELDS = ["cohort", "period", "customers", "active", "rate", "revenue", "partial"]
PERIOD_FIELDS = ["period", "start", "retained", "retention_rate", "churn_rate", "new", "active", "revenue", "partial"]
BY = ("month", "quarter")
METRICS = ("customers", "revenue")

_YEAR = "CAST(substr(o.ordered_at, 1, 4) AS INTEGER)"
_MONTH = "CAST(substr(o.ordered_at, 6, 2) AS INTEGER)"
#: A period as one whole number (months or quarters since year 0), so that
#: "periods since the first" is a subtraction.
INDEX_SQL = {
    "month": f"{_YEAR} * 12 + {_MONTH} - 1",
    "quarter": f"{_YEAR} * 4 + ({_MONTH} - 1) / 3",
}

COHORT_SQL = """
WITH act AS (
    SELECT o.contact_id, {index} AS p, sum(o.total * o.fx_rate) AS revenue
    FROM orders o WHERE o.contact_id IS NOT NULL AND o.ordered_at <= ? {only}
    GROUP BY o.contact_id, {index}
), first AS (
    SELECT contact_id, min(p) AS c FROM act GROUP BY contact_id
)
SELECT f.c AS cohort, a.p - f.c AS period, count(*) AS active, sum(a.revenue) AS revenue
FROM act a JOIN first f ON f.contact_id = a.contact_id
GROUP BY f.c, a.p - f.c
"""

# Customers active in a period and the one before it: the retained.
RETAINED_SQL = """
WITH act AS (
    SELECT DISTINCT o.contact_id, {index} AS p
    FROM orders o WHERE o.contact_id IS NOT NULL AND o.ordered_at <= ? {only}
)
SELECT a.p AS p, count(*) AS retained FROM act a JOIN act b ON b.contact_id = a.contact_id AND b.p = a.p - 1
GROUP BY a.p
"""


def label(index, by):
    """``2025-03`` (month) or ``2025-Q1`` (quarter) of a period index."""
    if by == "month":
        return f"{index // 12:04d}-{index % 12 + 1:02d}"
    return f"{index // 4:04d}-Q{index % 4 + 1}"


def period_index(day, by):
    return day.year * 12 + day.month - 1 if by == "month" else day.year * 4 + (day.month - 1) // 3


def period_end(index, by):
    """Last day of a period index."""
    months = 1 if by == "month" else 3
    first_month = index * months if by == "month" else index * 3
    year, month = divmod(first_month + months, 12)  # first month of the next period
    return dt.date(year, month + 1, 1) - dt.timedelta(days=1)


def _check(by, metric):
    if by not in BY:
        raise CRMError(f"--by: {by!r} is not one of {', '.join(BY)}")
    if metric not in METRICS:
        raise CRMError(f"--metric: {metric!r} is not one of {', '.join(METRICS)}")


def _only(crm, segment):
    if not segment:
        return "", []
    ids = crm.segment_contact_ids(segment)  # raises the one-line error for an unknown segment
    return f"AND o.contact_id IN ({crm.store.dialect.json_values()})", [json.dumps(list(ids))]


def cohorts(crm, by="month", metric="customers", segment=None, as_of=None):
    """Rows of ``COHORT_FIELDS``, by cohort then period; every period from the
    cohort's first up to the as-of period is listed, with zeros where nobody
    bought."""
    _check(by, metric)
    require_rates(crm)  # revenue in the base currency
    as_of = as_of or dt.date.today()
    only, params = _only(crm, segment)
    found = {}
    for r in crm.store.query(COHORT_SQL.format(index=INDEX_SQL[by], only=only), [as_of.isoformat(), *params]):
        found[(int(r["cohort"]), int(r["period"]))] = (r["active"], float(r["revenue"] or 0.0))
    last = period_index(as_of, by)
    partial = period_end(last, by) != as_of
    rows = []
    for cohort in sorted({c for c, _ in found}):
        size, base_revenue = found[(cohort, 0)]
        for period in range(0, last - cohort + 1):
            active, revenue = found.get((cohort, period), (0, 0.0))
            if metric == "customers":
                rate = active / size
            else:
                rate = revenue / base_revenue if base_revenue else None
            rows.append({"cohort": label(cohort, by), "period": period, "customers": size, "active": active,
                         "rate": None if rate is None else round(rate, 4), "revenue": round(revenue, 2),
                         "partial": partial and cohort + period == last})
    return rows


def periods(crm, by="month", segment=None, as_of=None, cohort_rows=None):
    """Retention and churn per calendar period (rows of ``PERIOD_FIELDS``)."""
    _check(by, "customers")
    as_of = as_of or dt.date.today()
    rows = cohort_rows if cohort_rows is not None else cohorts(crm, by, "customers", segment, as_of)
    only, params = _only(crm, segment)
    retained = {int(r["p"]): r["retained"] for r in crm.store.query(
        RETAINED_SQL.format(index=INDEX_SQL[by], only=only), [as_of.isoformat(), *params])}
    first = last = None
    active, revenue, new = {}, {}, {}
    for r in rows:
        start = _parse(r["cohort"], by)
        p = start + r["period"]
        active[p] = active.get(p, 0) + r["active"]
        revenue[p] = revenue.get(p, 0.0) + r["revenue"]
        if r["period"] == 0:
            new[p] = r["customers"]
        first = p if first is None else min(first, p)
        last = p if last is None else max(last, p)
    out = []
    if first is None:
        return out
    end = period_index(as_of, by)
    for p in range(first, last + 1):
        start = active.get(p - 1, 0)
        kept = retained.get(p, 0)
        rate = kept / start if start else None
        out.append({"period": label(p, by), "start": start, "retained": kept,
                    "retention_rate": None if rate is None else round(rate, 4),
                    "churn_rate": None if rate is None else round(1 - rate, 4),
                    "new": new.get(p, 0), "active": active.get(p, 0), "revenue": round(revenue.get(p, 0.0), 2),
                    "partial": p == end and period_end(end, by) != as_of})
    return out


def _parse(text, by):
    year = int(text[:4])
    if by == "month":
        return year * 12 + int(text[5:7]) - 1
    return year * 4 + int(text[6]) - 1


def grid(rows, metric="customers", limit=None):
    """The heat grid: one line per cohort (newest last), one cell per period,
    shaded by ``rate`` (0..1, rates above 1 shade fully)."""
    by_cohort = {}
    for r in rows:
        by_cohort.setdefault(r["cohort"], []).append(r)
    cohorts_ = list(by_cohort.items())[-limit:] if limit else list(by_cohort.items())
    width = max((len(cells) for _, cells in cohorts_), default=0)
    lines = []
    for name, cells in cohorts_:
        lines.append({"cohort": name, "customers": cells[0]["customers"],
                      "cells": [{"period": c["period"], "active": c["active"], "revenue": c["revenue"], "rate": c["rate"],
                                 "partial": c["partial"], "shade": round(min(c["rate"] or 0.0, 1.0), 2)} for c in cells]})
    return {"lines": lines, "width": width, "metric": metric}


SUMMARY_SETTING = "segments.retention"
#: Periods since the first kept for the dashboard.
SUMMARY_PERIODS = 12


def retention_curve(rows, periods=SUMMARY_PERIODS):
    """Per period since the first (1..``periods``): of the customers of every
    cohort that has completed that period, how many bought in it.
    Partial periods are left out."""
    out = []
    for k in range(1, periods + 1):
        cells = [r for r in rows if r["period"] == k and not r["partial"]]
        if not cells:
            break
        customers = sum(r["customers"] for r in cells)
        active = sum(r["active"] for r in cells)
        out.append({"period": k, "cohorts": len(cells), "customers": customers, "active": active,
                    "rate": round(active / customers, 4) if customers else None})
    return out


def save_summary(crm, by, as_of, rows):
    """Keep the retention curve of a run over every customer for the dashboard."""
    last = period_index(as_of, by)
    crm.set_setting(SUMMARY_SETTING, {
        "by": by, "as_of": as_of.isoformat(), "current": label(last, by),
        "current_partial": period_end(last, by) != as_of,
        "customers": sum(r["customers"] for r in rows if r["period"] == 0),
        "curve": retention_curve(rows),
    })


def stored_summary(crm):
    return crm.get_setting(SUMMARY_SETTING, None)
