"""The ``team`` report: how the team spends its time and what it wins.

Per owner (the ``owner`` field of activities and deals): activities and
tasks done per week, open tasks past due, deals won and lost, open pipeline,
the median days from a deal's creation to its win, and, per lead ``source``,
how many contacts bought and what they spent. "Now" is the newest date in
the data (``data_as_of``) unless ``--param as_of=YYYY-MM-DD`` says otherwise,
so the same database renders the same report tomorrow.
"""

import datetime as dt
import statistics

from . import normalize
from .dashboard import data_as_of
from .errors import CRMError
from .periods import last_12_months

WEEKS = 8


def context(crm, params):
    unknown = sorted(set(params) - {"as_of"})
    if unknown:
        raise CRMError(f"team: unknown --param {unknown[0]!r} (known: as_of)")
    as_of = params.get("as_of") or (data_as_of(crm) or "")[:10]
    try:
        today = normalize.date(as_of) if as_of else dt.date.today()
    except ValueError as exc:
        raise CRMError(f"team: --param as_of: {exc}") from None
    return {"as_of": as_of, "period": last_12_months(today), **figures(crm, today)}


def figures(crm, today):
    """Every figure of the report, as of ``today`` (a date)."""
    from .currency import require_rates

    require_rates(crm)  # revenue per lead source in the base currency
    require_rates(crm, "deals")  # deal values too
    q = crm.store.query
    end = today + dt.timedelta(days=1)
    monday = today - dt.timedelta(days=today.weekday())
    weeks = [monday - dt.timedelta(weeks=WEEKS - 1 - i) for i in range(WEEKS)]
    year_ago = last_12_months(today).since  # the CRM's one "last 12 months"

    done = q("SELECT owner, kind, substr(done_at, 1, 10) AS day FROM activities WHERE done_at IS NOT NULL AND done_at >= ? AND done_at < ?",
             (weeks[0].isoformat(), end.isoformat()))
    owners = sorted({r["owner"] or "(nobody)" for r in done})
    per_week = {o: {w: [0, 0] for w in weeks} for o in owners}
    for r in done:
        day = dt.date.fromisoformat(r["day"])
        week = day - dt.timedelta(days=day.weekday())
        cell = per_week[r["owner"] or "(nobody)"][week]
        cell[0] += 1
        cell[1] += r["kind"] == "task"
    activity = [{"owner": o, **{w.isoformat(): per_week[o][w][0] for w in weeks},
                 "tasks_done": sum(c[1] for c in per_week[o].values()), "total": sum(c[0] for c in per_week[o].values())}
                for o in owners]

    overdue = q("SELECT coalesce(owner, '') AS owner, count(*) AS tasks, min(due_at) AS oldest FROM activities "
                "WHERE kind = 'task' AND done_at IS NULL AND due_at IS NOT NULL AND due_at < ? GROUP BY coalesce(owner, '') "
                "ORDER BY tasks DESC, owner", (today.isoformat(),))

    deals = q("SELECT coalesce(owner, '') AS owner, status, amount * fx_rate AS amount, probability, stage, substr(created_at, 1, 10) AS created, "
              "closed_at FROM deals")
    probability = dict(crm.stages)
    by_owner = {}
    for d in deals:
        row = by_owner.setdefault(d["owner"], {"owner": d["owner"] or "(nobody)", "won": 0, "lost": 0, "won_amount": 0.0,
                                               "open_deals": 0, "pipeline": 0.0, "weighted": 0.0, "_days": []})
        closed_recently = d["closed_at"] and d["closed_at"] >= year_ago
        if d["status"] == "won" and closed_recently:
            row["won"] += 1
            row["won_amount"] += d["amount"] or 0.0
            days = (dt.date.fromisoformat(d["closed_at"][:10]) - dt.date.fromisoformat(d["created"])).days if d["created"] else None
            if days is not None and days >= 0:  # a close date before the creation date is a data error: left out, counted
                row["_days"].append(days)
            elif days is not None:
                row["_inconsistent"] = row.get("_inconsistent", 0) + 1
        elif d["status"] == "lost" and closed_recently:
            row["lost"] += 1
        elif d["status"] == "open":
            row["open_deals"] += 1
            row["pipeline"] += d["amount"] or 0.0
            row["weighted"] += (d["amount"] or 0.0) * probability.get(d["stage"], 0) / 100
    all_days = [n for r in by_owner.values() for n in r["_days"]]
    inconsistent = sum(r.get("_inconsistent", 0) for r in by_owner.values())
    pipeline = []
    for row in sorted(by_owner.values(), key=lambda r: (-r["won_amount"], r["owner"])):
        days = row.pop("_days")
        row.pop("_inconsistent", None)
        closed = row["won"] + row["lost"]
        pipeline.append({**row, "won_amount": round(row["won_amount"], 2), "pipeline": round(row["pipeline"], 2),
                         "weighted": round(row["weighted"], 2), "win_rate": round(100 * row["won"] / closed, 1) if closed else None,
                         "median_days_to_win": statistics.median(days) if days else None})

    sources = q("SELECT coalesce(nullif(c.source, ''), '(none)') AS source, count(*) AS contacts, "
                "sum(CASE WHEN s.orders > 0 THEN 1 ELSE 0 END) AS buyers, coalesce(sum(s.revenue), 0) AS revenue "
                "FROM contacts c LEFT JOIN (SELECT contact_id, count(*) AS orders, sum(total * fx_rate) AS revenue FROM orders "
                "GROUP BY contact_id) AS s ON s.contact_id = c.id GROUP BY coalesce(nullif(c.source, ''), '(none)') "
                "ORDER BY revenue DESC, source")
    conversion = [{**r, "revenue": round(float(r["revenue"]), 2), "bought_pct": round(100 * r["buyers"] / r["contacts"], 1),
                   "revenue_per_contact": round(float(r["revenue"]) / r["contacts"], 2)} for r in sources]
    partial = today.weekday() != 6  # the week of "today" is partial unless today is its Sunday
    columns = [("owner", "Owner", "")] + [(w.isoformat(), "week of " + w.isoformat()[5:] + (" (partial)" if partial and w == weeks[-1] else ""), "num")
                                          for w in weeks]
    columns += [("tasks_done", "Tasks done", "num"), ("total", "All done", "num")]
    return {"weeks": [w.isoformat() for w in weeks], "activity": activity, "activity_columns": columns, "overdue": overdue, "pipeline": pipeline,
            "median_days_to_win": statistics.median(all_days) if all_days else None, "closed_before_created": inconsistent,
            "conversion": conversion}
