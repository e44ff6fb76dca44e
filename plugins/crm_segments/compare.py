"""Segments and territories side by side on the same metrics.

Every name is a segment or a territory (``segment:NAME`` / ``territory:NAME``
when both exist). A territory's members are the contacts it owns, the most
specific territory winning (territories.py). Per group, with orders and deals
up to the as-of date:

- ``contacts``: members; ``customers``: members with an order
- ``revenue``, ``orders``, ``average_order_value`` (revenue / orders)
- ``margin`` and ``margin_pct``: order-line revenue minus the catalogue cost
  of the products plugin's ``products`` table; empty without that table or
  when a line's product has no cost (as the products plugin reports it)
- ``rfm_mix``: customers per named RFM segment (after ``crm segments rfm``)
- ``nps``, ``nps_margin`` (95%), ``nps_responses``: from plugins answering
  ``crm_segment_metrics`` (the surveys plugin); empty without them
- ``open_pipeline``, ``weighted_pipeline``: open deals (targets.pipeline)
- ``win_rate``: won / (won + lost) deals closed up to the as-of date, 0-1
- ``retention``: of the customers who ordered in the 12 months before the
  last 12 months, the share who ordered again in the last 12 months (the 12
  full months before the as-of date's month, and that month so far), 0-1
- ``clv``: the summed lifetime value stored by ``crm segments clv``, if run
"""

import datetime as dt
import json

from crmcore import CRMError, periods, require_rates

from . import rfm, targets, territories

COMPARE_FIELDS = ["name", "kind", "contacts", "customers", "revenue", "orders", "average_order_value", "margin", "margin_pct",
                  "rfm_mix", "nps", "nps_margin", "nps_responses", "open_pipeline", "weighted_pipeline", "win_rate",
                  "retention", "clv"]


def resolve(crm, name):
    """``(kind, name, record)`` of a segment or territory name."""
    kind = None
    if name.startswith(("segment:", "territory:")):
        kind, name = name.split(":", 1)
    segment = crm.store.query("SELECT id, name, kind, rule FROM segments WHERE name = ?", (name,))
    territory = crm.store.query("SELECT id, name FROM territories WHERE name = ?", (name,))
    if kind is None and segment and territory:
        raise CRMError(f"{name!r} is both a segment and a territory: write segment:{name} or territory:{name}")
    if kind != "territory" and segment:
        return "segment", name, segment[0]
    if kind != "segment" and territory:
        return "territory", name, {**territory[0], "kind": "territory", "rule": None}
    what = {"segment": "segment", "territory": "territory"}.get(kind, "segment or territory")
    raise CRMError(f"no {what} named {name!r} (see crm segments list, crm segments territories list)")


def members(crm, kind, name):
    return crm.segment_contact_ids(name) if kind == "segment" else territories.contact_ids(crm, name)


def compare(crm, names, as_of=None, progress=None):
    """One row of ``COMPARE_FIELDS`` per name, in the order given;
    ``progress(1)`` after each."""
    if not names:
        raise CRMError("give at least one segment or territory to compare")
    as_of = as_of or dt.date.today()
    resolved = [resolve(crm, n) for n in names]
    seen = set()
    for kind, name, _ in resolved:
        if (kind, name) in seen:
            raise CRMError(f"{kind} {name!r} is given twice")
        seen.add((kind, name))
    rows = []
    for kind, name, record in resolved:
        rows.append(metrics(crm, kind, name, record, members(crm, kind, name), as_of))
        if progress:
            progress(1)
    return rows


def metrics(crm, kind, name, record, ids, as_of):
    require_rates(crm)  # revenue and margin in the base currency
    store = crm.store
    ids_json = json.dumps(list(ids))
    values = store.dialect.json_values()
    day = as_of.isoformat()
    o = store.query(
        "SELECT count(*) AS orders, coalesce(sum(total * fx_rate), 0) AS revenue, count(DISTINCT contact_id) AS customers "
        f"FROM orders WHERE contact_id IN ({values}) AND ordered_at <= ?", (ids_json, day))[0]
    last = periods.last_12_months(as_of)  # the CRM's one "last 12 months", and the 12 months before it
    kept = store.query(
        "SELECT count(*) AS before, sum(CASE WHEN EXISTS (SELECT 1 FROM orders n WHERE n.contact_id = b.contact_id "
        "AND n.ordered_at >= ? AND n.ordered_at < ?) THEN 1 ELSE 0 END) AS again "
        f"FROM (SELECT DISTINCT contact_id FROM orders WHERE contact_id IN ({values}) AND ordered_at >= ? AND ordered_at < ?) b",
        (last.since, last.until, ids_json, last.previous().since, last.since))[0]
    closed = {r["status"]: r["deals"] for r in store.query(
        f"SELECT status, count(*) AS deals FROM deals WHERE contact_id IN ({values}) AND status IN ('won', 'lost') "
        "AND substr(closed_at, 1, 10) <= ? GROUP BY status", (ids_json, day))}
    decided = closed.get("won", 0) + closed.get("lost", 0)
    pipe = targets.pipeline(crm, ids, as_of=as_of)
    mix = {r["segment"]: r["customers"] for r in rfm.summary(crm, ids) if r["customers"]}
    margin, margin_pct = _margin(crm, ids_json, day)
    extra = {}
    for result in crm.emit("crm_segment_metrics", crm=crm, segment=dict(record), contact_ids=list(ids)):
        if isinstance(result, dict):
            extra.update(result)
    clv_total = None
    if store.query_value("SELECT count(*) FROM segment_clv"):
        clv_total = store.query_value(f"SELECT round(CAST(coalesce(sum(clv), 0) AS NUMERIC), 2) FROM segment_clv WHERE contact_id IN ({values})",
                                      (ids_json,))
    revenue = float(o["revenue"] or 0.0)
    return {
        "name": name, "kind": kind, "contacts": len(ids), "customers": o["customers"],
        "revenue": round(revenue, 2), "orders": o["orders"],
        "average_order_value": round(revenue / o["orders"], 2) if o["orders"] else None,
        "margin": margin, "margin_pct": margin_pct, "rfm_mix": mix or None,
        "nps": extra.get("NPS"), "nps_margin": extra.get("NPS margin"), "nps_responses": extra.get("NPS responses"),
        "open_pipeline": pipe["open_amount"], "weighted_pipeline": pipe["open_weighted"],
        "win_rate": round(closed.get("won", 0) / decided, 4) if decided else None,
        "retention": round((kept["again"] or 0) / kept["before"], 4) if kept["before"] else None,
        "clv": float(clv_total) if clv_total is not None else None,
    }


def _margin(crm, ids_json, day):
    """Line revenue minus catalogue cost, when the products plugin's table is
    there and every line's product has a cost; ``(None, None)`` otherwise."""
    store = crm.store
    if not store.table_exists("products") or "fx_rate" not in store.columns("products"):
        return None, None
    row = store.query(
        "SELECT count(*) AS lines, count(p.cost * p.fx_rate) AS costed, sum(l.quantity * l.unit_price * o.fx_rate) AS revenue, "
        "sum(l.quantity * p.cost * p.fx_rate) AS cost "
        "FROM order_lines l JOIN orders o ON o.id = l.order_id LEFT JOIN products p ON p.sku = l.sku "
        f"WHERE o.contact_id IN ({store.dialect.json_values()}) AND o.ordered_at <= ?", (ids_json, day))[0]
    if not row["lines"] or row["costed"] != row["lines"]:
        return None, None
    revenue, cost = float(row["revenue"] or 0.0), float(row["cost"] or 0.0)
    return round(revenue - cost, 2), (round(100 * (revenue - cost) / revenue, 1) if revenue else None)


#: Rows of the plain-text comparison: (label, key).
LABELS = [("kind", "kind"), ("contacts", "contacts"), ("customers", "customers"), ("revenue", "revenue"), ("orders", "orders"),
          ("average order value", "average_order_value"), ("margin", "margin"), ("margin %", "margin_pct"),
          ("NPS", "nps"), ("NPS margin (95%)", "nps_margin"), ("NPS responses", "nps_responses"),
          ("open pipeline", "open_pipeline"), ("weighted pipeline", "weighted_pipeline"), ("win rate", "win_rate"),
          ("retention", "retention"), ("lifetime value", "clv")]


def transposed(rows):
    """One line per metric, one column per group (the plain-text table)."""
    plain = [r["name"] for r in rows]
    heads = [r["name"] if plain.count(r["name"]) == 1 else f"{r['kind']}:{r['name']}" for r in rows]
    out = []
    for label, key in LABELS:
        out.append({"metric": label, **{h: r[key] for h, r in zip(heads, rows)}})
    mixes = list(dict.fromkeys(k for r in rows for k in (r["rfm_mix"] or {})))
    for segment in mixes:
        out.append({"metric": f"RFM {segment}", **{h: (r["rfm_mix"] or {}).get(segment, 0) for h, r in zip(heads, rows)}})
    return out, heads
