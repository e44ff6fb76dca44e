"""Context builders of the segments, segment and rfm reports and the dashboard section."""

import json

from crmcore import CRMError, report_period, require_rates

from . import rfm, targets, territories
from .segments import list_segments, refreshes, require_segment


def segment_metrics(crm, segment, ids, total_contacts, as_of=None):
    """The same metrics for every segment (plus any a plugin adds through
    ``crm_segment_metrics``)."""
    require_rates(crm)  # revenue in the base currency
    ids_json = json.dumps(ids)
    orders = crm.store.query(
        "SELECT count(*) AS orders, coalesce(sum(total * fx_rate), 0) AS revenue, count(DISTINCT contact_id) AS buyers "
        f"FROM orders WHERE contact_id IN ({crm.store.dialect.json_values()})", (ids_json,))[0]
    pipe = targets.pipeline(crm, ids, as_of=as_of)
    target = targets.attainment(crm, "segment", segment["name"], as_of)
    extra = {}
    for result in crm.emit("crm_segment_metrics", crm=crm, segment=segment, contact_ids=ids):
        if isinstance(result, dict):
            extra.update(result)
    n = len(ids)
    return {
        "name": segment["name"], "kind": segment["kind"], "customers": n,
        "share": 100.0 * n / total_contacts if total_contacts else 0.0,
        "revenue": round(orders["revenue"], 2),
        "average_order_value": round(orders["revenue"] / orders["orders"], 2) if orders["orders"] else None,
        "orders_per_customer": round(orders["orders"] / n, 2) if n else None,
        "open_pipeline": pipe["open_amount"], "weighted_pipeline": pipe["open_weighted"],
        "target_attainment": target["attainment"] if target else None,
        "target_period": target["period"] if target else None,
        "extra": extra,
    }


#: Rows of the comparison table: (label, key of segment_metrics, display kind).
COMPARED = [
    ("Customers", "customers", "num"),
    ("Share of contacts", "share", "pct"),
    ("Revenue", "revenue", "money"),
    ("Average order value", "average_order_value", "money"),
    ("Orders per customer", "orders_per_customer", "num2"),
    ("Open pipeline", "open_pipeline", "money"),
    ("Weighted pipeline", "weighted_pipeline", "money"),
    ("Target attainment", "target_attainment", "pct"),
]


def segments_context(crm, params):
    as_of = _as_of(crm, params)
    total = crm.store.count("contacts")
    rows = []
    for segment in list_segments(crm):
        ids = crm.segment_contact_ids(segment["name"])
        rows.append(segment_metrics(crm, segment, ids, total, as_of))
    extra_labels = list(dict.fromkeys(k for r in rows for k in r["extra"]))
    metrics = [(label, [r[key] for r in rows], kind) for label, key, kind in COMPARED]
    metrics += [(label, [r["extra"].get(label) for r in rows], "extra") for label in extra_labels]
    return {
        "rows": rows,
        "metrics": metrics,
        "extra_labels": extra_labels,
        "total_contacts": total,
        "size_chart": [(r["name"], r["customers"]) for r in rows],
        "revenue_chart": [(r["name"], r["revenue"]) for r in rows],
        "aov_chart": [(r["name"], r["average_order_value"] or 0) for r in rows],
        "pipeline_chart": [(r["name"], r["weighted_pipeline"]) for r in rows],
        "targets": targets.show(crm, as_of=as_of),
        "as_of": as_of.isoformat(),
    }


def segment_context(crm, params):
    name = params.get("name") or params.get("segment")
    if not name:
        raise CRMError("the segment report needs --param name=SEGMENT")
    segment = require_segment(crm, name)
    as_of = _as_of(crm, params)
    ids = crm.segment_contact_ids(name)
    ids_json = json.dumps(ids)
    history = refreshes(crm, name)
    rfm_mix = [r for r in rfm.summary(crm, ids) if r["customers"]]
    top_products = crm.store.query(
        "SELECT l.sku, max(l.description) AS description, sum(l.quantity) AS units, round(CAST(sum(l.quantity * l.unit_price * o.fx_rate) AS NUMERIC), 2) AS revenue, "
        "count(DISTINCT o.contact_id) AS customers FROM order_lines l JOIN orders o ON o.id = l.order_id "
        f"WHERE o.contact_id IN ({crm.store.dialect.json_values()}) GROUP BY l.sku ORDER BY revenue DESC, l.sku LIMIT 10", (ids_json,))
    where = territories.territory_of(crm)
    by_territory = {}
    for cid in ids:
        key = where.get(cid, "(none)")
        by_territory[key] = by_territory.get(key, 0) + 1
    owners = {t["name"]: t["owner"] for t in territories.all_territories(crm)}
    territory_rows = [{"territory": k, "owner": owners.get(k, ""), "customers": v, "share": 100.0 * v / len(ids) if ids else 0.0}
                      for k, v in sorted(by_territory.items(), key=lambda kv: (-kv[1], kv[0]))]
    countries = crm.store.query(
        f"SELECT coalesce(country, '–') AS country, count(*) AS customers FROM contacts WHERE id IN ({crm.store.dialect.json_values()}) "
        "GROUP BY country ORDER BY customers DESC, country", (ids_json,))
    metrics = segment_metrics(crm, segment, ids, crm.store.count("contacts"), as_of)
    return {
        "as_of": as_of.isoformat(),
        "segment": segment,
        "metrics": metrics,
        "size_over_time": [(r["at"][:16].replace("T", " "), r["size"]) for r in history],
        "movers": [{"at": r["at"][:16].replace("T", " "), "entered": r["entered"], "left": r["left"], "size": r["size"]} for r in history][::-1][:24],
        "rfm_mix": rfm_mix,
        "rfm_chart": [(r["segment"], r["customers"]) for r in rfm_mix],
        "top_products": top_products,
        "territories": territory_rows,
        "countries": countries,
        "pipeline": targets.pipeline(crm, ids, as_of=as_of),
    }


def rfm_context(crm, params):
    cells = rfm.grid(crm)
    peak = max([c["customers"] for c in cells.values()] + [1])
    grid_rows = []
    for r in range(5, 0, -1):
        grid_rows.append({"r": r, "cells": [{"f": f, "customers": cells[(r, f)]["customers"], "revenue": cells[(r, f)]["revenue"],
                                             "shade": round(cells[(r, f)]["customers"] / peak, 2)} for f in range(1, 6)]})
    summary = rfm.summary(crm)
    return {
        "heat_customers": {(f, r): cells[(r, f)]["customers"] for r, f in cells},
        "heat_revenue": {(f, r): cells[(r, f)]["revenue"] for r, f in cells},
        "as_of": rfm.as_of(crm),
        "scored": sum(r["customers"] for r in summary),
        "grid": grid_rows,
        "summary": summary,
        "summary_chart": [(r["segment"], r["customers"]) for r in summary],
        "table": rfm.named_table(crm),
    }


def dashboard_context(crm):
    rows = list_segments(crm)
    summary = [r for r in rfm.summary(crm) if r["customers"]]
    return {
        "sizes": [(r["name"], r["size"] or 0) for r in rows],
        "segments": rows,
        "rfm": [(r["segment"], r["customers"]) for r in summary],
        "rfm_as_of": rfm.as_of(crm),
        **_dashboard_analytics(crm),
    }


def _dashboard_analytics(crm):
    """Retention kept by the last `crm segments cohorts` and the stored lifetime values."""
    from .analytics_reports import clv_summary, dashboard_retention

    retention = dashboard_retention(crm)
    chart = [(f"{c['period']}", c["rate_pct"]) for c in retention["curve"]] if retention else []
    return {"retention": retention, "retention_chart": chart, "clv": clv_summary(crm)}


def _as_of(crm, params):
    """``--param as_of``, else the newest date in the data (as every report counts from)."""
    return report_period(crm, params.get("as_of")).as_of
