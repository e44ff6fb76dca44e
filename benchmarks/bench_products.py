"""Benchmark: bought-together and the sales report over many order lines.

    python benchmarks/bench_products.py [--scale tiny|small|full] [--json] [--db FILE]

small: 200,000 order lines, seconds; full: 5,000,000 (the products issue's sizes).

Builds a shop (a catalogue of 2,000 SKUs with long-tail popularity, orders of
1-5 lines over three years) through the products plugin's migrations, then
times, in the same run:

- baseline: one full scan of order_lines (``count(*), sum(quantity)``), the
  cheapest query that reads every line;
- bought-together for a top seller and a typical SKU (from the pair
  summary); the self-join over the lines it falls back to (a database the
  report cannot write) as raw SQL, with the plugin's
  ``(order_id, sku, ...)`` index and with the core's plain ``order_id``
  index instead;
- building the sales summaries from every line (what the first report
  after an upgrade does), then the sales report grouped by product,
  category and month (from the summaries) and over the last 90 days (from
  the lines).

Data is generated inside SQLite (no per-row Python), indexes built after.

Targets (products issue): bought-together for one SKU under a second with the
right index, the sales report in a few seconds. Each time is the median of
``--repeat`` runs, printed with its ratio to the baseline. Order lines are
written with raw SQL (not through the hooks): this measures the queries, not
the import. ``--db PATH`` keeps the database for another run.
"""

import datetime as dt
import itertools
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE), os.path.join(os.path.dirname(HERE), "plugins")]

from common import emit, parser, row, timed  # noqa: E402

SCALES = {"tiny": 10_000, "small": 200_000, "full": 5_000_000}
N_SKUS = 2000
CATEGORIES = ["Garden", "Kitchen", "Outdoor", "Home", "Tools", "Toys", "Books", "Sport"]


H1, H2, H3 = 2654435761, 2246822519, 3266489917  # multiplicative hashes

# Orders over the last three years in date order, 1-5 lines each (30/25/20/15/10%),
# SKUs drawn by hashing into a cumulative long-tail (Zipf-like) weight table.
CONTACTS_SQL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
INSERT INTO contacts (id, email, first_name, last_name, consent, tags, custom) SELECT i, 'c' || i || '@example.com', '', '', 0, '[]', '{}' FROM n
"""
ORDERS_SQL = f"""
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :orders)
INSERT INTO orders (id, ref, contact_id, ordered_at, currency, total, fx_rate)
SELECT i, 'SO-' || i, 1 + (i * {H1}) % :contacts, date(julianday(:today) - 1095 + (i - 1) * 1095 / :orders), 'EUR', 0.0, 1 FROM n
"""
LINES_SQL = f"""
WITH k(k) AS (VALUES (1), (2), (3), (4), (5))
INSERT INTO order_lines (order_id, sku, quantity, unit_price)
SELECT o.id, (SELECT z.sku FROM _zipf z WHERE z.upto > (o.id * 7 + k.k) * {H2} % 1000000 ORDER BY z.upto LIMIT 1),
       1 + (o.id + k.k) % 3, 9.5
FROM orders o CROSS JOIN k
WHERE k.k <= CASE WHEN (o.id * {H3}) % 100 < 30 THEN 1 WHEN (o.id * {H3}) % 100 < 55 THEN 2
                  WHEN (o.id * {H3}) % 100 < 75 THEN 3 WHEN (o.id * {H3}) % 100 < 90 THEN 4 ELSE 5 END
LIMIT :lines
"""


def build(crm, n_lines):
    """A catalogue of ``N_SKUS`` products and ``n_lines`` order lines, generated
    inside SQLite (benchmarks/shopdata.py's bulk load); returns the SKUs."""
    from crm_products.records import Product
    from shopdata import bulk_load

    skus = [f"SKU-{i:05d}" for i in range(N_SKUS)]
    crm.add_many([Product(sku=s, name=f"Product {i}", category=CATEGORIES[i % len(CATEGORIES)], price=round(5 + i % 97, 2),
                          cost=round((5 + i % 97) * 0.45, 2)) for i, s in enumerate(skus)])
    weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(N_SKUS)))  # Zipf-like long tail
    store = crm.store
    store.execute("CREATE TEMP TABLE _zipf (upto INTEGER PRIMARY KEY, sku TEXT)")
    store.executemany("INSERT OR REPLACE INTO _zipf VALUES (?, ?)",
                      ((max(1, round(1_000_000 * w / weights[-1])), s) for w, s in zip(weights, skus)))
    n_orders = int(n_lines / 2.4)  # mean order size is 2.5: enough orders to reach n_lines
    n_contacts = max(1000, n_orders // 10)
    def fill(conn):
        conn.execute(CONTACTS_SQL, (n_contacts,))
        conn.execute(ORDERS_SQL, {"orders": n_orders, "contacts": n_contacts, "today": dt.date.today().isoformat()})
        conn.execute(LINES_SQL, {"lines": n_lines})

    bulk_load(crm, ["contacts", "orders", "order_lines"], fill)
    store.execute("DROP TABLE temp._zipf")
    return skus


def median_of(fn, repeat):
    times = []
    for _ in range(repeat):
        times.append(timed(fn)[0])
    return statistics.median(times)


def run(n_lines, keep=None, repeat=3):
    import crm_products
    from crm_products import analytics
    from crmcore.app import CRM

    folder = None if keep else tempfile.mkdtemp(prefix="bench-products-")
    path = keep or os.path.join(folder, "bench.db")
    fresh = not os.path.exists(path)
    crm = CRM(path, plugins=[crm_products])
    try:
        crm.migrate()
        if fresh:
            seconds, _ = timed(lambda: build(crm, n_lines))
            print(f"built {path}: {crm.store.count('order_lines'):,} order lines, {crm.store.count('orders'):,} orders "
                  f"in {seconds:.1f} s", file=sys.stderr)
        return measure(crm, analytics, repeat)
    finally:
        crm.close()
        if folder:
            shutil.rmtree(folder)


def measure(crm, analytics, repeat):
    store = crm.store
    n = store.count("order_lines")
    size = f"{n:,} order lines"
    popular = store.query("SELECT sku, count(*) AS n FROM order_lines GROUP BY sku ORDER BY n DESC")
    top, typical = popular[0], popular[len(popular) // 10]
    scan = "full scan of order_lines (count, sum)"
    base = median_of(lambda: store.query("SELECT count(*), sum(quantity) FROM order_lines"), repeat)
    rows = []
    # Bought-together and whole-history sales read the plugin's summaries
    # (crm_products/summary.py), built from every line once (here, as by the
    # first report after an upgrade or an edit of old orders) and kept up by
    # later reports.
    from crm_products import summary

    built, _ = timed(lambda: summary.rebuild(crm))
    rows.append(row("sales summaries, built from every line", size, built, base, scan, "once"))
    for label, ref in (("top seller", top), (f"SKU ranked {len(popular) // 10 + 1}", typical)):
        t = median_of(lambda s=ref["sku"]: analytics.bought_together(crm, s), repeat)
        rows.append(row(f"bought-together, {label}", f"{size}, {ref['n']:,} with it", t, base, scan, "< 1 s"))
    since = (dt.date.today() - dt.timedelta(days=90)).isoformat()
    for label, fn in (("sales by product", lambda: analytics.sales(crm, "product")),
                      ("sales by category", lambda: analytics.sales(crm, "category")),
                      ("sales by month", lambda: analytics.sales(crm, "month")),
                      ("sales by product, last 90 days", lambda: analytics.sales(crm, "product", since=since))):
        rows.append(row(label, size, median_of(fn, repeat), base, scan, "a few seconds"))

    # The self-join with the core's plain order_id index instead of ours (a
    # table lookup per line for its SKU): what the plugin's index buys.
    core_only = analytics.BOUGHT_TOGETHER_SQL.replace("ix_order_lines_order_sku", "ix_order_lines_order_id")
    for label, ref in (("top seller", top), ("typical SKU", typical)):
        ours = median_of(lambda s=ref["sku"]: store.query(analytics.BOUGHT_TOGETHER_SQL, (s, 1, 10)), repeat)
        core = median_of(lambda s=ref["sku"]: store.query(core_only, (s, 1, 10)), repeat)
        rows.append(row(f"bought-together from the lines, {label}, plugin index", size, ours, core,
                        "the same SQL on the core's order_id index", "< 1.0x"))
    return rows


def main():
    p = parser(__doc__)
    p.add_argument("--db", help="Database file to build (or reuse when it exists).")
    p.add_argument("--repeat", type=int, help="runs per figure, the median is kept (default 3; 1 at tiny)")
    args = p.parse_args()
    emit(run(SCALES[args.scale], args.db, args.repeat or (1 if args.scale == "tiny" else 3)), args.json)


if __name__ == "__main__":
    main()
