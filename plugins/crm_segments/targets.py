"""Sales targets per segment or territory and period, and pipelines per segment.

A period is a year (``2026``), a quarter (``2026-Q2``) or a month
(``2026-05``). For a target the report shows:

- actual   : revenue (sum of order totals) and units (sum of order-line
             quantities) of the segment's contacts, ordered within the period
             up to the as-of date
- gap      : target - actual (negative when the target is beaten)
- forecast : run rate, actual / elapsed days * days in the period (elapsed
             days count the as-of date; a finished period forecasts its actual)
- attainment: actual / target in percent
"""

import datetime as dt


from crmcore import build, CRMError, FieldError, require_rates

from . import territories
from .periods import Period, parse_period  # noqa: F401  (part of this module's interface)
from .records import Target

TARGET_FIELDS = ["scope", "name", "period", "metric", "target", "actual", "gap", "attainment", "forecast", "start", "end"]


def current_period(kind, today=None):
    today = today or dt.date.today()
    if kind == "year":
        return parse_period(str(today.year))
    if kind == "quarter":
        return parse_period(f"{today.year}-Q{(today.month - 1) // 3 + 1}")
    return parse_period(f"{today.year}-{today.month:02d}")


def set_target(crm, scope, name, period, revenue=None, units=None):
    """Create or replace the target of a segment/territory for a period."""
    if scope == "segment":
        from .segments import require_segment

        require_segment(crm, name)
    else:
        territories.require(crm, name)
    try:
        target = build(Target, {"scope": scope, "name": name, "period": period, "revenue": revenue, "units": units})
    except FieldError as exc:
        raise CRMError(f"invalid {exc.field}: {exc.reason}") from None
    existing = crm.store.query_value("SELECT id FROM segment_targets WHERE scope = ? AND name = ? AND period = ?",
                                     (scope, target.name, target.period))
    if existing is None:
        return crm.add(target)
    crm.update("segment_targets", existing, {"revenue": revenue, "units": units})
    return existing


def member_ids(crm, scope, name):
    if scope == "segment":
        return crm.segment_contact_ids(name)
    return territories.contact_ids(crm, name)


def actuals(crm, ids, start, end):
    """Revenue and units of ``ids`` ordered between ``start`` and ``end`` (inclusive)."""
    import json

    require_rates(crm)  # revenue in the base currency
    ids_json = json.dumps(list(ids))
    revenue = crm.store.query_value(
        f"SELECT coalesce(sum(o.total * o.fx_rate), 0) FROM orders o WHERE o.contact_id IN ({crm.store.dialect.json_values()}) "
        "AND o.ordered_at BETWEEN ? AND ?", (ids_json, start.isoformat(), end.isoformat()))
    units = crm.store.query_value(
        "SELECT coalesce(sum(l.quantity), 0) FROM order_lines l JOIN orders o ON o.id = l.order_id "
        f"WHERE o.contact_id IN ({crm.store.dialect.json_values()}) AND o.ordered_at BETWEEN ? AND ?",
        (ids_json, start.isoformat(), end.isoformat()))
    return {"revenue": round(revenue, 2), "units": units}


def evaluate(target, period, actual, as_of):
    """Rows (one per metric that has a target) of target arithmetic."""
    out = []
    elapsed = period.elapsed(as_of)
    for metric in ("revenue", "units"):
        goal = target.get(metric)
        if goal is None:
            continue
        value = actual[metric]
        forecast = round(value / elapsed * period.days, 2) if elapsed else 0.0
        out.append({"scope": target["scope"], "name": target["name"], "period": period.label, "metric": metric,
                    "target": goal, "actual": value, "gap": round(goal - value, 2),
                    "attainment": round(100.0 * value / goal, 1) if goal else None, "forecast": forecast,
                    "start": period.start.isoformat(), "end": period.end.isoformat()})
    return out


def show(crm, period=None, name=None, as_of=None):
    """Target rows for every target (of a period and/or segment/territory name)."""
    as_of = as_of or dt.date.today()
    sql, params = "SELECT * FROM segment_targets", []
    where = []
    if period:
        try:
            where.append("period = ?")
            params.append(parse_period(period).label)
        except ValueError as exc:
            raise CRMError(f"--period: {exc}") from None
    if name:
        where.append("name = ?")
        params.append(name)
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = []
    for target in crm.store.query(sql + " ORDER BY period, scope, name", params):
        p = parse_period(target["period"])
        ids = member_ids(crm, target["scope"], target["name"])
        actual = actuals(crm, ids, p.start, min(p.end, as_of))
        rows.extend(evaluate(target, p, actual, as_of))
    return rows


def attainment(crm, scope, name, as_of=None):
    """Revenue attainment (%) of the target for the period containing ``as_of``.

    Picks the shortest period (month, then quarter, then year) that has a target."""
    as_of = as_of or dt.date.today()
    for kind in ("month", "quarter", "year"):
        p = current_period(kind, as_of)
        found = [r for r in show(crm, p.label, name, as_of) if r["scope"] == scope and r["metric"] == "revenue"]
        if found:
            return found[0]
    return None


def pipeline(crm, ids, period=None, as_of=None):
    """Open deals of ``ids`` by stage with weighted value, and won/lost in the period."""
    import json

    as_of = as_of or dt.date.today()
    p = period or current_period("quarter", as_of)
    require_rates(crm, "deals")  # deal values in the base currency
    ids_json = json.dumps(list(ids))
    probability = dict(crm.stages)
    found = {r["stage"]: r for r in crm.store.query(
        "SELECT stage, count(*) AS deals, coalesce(sum(amount * fx_rate), 0) AS amount, "
        "sum(amount * fx_rate * probability) AS own_weighted, "
        "sum(CASE WHEN probability IS NULL THEN amount * fx_rate ELSE 0 END) AS stage_amount "
        f"FROM deals WHERE status = 'open' AND contact_id IN ({crm.store.dialect.json_values()}) GROUP BY stage", (ids_json,))}
    stages = []
    for name, prob in crm.stages:
        if name in ("won", "lost"):
            continue
        r = found.get(name) or {"deals": 0, "amount": 0.0, "own_weighted": 0.0, "stage_amount": 0.0}
        weighted = (r["own_weighted"] or 0.0) / 100 + (r["stage_amount"] or 0.0) * probability.get(name, 0) / 100
        stages.append({"stage": name, "probability": prob, "deals": r["deals"], "amount": round(r["amount"], 2), "weighted": round(weighted, 2)})
    closed = {r.pop("status"): r for r in crm.store.query(
        "SELECT status, count(*) AS deals, coalesce(sum(amount * fx_rate), 0) AS amount FROM deals WHERE status IN ('won', 'lost') "
        f"AND contact_id IN ({crm.store.dialect.json_values()}) AND closed_at BETWEEN ? AND ? GROUP BY status",
        (ids_json, p.start.isoformat(), p.end.isoformat()))}
    return {"period": p.label, "stages": stages,
            "open_amount": round(sum(s["amount"] for s in stages), 2), "open_weighted": round(sum(s["weighted"] for s in stages), 2),
            "won": closed.get("won", {"deals": 0, "amount": 0.0}), "lost": closed.get("lost", {"deals": 0, "amount": 0.0})}
