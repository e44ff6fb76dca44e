"""Context builders of the cohorts report and the dashboard's retention and
lifetime-value lines (the report pages need neither numpy nor scipy: they
read the stored lifetime values)."""

from crmcore import CRMError, report_period

from . import clv, cohorts

#: Cohorts shown in the heat grid (the newest); the JSON/CSV output has them all.
GRID_COHORTS = 24


def _param(params, key, allowed, default):
    value = params.get(key) or default
    if value not in allowed:
        raise CRMError(f"--param {key}={value!r}: use one of {', '.join(allowed)}")
    return value


def _day(crm, params):
    """``--param as_of``, else the newest date in the data (as every report counts from)."""
    return report_period(crm, params.get("as_of")).as_of


def _shown(row):
    """A period's label as shown, marked when the period is still running."""
    return row["period"] + (" (partial)" if row["partial"] else "")


def _percent(value):
    return None if value is None else round(100 * value, 1)


def cohorts_context(crm, params):
    by = _param(params, "by", cohorts.BY, "month")
    metric = _param(params, "metric", cohorts.METRICS, "customers")
    segment = params.get("segment") or None
    as_of = _day(crm, params)
    rows = cohorts.cohorts(crm, by, metric, segment, as_of)
    per_period = cohorts.periods(crm, by, segment, as_of, rows if metric == "customers" else None)
    grid = cohorts.grid(rows, metric, GRID_COHORTS)
    last = cohorts.period_index(as_of, by)
    return {
        "by": by, "metric": metric, "segment": segment, "as_of": as_of.isoformat(),
        "current": cohorts.label(last, by), "current_partial": cohorts.period_end(last, by) != as_of,
        "grid": grid, "shown": len(grid["lines"]), "cohort_count": len({r["cohort"] for r in rows}),
        "customers": sum(r["customers"] for r in rows if r["period"] == 0),
        "periods": [{**p, "label": _shown(p), "retention_pct": _percent(p["retention_rate"]), "churn_pct": _percent(p["churn_rate"])} for p in per_period],
        "retention_chart": [(p["period"], 100 * p["retention_rate"]) for p in per_period
                            if p["retention_rate"] is not None and not p["partial"]],
        "clv": clv_summary(crm),
    }


def clv_summary(crm):
    """The stored lifetime values' totals and parameters, or ``None`` before `crm segments clv`."""
    totals = clv.summary(crm)
    params = clv.stored_params(crm)
    if not totals or not params:
        return None
    return {**totals, "params": {k: params.get(k) for k in clv.PARAM_NAMES}, "as_of": params.get("as_of"),
            "horizon_days": params.get("horizon_days"), "discount_rate": params.get("discount_rate"),
            "top": clv.rows(crm, 10)}


def dashboard_retention(crm):
    """The retention summary kept by the last `crm segments cohorts` over all
    customers, with rates in percent; ``None`` before the first."""
    stored = cohorts.stored_summary(crm)
    if not stored:
        return None
    curve = [{**c, "rate_pct": _percent(c["rate"])} for c in stored["curve"]]
    return {**stored, "curve": curve}
