"""The ``service`` report and the dashboard section.

Reproducible: figures count back from the newest case activity in the data,
never from the clock, so the same database gives the same bytes."""

import datetime as dt
import json
from collections import Counter

from . import sla as sla_module
from .records import DONE, PRIORITIES, STATUSES

OPEN = [s for s in STATUSES if s not in DONE]
WEEKS = 12


def percentile(values, p):
    """The nearest-rank percentile of ``values`` (``None`` for none)."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    rank = max(1, -(-len(values) * p // 100))  # ceil
    return values[int(rank) - 1]


def _hours(seconds):
    return None if seconds is None else round(seconds / 3600, 1)


def newest_activity(crm):
    """The latest moment something happened to a case (created, answered, solved, closed)."""
    return crm.store.query_value(
        "SELECT max(t) FROM (SELECT max(created_at) AS t FROM service_cases UNION ALL SELECT max(first_response_at) FROM service_cases "
        "UNION ALL SELECT max(solved_at) FROM service_cases UNION ALL SELECT max(closed_at) FROM service_cases) AS times")


def backlog(crm):
    """Open cases (not solved or closed) per status and priority."""
    counts = {(r["status"], r["priority"]): r["n"] for r in crm.store.query(
        f"SELECT status, priority, count(*) AS n FROM service_cases WHERE status IN ({', '.join('?' * len(OPEN))}) "
        "GROUP BY status, priority", OPEN)}
    rows = []
    for status in OPEN:
        row = {"status": status, **{p: counts.get((status, p), 0) for p in PRIORITIES}}
        row["total"] = sum(row[p] for p in PRIORITIES)
        rows.append(row)
    return rows


def times(crm, by):
    """First-response and resolution time (business hours) p50/p90 per ``by`` (priority or assignee)."""
    column = {"priority": "priority", "assignee": "assignee"}[by]
    groups = {}
    for r in crm.store.iter_query(f"SELECT {column} AS g, first_response_seconds AS fr, resolution_seconds AS res FROM service_cases "
                                  "WHERE first_response_seconds IS NOT NULL OR resolution_seconds IS NOT NULL"):
        g = groups.setdefault(r["g"] or "(unassigned)", ([], []))
        g[0].append(r["fr"])
        g[1].append(r["res"])
    order = list(reversed(PRIORITIES)) if by == "priority" else sorted(groups)
    rows = []
    for key in order:
        if key not in groups:
            continue
        fr, res = groups[key]
        rows.append({by: key, "responded": sum(1 for v in fr if v is not None), "solved": sum(1 for v in res if v is not None),
                     "fr_p50": _hours(percentile(fr, 50)), "fr_p90": _hours(percentile(fr, 90)),
                     "res_p50": _hours(percentile(res, 50)), "res_p90": _hours(percentile(res, 90))})
    return rows


def attainment(crm, end=None):
    """Per ISO week (the last 12 up to the newest solve): solved cases and the share
    that met both their first-response and resolution targets."""
    sla = sla_module.get_sla(crm)
    rows = crm.store.query(
        "SELECT solved_at, priority, first_response_seconds AS fr, resolution_seconds AS res FROM service_cases "
        "WHERE solved_at IS NOT NULL AND resolution_seconds IS NOT NULL")
    if not rows:
        return []
    newest = max(dt.date.fromisoformat(r["solved_at"][:10]) for r in rows)
    first = newest - dt.timedelta(days=newest.weekday()) - dt.timedelta(weeks=WEEKS - 1)
    weeks = {}
    for r in rows:
        day = dt.date.fromisoformat(r["solved_at"][:10])
        if day < first:
            continue
        monday = day - dt.timedelta(days=day.weekday())
        fr_target, res_target = sla.targets[r["priority"]]
        met = (r["fr"] is None or r["fr"] <= fr_target) and r["res"] <= res_target
        w = weeks.setdefault(monday, [0, 0])
        w[0] += 1
        w[1] += met
    out = []
    for i in range(WEEKS):
        monday = first + dt.timedelta(weeks=i)
        solved, met = weeks.get(monday, (0, 0))
        out.append({"week": monday.isoformat(), "solved": solved, "met": met,
                    "attainment": round(100.0 * met / solved, 1) if solved else None})
    return out


def csat(crm):
    """CSAT answers given after a solve: overall and per assignee (needs the surveys plugin's tables)."""
    if not crm.store.table_exists("survey_responses"):
        return None
    rows = crm.store.query(
        "SELECT c.assignee, a.number FROM service_cases c JOIN survey_responses r ON r.invitation_id = c.csat_invitation_id "
        "JOIN survey_answers a ON a.response_id = r.id JOIN survey_questions q ON q.id = a.question_id "
        "WHERE q.type = 'csat' AND a.number IS NOT NULL")
    invited = crm.store.query_value("SELECT count(*) FROM service_cases WHERE csat_invitation_id IS NOT NULL")

    def summary(values):
        n = len(values)
        return {"answers": n, "average": round(sum(values) / n, 2) if n else None,
                "satisfied": round(100.0 * sum(1 for v in values if v >= 4) / n, 1) if n else None}

    by = {}
    for r in rows:
        by.setdefault(r["assignee"] or "(unassigned)", []).append(r["number"])
    return {"invited": invited, **summary([r["number"] for r in rows]),
            "by_assignee": [{"assignee": k, **summary(v)} for k, v in sorted(by.items())]}


def top_tags(crm, limit=10):
    counts = Counter()
    for r in crm.store.iter_query("SELECT tags FROM service_cases WHERE tags IS NOT NULL AND tags <> '[]'"):
        counts.update(json.loads(r["tags"]))
    return [{"tag": t, "cases": n} for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def top_skus(crm, limit=10):
    has_products = crm.store.table_exists("products")
    name = "(SELECT p.name FROM products p WHERE p.sku = c.sku)" if has_products else "''"
    return crm.store.query(
        f"SELECT c.sku, {name} AS name, count(*) AS cases, "
        f"sum(CASE WHEN c.status IN ('solved', 'closed') THEN 0 ELSE 1 END) AS open_cases "
        "FROM service_cases c WHERE c.sku <> '' GROUP BY c.sku ORDER BY cases DESC, c.sku LIMIT ?", (limit,))


def overdue(crm, at):
    return crm.store.query_value("SELECT count(*) FROM service_cases WHERE breach_at < ?", (at,)) if at else 0


def _partial_week(crm, weeks):
    """The chart label of the last week when the newest solve is before its Sunday (the week is still running)."""
    newest = crm.store.query_value("SELECT max(solved_at) FROM service_cases WHERE solved_at IS NOT NULL AND resolution_seconds IS NOT NULL")
    if not weeks or not newest or dt.date.fromisoformat(newest[:10]).weekday() == 6:
        return None
    return weeks[-1]["week"][5:]


def context(crm, params):
    newest = newest_activity(crm)
    by_priority = times(crm, "priority")
    weeks = attainment(crm)
    solved = sum(w["solved"] for w in weeks)
    met = sum(w["met"] for w in weeks)
    channels = crm.store.query("SELECT channel, count(*) AS n FROM service_cases GROUP BY channel ORDER BY n DESC, channel")
    return {
        "total": crm.store.count("service_cases"),
        "as_of": newest,
        "open": sum(r["total"] for r in backlog(crm)),
        "overdue": overdue(crm, newest),
        "backlog": backlog(crm),
        "backlog_chart": [(r["status"], [r[p] for p in PRIORITIES]) for r in backlog(crm)],
        "priorities": list(PRIORITIES),
        "by_priority": by_priority,
        "by_assignee": times(crm, "assignee"),
        "weeks": weeks,
        # a week without a solved case has no attainment: left out of the chart, not drawn as 0%
        "attainment_chart": [(w["week"][5:], w["attainment"]) for w in weeks if w["solved"]],
        "week_partial": _partial_week(crm, weeks),
        "attainment": round(100.0 * met / solved, 1) if solved else None,
        "csat": csat(crm),
        "tag_chart": [(t["tag"], t["cases"]) for t in top_tags(crm)],
        "skus": top_skus(crm),
        "channels": [(r["channel"], r["n"]) for r in channels],
        "sla": sla_module.policy_rows(crm),
    }


def dashboard_context(crm):
    newest = newest_activity(crm)
    fr = [r["v"] for r in crm.store.query("SELECT first_response_seconds AS v FROM service_cases WHERE first_response_seconds IS NOT NULL")]
    rows = backlog(crm)
    result = csat(crm)
    return {
        "total": crm.store.count("service_cases"),
        "open": sum(r["total"] for r in rows),
        "overdue": overdue(crm, newest),
        "fr_p50": _hours(percentile(fr, 50)),
        "csat": result["average"] if result else None,
        "by_priority": [(p, sum(r[p] for r in rows)) for p in reversed(PRIORITIES)],
    }
