"""Dashboard report on the shop database: the whole render against its queries alone.

    python benchmarks/bench_dashboard.py [--scale tiny|small|full] [--json] [--db FILE]

Data (benchmarks/shopdata.py): full = 1,000,000 contacts and 5,000,000 orders,
every built-in plugin enabled, so their dashboard sections render too.
Workload (issue "Benchmarks" 6): `crm report render dashboard`, in process:
data gathering by the core and the plugins' sections, the Jinja2 templates
(compiled afresh each time, as a CLI run does) and the charts. Baseline: the
same SQL statements with the same parameters, recorded during a render and
replayed straight on the sqlite3 connection with nothing around them. The
ratio is what the report costs above its queries. Target: rendered in at most
a few seconds. Best of a few interleaved rounds, so a busy moment of the
machine hits both alike.
"""

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE), os.path.join(os.path.dirname(HERE), "plugins")]

import crm_exports  # noqa: E402
import crm_products  # noqa: E402
import crm_segments  # noqa: E402
import crm_surveys  # noqa: E402
from common import ROUNDS, emit, parser, row, timed  # noqa: E402
from crmcore import reports  # noqa: E402
from shopdata import SCALES, open_shop  # noqa: E402

PLUGINS = [crm_segments, crm_products, crm_surveys, crm_exports]
READS = ("SELECT", "WITH", "PRAGMA")


def record_queries(crm):
    """Render once and return the ``(sql, params)`` of every query it ran (the
    schema check before rendering, ``CREATE TABLE IF NOT EXISTS``, stays on the
    render's side)."""
    store = crm.store
    seen = []
    original = store.execute

    def recording(sql, params=()):
        seen.append((sql, tuple(params) if not isinstance(params, dict) else params))
        return original(sql, params)

    store.execute = recording
    try:
        reports.render(crm, "dashboard")
    finally:
        del store.execute  # back to the class's method
    return [(sql, params) for sql, params in seen if sql.lstrip().upper().startswith(READS)]


def run(n_contacts, n_orders, keep=None, rounds=3):
    with tempfile.TemporaryDirectory() as folder:
        crm = open_shop(keep or os.path.join(folder, "shop.db"), n_contacts, n_orders, PLUGINS)
        try:
            size = f"{crm.store.count('contacts'):,} contacts / {crm.store.count('orders'):,} orders"
            statements = record_queries(crm)  # also warms SQLite's cache for both sides
            conn = crm.store.conn

            def replay():
                for sql, params in statements:
                    conn.execute(sql, params).fetchall()

            best_render = best_queries = float("inf")
            for _ in range(rounds):
                t_render, html = timed(lambda: reports.render(crm, "dashboard"))
                t_queries, _ = timed(replay)
                best_render, best_queries = min(best_render, t_render), min(best_queries, t_queries)
            assert "<html" in html.lower()
        finally:
            crm.close()
    return [row("dashboard report, all plugins", f"{size}, {len(statements)} queries", best_render, best_queries,
                "its own SQL statements replayed on sqlite3", "rendered in at most a few seconds")]


def main():
    p = parser(__doc__)
    p.add_argument("--db", help="keep the generated data in this file and reuse it next time")
    args = p.parse_args()
    emit(run(*SCALES[args.scale], keep=args.db, rounds=ROUNDS[args.scale]), args.json)


if __name__ == "__main__":
    main()
