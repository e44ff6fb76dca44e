"""Benchmark: bought-together and the sales report over many order lines.

    python benchmarks/bench_products.py --scale small   # 200,000 lines, seconds
    python benchmarks/bench_products.py --scale full    # 5,000,000 lines (the issue's target)

Builds a shop (a catalogue of 2,000 SKUs with long-tail popularity, orders of
1-5 lines over three years) through the products plugin's migrations, then
times, in the same run:

- baseline: one full scan of order_lines (``count(*), sum(quantity)``), the
  cheapest query that reads every line;
- bought-together for a top seller and a typical SKU; its self-join also
  as raw SQL with the plugin's ``(order_id, sku, ...)`` index and with the
  core's plain ``order_id`` index instead;
- the sales report grouped by category and by month.

Every figure is printed with its ratio to the baseline. Order lines are
written with raw executemany (not through the hooks): this measures the
queries, not the import. ``--db PATH`` keeps the database for another run.
"""

import argparse
import datetime as dt
import itertools
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "plugins"))

SCALES = {"small": 200_000, "full": 5_000_000}
N_SKUS = 2000
CATEGORIES = ["Garden", "Kitchen", "Outdoor", "Home", "Tools", "Toys", "Books", "Sport"]


def build(crm, n_lines, seed=7):
    from crm_products.records import Product

    rng = random.Random(seed)
    skus = [f"SKU-{i:05d}" for i in range(N_SKUS)]
    crm.add_many([Product(sku=s, name=f"Product {i}", category=CATEGORIES[i % len(CATEGORIES)], price=round(5 + i % 97, 2),
                          cost=round((5 + i % 97) * 0.45, 2)) for i, s in enumerate(skus)])
    weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(N_SKUS)))  # Zipf-like long tail
    n_orders = int(n_lines / 2.4)  # mean order size is 2.5: enough orders to reach n_lines
    n_contacts = max(1000, n_orders // 10)
    start = dt.date.today() - dt.timedelta(days=3 * 365)
    store = crm.store
    with store.transaction():
        store.executemany("INSERT INTO contacts (id, email, first_name, last_name, consent, tags, custom) VALUES (?, ?, '', '', 0, '[]', '{}')",
                          ((i, f"c{i}@example.com") for i in range(1, n_contacts + 1)))

        def orders():
            for oid in range(1, n_orders + 1):
                yield (oid, f"SO-{oid}", rng.randint(1, n_contacts), (start + dt.timedelta(days=rng.randrange(1095))).isoformat(), "EUR", 0.0)

        store.executemany("INSERT INTO orders (id, ref, contact_id, ordered_at, currency, total) VALUES (?, ?, ?, ?, ?, ?)", orders())

        def lines():
            line_id, oid = 0, 0
            sizes = rng.choices([1, 2, 3, 4, 5], [30, 25, 20, 15, 10], k=n_orders)
            picks = iter(rng.choices(skus, cum_weights=weights, k=sum(sizes)))
            for oid, size in enumerate(sizes, start=1):
                for _ in range(size):
                    line_id += 1
                    if line_id > n_lines:
                        return
                    yield (line_id, oid, next(picks), 1 + (line_id % 3), 9.5)

        store.executemany("INSERT INTO order_lines (id, order_id, sku, quantity, unit_price) VALUES (?, ?, ?, ?, ?)", lines())
    store.execute("ANALYZE")
    return skus


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=SCALES, default="small")
    parser.add_argument("--db", help="Database file to build (or reuse when it exists).")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    import crm_products
    from crm_products import analytics
    from crmcore.app import CRM

    n_lines = SCALES[args.scale]
    folder = None if args.db else tempfile.mkdtemp(prefix="bench-products-")
    path = args.db or os.path.join(folder, "bench.db")
    fresh = not os.path.exists(path)
    crm = CRM(path, plugins=[crm_products])
    crm.migrate()
    if fresh:
        t0 = time.perf_counter()
        build(crm, n_lines)
        print(f"built {path}: {crm.store.count('order_lines'):,} order lines, {crm.store.count('orders'):,} orders "
              f"in {time.perf_counter() - t0:.1f} s")
    store = crm.store
    n = store.count("order_lines")
    popular = store.query("SELECT sku, count(*) AS n FROM order_lines GROUP BY sku ORDER BY n DESC")
    top, typical = popular[0], popular[len(popular) // 10]

    base, _ = timed(lambda: store.query("SELECT count(*), sum(quantity) FROM order_lines"), args.repeat)
    print(f"\n{n:,} order lines; baseline full scan of order_lines: {base * 1000:.0f} ms\n")
    rows = []

    def measure(label, fn, target=None):
        seconds, _ = timed(fn, args.repeat)
        verdict = "" if target is None else ("  ok" if seconds < target else f"  SLOWER than {target:g} s")
        rows.append((label, seconds))
        print(f"{label:<58} {seconds * 1000:>9.0f} ms  {seconds / base:>6.2f}x baseline{verdict}")

    for label, ref in (("top seller", top), (f"SKU ranked {len(popular) // 10 + 1} of {len(popular):,}", typical)):
        measure(f"bought-together, {label}, {ref['n']:,} lines", lambda s=ref["sku"]: analytics.bought_together(crm, s), 1.0)
    measure("sales by product (whole history)", lambda: analytics.sales(crm, "product"), 5.0)
    measure("sales by category (whole history)", lambda: analytics.sales(crm, "category"), 5.0)
    measure("sales by month (whole history)", lambda: analytics.sales(crm, "month"), 5.0)
    measure("sales by product, last 90 days", lambda: analytics.sales(crm, "product", since=(dt.date.today() - dt.timedelta(days=90)).isoformat()), 5.0)

    # The same self-join with the core's plain order_id index instead of ours
    # (a table lookup per line for its SKU), both timed here as raw SQL.
    core_only = analytics.BOUGHT_TOGETHER_SQL.replace("ix_order_lines_order_sku", "ix_order_lines_order_id")
    for label, ref in (("top seller", top), ("typical SKU", typical)):
        measure(f"bought-together SQL, {label}, (order_id, sku...) index", lambda s=ref["sku"]: store.query(analytics.BOUGHT_TOGETHER_SQL, (s, 1, 10)))
        measure(f"bought-together SQL, {label}, core order_id index only", lambda s=ref["sku"]: store.query(core_only, (s, 1, 10)))
    print(f"\nspeed-up from the index: top seller {rows[-3][1] / rows[-4][1]:.1f}x, typical SKU {rows[-1][1] / rows[-2][1]:.1f}x")
    crm.close()
    if folder:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
