"""The `supply` report (stock value and days of cover per location, SKUs
that run out before the next delivery, excess stock with transfers, supplier
reliability) and a product's history from the audit trail."""

import datetime as dt
import json

from crmcore import CRMError

from .catalogue import find

HISTORY_FIELDS = ["at", "user", "action", "field", "old", "new"]
RISK_FIELDS = ["sku", "name", "location", "on_hand", "daily_demand", "days_cover", "runs_out", "next_delivery", "on_order"]
EXCESS_FIELDS = ["sku", "name", "location", "on_hand", "daily_demand", "days_cover", "excess", "excess_value", "transfer_to"]
RELIABILITY_FIELDS = ["supplier", "received_orders", "promised_days", "actual_days", "on_time_pct", "open_orders", "late_open"]


def _as_of(crm, params):
    if params.get("as_of"):
        try:
            return dt.date.fromisoformat(params["as_of"])
        except ValueError:
            raise CRMError(f"--param as_of={params['as_of']!r} is not a date (YYYY-MM-DD)") from None
    from crmcore import data_as_of

    found = data_as_of(crm)
    return dt.date.fromisoformat(found[:10]) if found else dt.date.today()


def _int_param(params, name, default):
    try:
        value = int(params.get(name, default))
    except ValueError:
        raise CRMError(f"--param {name}={params[name]!r} is not a whole number") from None
    if value < 1:
        raise CRMError(f"--param {name} must be at least 1")
    return value


def _days(a, b):
    """Calendar days from the day sent to the day received."""
    return (dt.date.fromisoformat(b[:10]) - dt.date.fromisoformat(a[:10])).days


def reliability(crm, as_of):
    """Per supplier: promised lead time (at sending) against the days until
    the last goods arrived, the share delivered by the promised date, and
    open orders already past it."""
    out = {}
    for r in crm.store.query(
            "SELECT s.name, o.status, o.ordered_at, o.expected_at, o.received_at, o.lead_time_days FROM purchase_orders o "
            "JOIN suppliers s ON s.id = o.supplier_id WHERE o.status <> 'cancelled' AND o.status <> 'draft' ORDER BY s.name"):
        row = out.setdefault(r["name"], {"supplier": r["name"], "received_orders": 0, "promised": [], "actual": [], "on_time": 0,
                                         "open_orders": 0, "late_open": 0})
        if r["status"] == "received" and r["ordered_at"] and r["received_at"]:
            row["received_orders"] += 1
            if r["lead_time_days"] is not None:
                row["promised"].append(r["lead_time_days"])
            row["actual"].append(_days(r["ordered_at"], r["received_at"]))
            if r["expected_at"] and r["received_at"][:10] <= r["expected_at"]:
                row["on_time"] += 1
        elif r["status"] in ("sent", "partial"):
            row["open_orders"] += 1
            if r["expected_at"] and r["expected_at"] < as_of.isoformat():
                row["late_open"] += 1
    rows = []
    for row in out.values():
        promised, actual = row.pop("promised"), row.pop("actual")
        n = row["received_orders"]
        row["promised_days"] = round(sum(promised) / len(promised), 1) if promised else None
        row["actual_days"] = round(sum(actual) / len(actual), 1) if actual else None
        row["on_time_pct"] = round(100.0 * row.pop("on_time") / n, 1) if n else None
        rows.append(row)
    return rows


def supply_context(crm, params):
    from .planning import demand, demand_stats, plan
    from .suppliers import sourcing

    from .analytics import costs_in_base

    costs_in_base(crm)  # stock value at cost: catalogue costs converted to the base currency
    as_of = _as_of(crm, params)
    window = _int_param(params, "window", 90)
    excess_days = _int_param(params, "excess_days", 90)
    series = demand(crm, as_of, window)
    products = {r["id"]: r for r in crm.store.query("SELECT id, sku, name, cost * fx_rate AS cost FROM products")}
    stock = crm.store.query("SELECT product_id, location, sum(quantity) AS on_hand FROM stock_movements GROUP BY product_id, location")
    open_po = {}
    for r in crm.store.query(
            "SELECT l.product_id, o.location, min(o.expected_at) AS next_delivery, sum(l.quantity - l.received) AS on_order "
            "FROM purchase_order_lines l JOIN purchase_orders o ON o.id = l.purchase_order_id "
            "WHERE o.status IN ('sent', 'partial') AND l.quantity > l.received GROUP BY l.product_id, o.location"):
        open_po[(r["product_id"], r["location"])] = r
    source = sourcing(crm)
    lead_default = float(crm.get_setting("products.lead_time_days", 7))
    transfers = {}
    for r in plan(crm, as_of=as_of, window=window):
        if r["action"] == "transfer":
            transfers.setdefault((r["sku"], r["from_location"]), []).append(f"{r['quantity']:g} to {r['location']}")
    per_location, risk, excess = {}, [], []
    for s in stock:
        p = products[s["product_id"]]
        key = (s["product_id"], s["location"])
        loc = per_location.setdefault(s["location"], {"location": s["location"], "products": 0, "units": 0.0, "value": 0.0,
                                                       "daily_value": 0.0})
        on_hand = s["on_hand"]
        mean, _ = demand_stats(series.get(key, [0.0] * window))
        if abs(on_hand) > 1e-9:
            loc["products"] += 1
        loc["units"] += on_hand
        loc["value"] += on_hand * (p["cost"] or 0)
        loc["daily_value"] += mean * (p["cost"] or 0)
        cover = on_hand / mean if mean > 0 else None
        base = {"sku": p["sku"], "name": p["name"], "location": s["location"], "on_hand": on_hand,
                "daily_demand": round(mean, 3), "days_cover": None if cover is None else round(max(cover, 0), 1)}
        if mean > 0:
            po = open_po.get(key)
            lead = (source.get(s["product_id"]) or {}).get("lead_time_days")
            next_delivery = po["next_delivery"] if po else (as_of + dt.timedelta(days=round(lead if lead is not None else lead_default))).isoformat()
            runs_out = (as_of + dt.timedelta(days=int(max(cover, 0)))).isoformat()
            if runs_out < next_delivery:
                risk.append({**base, "runs_out": runs_out, "next_delivery": next_delivery, "on_order": po["on_order"] if po else 0.0})
        if on_hand > 0 and (mean <= 0 or cover > excess_days):
            units = on_hand - mean * excess_days
            excess.append({**base, "excess": round(units, 1), "excess_value": round(units * (p["cost"] or 0), 2),
                           "transfer_to": ", ".join(transfers.get((p["sku"], s["location"]), [])) or ""})
    locations = []
    for loc in sorted(per_location.values(), key=lambda r: r["location"]):
        loc["value"] = round(loc["value"], 2)
        loc["days_cover"] = round(loc["value"] / loc["daily_value"], 1) if loc["daily_value"] > 0 else None
        del loc["daily_value"]
        locations.append(loc)
    risk.sort(key=lambda r: (r["runs_out"], r["sku"], r["location"]))
    excess.sort(key=lambda r: (-r["excess_value"], r["sku"], r["location"]))
    return {
        "as_of": as_of.isoformat(), "window": window, "excess_days": excess_days,
        "locations": locations, "total_value": round(sum(l["value"] for l in locations), 2),
        "value_chart": [(l["location"], l["value"]) for l in locations],
        "at_risk": risk, "excess": excess, "reliability": reliability(crm, as_of),
    }


def history(crm, sku):
    """A product's changes from the audit trail, one row per field changed:
    price, version, specs, lifecycle, who changed it and when."""
    product = find(crm, sku)
    rows = [{"at": product["created_at"], "user": "", "action": "created", "field": "", "old": None, "new": None}]
    for r in crm.store.query('SELECT at, "user", action, changes FROM _crm_audit WHERE table_name = ? AND record_id = ? ORDER BY id',
                             ("products", product["id"])):
        changes = json.loads(r["changes"] or "{}")
        if not changes:
            rows.append({"at": r["at"], "user": r["user"], "action": r["action"], "field": "", "old": None, "new": None})
        for field, pair in sorted(changes.items()):
            old, new = (pair + [None, None])[:2] if isinstance(pair, list) else (None, pair)
            rows.append({"at": r["at"], "user": r["user"], "action": r["action"], "field": field, "old": old, "new": new})
    return rows
