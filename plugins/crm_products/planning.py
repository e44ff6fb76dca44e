"""Reorder planning per SKU and location, with the textbook formulas.

For each SKU at each location, over a window of days (default 90):

- daily demand ``d`` = the average of the daily units sold there (days
  without a sale count as 0), ``sigma`` = their standard deviation;
- lead time ``L`` in days = the preferred supplier's for the SKU (else its
  supplier default, else the setting ``products.lead_time_days``, 7);
- safety stock ``SS = z * sigma * sqrt(L)``, ``z`` the standard normal
  quantile of the service level (95% -> 1.645);
- reorder point ``ROP = d * L + SS``;
- economic order quantity ``EOQ = sqrt(2 * D * S / H)`` with annual demand
  ``D = 365 * d``, ``S`` the cost of placing one order and ``H`` the cost of
  holding one unit for a year (holding rate x unit cost), when both are set;
- order-up-to level = ``ROP + Q``, ``Q`` the EOQ or, without costs,
  ``cover_days`` of demand.

A location whose position (on hand + on order) is at or under its reorder
point needs ``order-up-to - position``. Transfers come first: another
location holding more than its own reorder point (its need for the lead
time) gives the surplus, keeping more than that point; what is still missing is bought from the preferred
supplier, rounded up to the minimum order and whole packs.
"""

import datetime as dt
import math
import statistics

from crmcore import CRMError

PLAN_FIELDS = ["action", "sku", "name", "location", "from_location", "supplier", "quantity", "on_hand", "on_order",
               "daily_demand", "demand_sd", "lead_time_days", "safety_stock", "reorder_point", "order_up_to", "eoq",
               "unit_cost", "value"]
OPEN_PO = ("draft", "sent", "partial")
EPS = 1e-9


# -- the formulas ---------------------------------------------------------------


def service_level(value):
    """``95%``, ``95``, ``0.95`` -> 0.95; a one-line error otherwise."""
    text = str(value).strip().rstrip("%").strip()
    try:
        level = float(text.replace(",", "."))
    except ValueError:
        raise CRMError(f"invalid service level {value!r}: give a percentage such as 95%") from None
    if level >= 1 or str(value).strip().endswith("%"):
        level /= 100
    if not 0.5 <= level < 1:
        raise CRMError(f"invalid service level {value!r}: must be at least 50% and below 100%")
    return level


def z_score(level):
    """The standard normal quantile: 0.95 -> 1.645, 0.99 -> 2.326."""
    return statistics.NormalDist().inv_cdf(level)


def demand_stats(daily):
    """``(mean, standard deviation)`` of daily units (a list with a 0 for
    each day without a sale); the sample standard deviation."""
    if not daily:
        return 0.0, 0.0
    mean = sum(daily) / len(daily)
    sd = statistics.stdev(daily) if len(daily) > 1 else 0.0
    return mean, sd


def safety_stock(z, sd, lead_time):
    return z * sd * math.sqrt(max(lead_time, 0))


def reorder_point(mean, lead_time, ss):
    return mean * lead_time + ss


def eoq(annual_demand, ordering_cost, holding_cost):
    """Economic order quantity, or ``None`` when a cost is missing."""
    if not ordering_cost or not holding_cost or annual_demand <= 0:
        return None
    return math.sqrt(2 * annual_demand * ordering_cost / holding_cost)


def round_order(quantity, pack_size=1.0, min_order=0.0):
    """Round a need up to the minimum order, then up to whole packs."""
    if quantity <= EPS:
        return 0.0
    pack = pack_size or 1.0
    q = max(quantity, min_order or 0.0)
    return math.ceil(round(q / pack, 9)) * pack


def policy(mean, sd, lead_time, z, *, unit_cost=None, ordering_cost=None, holding_rate=None, cover_days=30):
    """The figures of one SKU at one location: safety stock, reorder point,
    EOQ (or None) and the order-up-to level."""
    ss = safety_stock(z, sd, lead_time)
    rop = reorder_point(mean, lead_time, ss)
    q_eoq = eoq(365 * mean, ordering_cost, (holding_rate or 0) * (unit_cost or 0))
    q = q_eoq if q_eoq is not None else mean * cover_days
    return {"safety_stock": ss, "reorder_point": rop, "eoq": q_eoq, "order_up_to": rop + q}


def plan_actions(items, z, *, cover_days=30, holding_rate=None, ordering_cost=None, locations=None):
    """What to transfer and what to buy, from ``items``: one dict per SKU and
    location with ``sku``, ``location``, ``on_hand``, ``on_order``,
    ``mean``, ``sd``, ``lead_time``, and the preferred supplier's
    ``supplier``, ``cost``, ``pack_size``, ``min_order``, ``ordering_cost``
    (any may be None). Pure: the benchmark's simulation calls it every day.

    Returns ``(actions, figures)``: actions are dicts with ``action``
    (``transfer`` or ``purchase``), ``sku``, ``location``,
    ``from_location``, ``supplier``, ``quantity``; figures maps
    ``(sku, location)`` to its policy. Only receiving ``locations`` (all
    when None) get actions; any location may give."""
    figures, by_sku = {}, {}
    for it in items:
        f = policy(it["mean"], it["sd"], it["lead_time"], z, unit_cost=it.get("cost"),
                   ordering_cost=it.get("ordering_cost") or ordering_cost, holding_rate=holding_rate, cover_days=cover_days)
        f["position"] = it["on_hand"] + it.get("on_order", 0)
        figures[(it["sku"], it["location"])] = f
        by_sku.setdefault(it["sku"], []).append(it)
    actions = []
    for sku in sorted(by_sku):
        group = sorted(by_sku[sku], key=lambda it: it["location"])
        # what each location can give and still hold more than its own reorder
        # point (all of it where nothing sells)
        spare = {it["location"]: _spare(it["on_hand"], figures[(sku, it["location"])]) for it in group}
        short = []
        for it in group:
            f = figures[(sku, it["location"])]
            if (locations is None or it["location"] in locations) and f["position"] <= f["reorder_point"] + EPS \
                    and f["order_up_to"] > EPS:
                short.append(it)
        # the emptiest first: days of cover left
        short.sort(key=lambda it: (figures[(sku, it["location"])]["position"] / it["mean"] if it["mean"] > 0 else math.inf,
                                   it["location"]))
        for it in short:
            loc = it["location"]
            f = figures[(sku, loc)]
            need = math.ceil(f["order_up_to"] - f["position"] - EPS)
            spare[loc] = 0  # a location short itself gives nothing
            for donor in sorted(spare, key=lambda k: (-spare[k], k)):
                if need <= 0:
                    break
                if donor == loc or spare[donor] <= 0:
                    continue
                qty = min(spare[donor], need)
                spare[donor] -= qty
                need -= qty
                f["position"] += qty
                actions.append({"action": "transfer", "sku": sku, "location": loc, "from_location": donor,
                                "supplier": None, "quantity": float(qty)})
            if f["position"] <= f["reorder_point"] + EPS and need > 0:
                qty = round_order(need, it.get("pack_size") or 1.0, it.get("min_order") or 0.0)
                f["position"] += qty
                actions.append({"action": "purchase", "sku": sku, "location": loc, "from_location": None,
                                "supplier": it.get("supplier"), "quantity": float(qty)})
    return actions, figures


def _spare(on_hand, f):
    """Whole units a location can give: it keeps more than its reorder point
    (else it would be short itself), or gives everything when nothing sells
    there (order-up-to 0)."""
    if on_hand <= EPS:
        return 0
    if f["order_up_to"] <= EPS:
        return math.floor(on_hand + EPS)
    return max(0, math.ceil(on_hand - f["reorder_point"] - EPS) - 1)


# -- from the database ----------------------------------------------------------


def window_days(as_of, window):
    start = as_of - dt.timedelta(days=window - 1)
    return start, [(start + dt.timedelta(days=i)).isoformat() for i in range(window)]


def demand(crm, as_of, window):
    """``{(product_id, location): [units sold per day]}`` over the window
    ending on ``as_of`` (sale movements, so a changed or removed line counts
    on the day it changed)."""
    start, days = window_days(as_of, window)
    index = {d: i for i, d in enumerate(days)}
    end = (as_of + dt.timedelta(days=1)).isoformat()
    series = {}
    for product_id, location, day, units in crm.store.execute(
            "SELECT product_id, location, substr(at, 1, 10) AS day, -sum(quantity) FROM stock_movements "
            "WHERE kind = 'sale' AND at >= ? AND at < ? GROUP BY product_id, location, substr(at, 1, 10)",
            (start.isoformat(), end)):
        key = (product_id, location)
        series.setdefault(key, [0.0] * window)[index[day]] += units
    return series


def settings(crm, service=None, holding_rate=None, ordering_cost=None, cover_days=None, lead_time=None):
    """Planning parameters: the options given, else the settings, else defaults."""
    def pick(value, key, default):
        return value if value is not None else crm.get_setting(key, default)

    return {
        "service_level": service_level(pick(service, "products.service_level", "95%")),
        "holding_rate": _rate(pick(holding_rate, "products.holding_rate", None)),
        "ordering_cost": _money(pick(ordering_cost, "products.ordering_cost", None), "ordering cost"),
        "cover_days": _money(pick(cover_days, "products.cover_days", 30), "cover days"),
        "lead_time": _money(pick(lead_time, "products.lead_time_days", 7), "lead time"),
    }


def _rate(value):
    """``25%`` or ``0.25``: the yearly cost of holding stock, per unit of its cost."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    try:
        rate = float(text.rstrip("%").strip().replace(",", "."))
    except ValueError:
        raise CRMError(f"invalid holding cost {value!r}: give a yearly rate such as 25%") from None
    if text.endswith("%") or rate > 1:
        rate /= 100
    if rate <= 0:
        raise CRMError(f"invalid holding cost {value!r}: must be greater than zero")
    return rate


def _money(value, what):
    if value in (None, ""):
        return None
    try:
        number = float(str(value).replace(",", "."))
    except ValueError:
        raise CRMError(f"invalid {what} {value!r}: not a number") from None
    if number < 0:
        raise CRMError(f"invalid {what} {value!r}: must not be negative")
    return number


def plan(crm, location=None, *, service=None, window=90, as_of=None, holding_rate=None, ordering_cost=None,
         cover_days=None, lead_time=None):
    """Rows of what to transfer and what to buy (see the module's doc)."""
    from .suppliers import sourcing

    if window < 2:
        raise CRMError("--window must be at least 2 days")
    params = settings(crm, service, holding_rate, ordering_cost, cover_days, lead_time)
    as_of = as_of or dt.date.today()
    series = demand(crm, as_of, window)
    products = {r["id"]: r for r in crm.store.query(
        "SELECT id, sku, name, cost FROM products WHERE active = 1 AND lifecycle = 'active'")}
    on_hand = {(r["product_id"], r["location"]): r["stock"] for r in crm.store.query(
        "SELECT product_id, location, sum(quantity) AS stock FROM stock_movements GROUP BY product_id, location")}
    on_order = {(r["product_id"], r["location"]): r["open"] for r in crm.store.query(
        "SELECT l.product_id, o.location, sum(l.quantity - l.received) AS open FROM purchase_order_lines l "
        "JOIN purchase_orders o ON o.id = l.purchase_order_id WHERE o.status IN ('draft', 'sent', 'partial') "
        "GROUP BY l.product_id, o.location")}
    source = sourcing(crm)
    items, facts = [], {}
    for key in sorted(set(series) | set(on_hand) | set(on_order), key=lambda k: (k[0], k[1])):
        product_id, loc = key
        if product_id not in products:
            continue
        p = products[product_id]
        mean, sd = demand_stats(series.get(key, [0.0] * window))
        terms = source.get(product_id, {})
        lead = terms.get("lead_time_days")
        items.append({"sku": p["sku"], "location": loc, "on_hand": on_hand.get(key, 0.0), "on_order": on_order.get(key, 0.0) or 0.0,
                      "mean": mean, "sd": sd, "lead_time": lead if lead is not None else params["lead_time"],
                      "supplier": terms.get("supplier"), "cost": terms.get("cost", p["cost"]) if terms else p["cost"],
                      "pack_size": terms.get("pack_size"), "min_order": terms.get("min_order"),
                      "ordering_cost": terms.get("ordering_cost")})
        facts[(p["sku"], loc)] = (p, items[-1])
    actions, figures = plan_actions(items, z_score(params["service_level"]), cover_days=params["cover_days"],
                                    holding_rate=params["holding_rate"], ordering_cost=params["ordering_cost"],
                                    locations={location} if location else None)
    rows = []
    for a in actions:
        p, it = facts[(a["sku"], a["location"])]
        f = figures[(a["sku"], a["location"])]
        cost = it["cost"]
        rows.append({**a, "name": p["name"], "on_hand": it["on_hand"], "on_order": it["on_order"],
                     "daily_demand": round(it["mean"], 3), "demand_sd": round(it["sd"], 3), "lead_time_days": it["lead_time"],
                     "safety_stock": round(f["safety_stock"], 2), "reorder_point": round(f["reorder_point"], 2),
                     "order_up_to": round(f["order_up_to"], 2), "eoq": None if f["eoq"] is None else round(f["eoq"], 2),
                     "unit_cost": cost, "value": None if cost is None else round(cost * a["quantity"], 2)})
    return rows
