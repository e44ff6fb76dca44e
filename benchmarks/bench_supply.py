"""Simulation: a year of sales replayed day by day, stock kept by following
`crm products plan` against the current `low-stock` rule.

    python benchmarks/bench_supply.py [--scale tiny|small|full] [--json] [--seed N]

tiny: 10 SKUs at 2 locations, a second; small: 100 SKUs at 2 locations;
full: 400 SKUs at 3 locations (web warehouse ``main``, ``store``, ``outlet``).

The shop: each SKU has a base demand (long-tailed: most sell under one a
day, a few dozens), a trend (-30% to +60% over the year), a yearly season
(garden goods peak in summer, others in winter, some flat), a weekly rhythm
(the store sells more at weekends, the web evenly) and gamma-Poisson noise,
split between the locations in shares that differ per SKU. Each SKU has one
supplier with a lead time of 3-21 days that is sometimes a few days late,
a pack size and a minimum order; unit costs are long-tailed. Sales are lost
when the shelf at that location is empty (no back orders). 120 days of
history come before the simulated year, and both policies see only sales,
never the lost demand.

Both policies start from the same stock (30 days of demand at each location),
face the same demand, the same suppliers and the same late deliveries, and
aim at the same service level (95%):

- ``low-stock`` (the baseline): a reorder point per SKU and location set once
  from the history with the same formula (d x L + z x sigma x sqrt(L)), as a
  person would with `crm products stock reorder`; each day, a location at or
  under it with no order on its way orders the rule's suggestion,
  max(reorder quantity, demand x 30 days - stock), demand the higher of the
  last 30 and 90 days' average, rounded to packs and the minimum order.
  No transfers.
- ``plan``: each day, `planning.plan_actions` (the code behind `crm
  products plan`) on the last 90 days of sales, with on-order stock, an
  ordering cost of 30 and a holding cost of 25% a year (EOQ); transfers
  arrive the next day, purchases after the supplier's (actual) lead time.

Rows (the row shape of common.py; the two quality rows carry units and
money, not seconds, in ours_s/baseline_s): lost sales units, average stock
value at cost over the year's days, and the time each policy took. Target:
fewer lost sales units at an equal or lower average stock value.
"""

import collections
import math
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "plugins"))

from common import emit, parser, row  # noqa: E402

SIZES = {"tiny": (10, ("main", "store")), "small": (100, ("main", "store")),
         "full": (400, ("main", "store", "outlet"))}
HISTORY, DAYS, WINDOW = 120, 365, 90
SERVICE = 0.95
ORDERING_COST, HOLDING_RATE, COVER_DAYS = 30.0, 0.25, 30


def poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def make_shop(n_skus, locations, seed):
    """SKUs with their demand per location and day, and their supplier."""
    rng = random.Random(seed)
    days = HISTORY + DAYS
    skus = []
    for i in range(n_skus):
        base = min(40.0, rng.lognormvariate(-0.6, 1.1))          # units a day, all locations
        trend = rng.uniform(-0.3, 0.6)                            # change over the simulated year
        season = rng.choice([(0.5, 172), (0.4, 355), (0.0, 0), (0.25, 90)])  # amplitude, peak day
        shares = [rng.uniform(0.2, 1.0) for _ in locations]
        shares[0] *= 2                                            # the web warehouse sells most
        total = sum(shares)
        lead = rng.choice([3, 5, 7, 7, 10, 14, 21])
        cost = round(rng.lognormvariate(2.2, 0.8), 2)
        pack = rng.choice([1, 1, 6, 12])
        demand = {loc: [] for loc in locations}
        for day in range(days):
            t = (day - HISTORY) / 365
            level = base * (1 + trend * t) * (1 + season[0] * math.cos(2 * math.pi * (day % 365 - season[1]) / 365))
            for j, loc in enumerate(locations):
                weekly = (1.5 if day % 7 in (5, 6) else 0.8) if loc != "main" else 1.0
                lam = max(0.0, level * shares[j] / total * weekly)
                lam = rng.gammavariate(4, lam / 4) if lam > 0 else 0.0   # overdispersed (gamma-Poisson)
                demand[loc].append(poisson(rng, lam))
        skus.append({"sku": f"SKU-{i:04d}", "demand": demand, "lead": lead, "cost": cost, "pack": pack,
                     "moq": pack * rng.choice([1, 2]), "late": [rng.random() < 0.15 for _ in range(days)]})
    return skus


class Window:
    """Sales of the last ``size`` days, with O(1) mean and sample sd."""

    def __init__(self, history, size):
        self.q = collections.deque(history[-size:], maxlen=size)
        self.size = size
        self.s = sum(self.q)
        self.ss = sum(x * x for x in self.q)

    def push(self, x):
        if len(self.q) == self.size:
            old = self.q[0]
            self.s -= old
            self.ss -= old * old
        self.q.append(x)
        self.s += x
        self.ss += x * x

    def stats(self):
        n = len(self.q)
        mean = self.s / n
        var = max(0.0, (self.ss - n * mean * mean) / (n - 1)) if n > 1 else 0.0
        return mean, math.sqrt(var)

    def mean_last(self, days):
        return sum(list(self.q)[-days:]) / days


def simulate(skus, locations, policy, eoq=False):
    from crm_products import planning

    z = planning.z_score(SERVICE)
    on_hand, windows, pipeline = {}, {}, collections.defaultdict(list)  # pipeline[day] = [(sku, loc, qty)]
    open_orders = collections.Counter()
    reorder = {}
    for s in skus:
        for loc in locations:
            hist = s["demand"][loc][:HISTORY]
            on_hand[(s["sku"], loc)] = float(math.ceil(sum(hist[-30:])))
            windows[(s["sku"], loc)] = Window(hist, WINDOW)
            mean, sd = windows[(s["sku"], loc)].stats()
            f = planning.policy(mean, sd, s["lead"], z, cover_days=COVER_DAYS)
            reorder[(s["sku"], loc)] = (f["reorder_point"], mean * COVER_DAYS)   # point, quantity
    by_sku = {s["sku"]: s for s in skus}
    lost = sold = orders = 0
    value_days = 0.0
    for day in range(HISTORY, HISTORY + DAYS):
        for sku, loc, qty, purchase in pipeline.pop(day, []):
            on_hand[(sku, loc)] += qty
            if purchase:
                open_orders[(sku, loc)] -= 1
        for s in skus:
            for loc in locations:
                key = (s["sku"], loc)
                want = s["demand"][loc][day]
                got = min(want, max(0, int(on_hand[key])))
                on_hand[key] -= got
                lost += want - got
                sold += got
                windows[key].push(got)
        value_days += sum(on_hand[(s["sku"], loc)] * s["cost"] for s in skus for loc in locations)

        def buy(s, loc, qty):
            nonlocal orders
            orders += 1
            lead = s["lead"] + (rng_late(s, day))
            pipeline[day + lead].append((s["sku"], loc, qty, True))
            open_orders[(s["sku"], loc)] += 1

        if policy == "plan":
            on_order = collections.Counter()
            for arrivals in pipeline.values():
                for sku, loc, qty, _ in arrivals:
                    on_order[(sku, loc)] += qty
            items = []
            for s in skus:
                for loc in locations:
                    key = (s["sku"], loc)
                    mean, sd = windows[key].stats()
                    items.append({"sku": s["sku"], "location": loc, "on_hand": on_hand[key], "on_order": on_order[key],
                                  "mean": mean, "sd": sd, "lead_time": s["lead"], "supplier": "S", "cost": s["cost"],
                                  "pack_size": s["pack"], "min_order": s["moq"], "ordering_cost": ORDERING_COST if eoq else None})
            actions, _ = planning.plan_actions(items, z, cover_days=COVER_DAYS, holding_rate=HOLDING_RATE if eoq else None)
            for a in actions:
                s = by_sku[a["sku"]]
                if a["action"] == "transfer":
                    on_hand[(a["sku"], a["from_location"])] -= a["quantity"]
                    pipeline[day + 1].append((a["sku"], a["location"], a["quantity"], False))
                else:
                    buy(s, a["location"], a["quantity"])
        else:
            for s in skus:
                for loc in locations:
                    key = (s["sku"], loc)
                    point, quantity = reorder[key]
                    if open_orders[key] or on_hand[key] > point:
                        continue
                    w = windows[key]
                    demand = max(w.mean_last(30), w.mean_last(90))
                    need = math.ceil(round(demand * COVER_DAYS - on_hand[key], 6)) if demand else 0
                    qty = planning.round_order(max(need, quantity, 0), s["pack"], s["moq"])
                    if qty > 0:
                        buy(s, loc, qty)
    return {"lost": lost, "sold": sold, "avg_value": value_days / DAYS, "orders": orders}


def rng_late(s, day):
    """The same late deliveries for both policies: late by 1-4 days on the
    days the supplier is late."""
    return (1 + (day * 7 + len(s["sku"])) % 4) if s["late"][day] else 0


def main():
    p = parser(__doc__)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    n_skus, locations = SIZES[args.scale]
    skus = make_shop(n_skus, locations, args.seed)
    from crm_products import planning  # noqa: F401  (imported before timing either policy)

    timed = {}
    results = {}
    for name, policy, eoq in (("low-stock", "low-stock", False), ("plan", "plan", False), ("plan+eoq", "plan", True)):
        start = time.perf_counter()
        results[name] = simulate(skus, locations, policy, eoq)
        timed[name] = time.perf_counter() - start
    base, ours, with_eoq = results["low-stock"], results["plan"], results["plan+eoq"]
    size = f"{n_skus} SKUs x {len(locations)} locations, {DAYS} days"
    demand = ours["lost"] + ours["sold"]
    same = "the low-stock rule at the same 95% service level"
    rows = [
        row("supply sim: lost sales units (plan vs low-stock)", f"{size}, {demand:,} units demanded", float(ours["lost"]),
            float(base["lost"]), same, "< 1.0x (fewer lost units)"),
        row("supply sim: average stock value (plan vs low-stock)",
            f"{size}, {ours['orders']:,} vs {base['orders']:,} orders", round(ours["avg_value"], 2),
            round(base["avg_value"], 2), same, "<= 1.0x (no more stock)"),
        row("supply sim: lost sales units (plan with EOQ vs low-stock)", f"{size}, ordering cost 30, holding 25%/year",
            float(with_eoq["lost"]), float(base["lost"]), same, "report the ratio"),
        row("supply sim: average stock value (plan with EOQ vs low-stock)",
            f"{size}, {with_eoq['orders']:,} vs {base['orders']:,} orders", round(with_eoq["avg_value"], 2),
            round(base["avg_value"], 2), same, "report the ratio"),
        row("supply sim: time to replay the year, plan", size, timed["plan"], timed["low-stock"],
            "the low-stock rule's replay", "report the ratio"),
    ]
    emit(rows, args.json)


if __name__ == "__main__":
    main()
