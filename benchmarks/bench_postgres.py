"""The same CRM work on PostgreSQL against SQLite, measured in the same run.

    python benchmarks/bench_postgres.py [--rows N] [--scale small|full] [--json]

Uses CRM_BENCH_POSTGRES_URL, or starts a throw-away server from the system's
initdb/pg_ctl (crmcore/pgserver.py). Workloads, ours = PostgreSQL, baseline =
SQLite on this machine:
  import     `import_contacts` of a CSV into an empty CRM (COPY on PostgreSQL)
  reimport   the same file again (every row an update)
  dashboard  the core dashboard's queries over those contacts
  rfm        the segments plugin's RFM scoring of every customer, on the
             contacts and orders of bench_segments.py (small: 20,000 / 100,000,
             full: 1,000,000 / 5,000,000), copied to PostgreSQL with
             `migrate-store`
Ratios above 1.0 mean PostgreSQL is slower.
"""

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ["CRM_LOAD_PLUGINS"] = "segments"  # migrate-store opens both CRMs with the installed plugins

import bench_segments  # noqa: E402
from bench_import import write_csv  # noqa: E402
from crm_segments import rfm  # noqa: E402

from crmcore import dashboard, pgserver  # noqa: E402
from crmcore.app import CRM  # noqa: E402
from crmcore.importing import import_contacts  # noqa: E402
from crmcore.migrate_store import migrate_store  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(location, path, n):
    crm = CRM(location, plugins=[])
    crm.migrate()
    try:
        times = {"import": timed(lambda: import_contacts(crm, path)),
                 "reimport": timed(lambda: import_contacts(crm, path)),
                 "dashboard": timed(lambda: dashboard.context(crm, {}))}
        assert crm.store.count("contacts") == n
    finally:
        crm.close()
    return times


def rfm_seconds(location):
    crm = CRM(location, plugins=[bench_segments.crm_segments])
    try:
        seconds, scored = bench_segments.timed(lambda: rfm.score(crm, bench_segments.AS_OF))
    finally:
        crm.close()
    return seconds, scored


def measure_rfm(folder, schema_url, n_contacts, n_orders):
    path = os.path.join(folder, "rfm.db")
    bench_segments.build(path, n_contacts, n_orders).close()
    lite, scored = rfm_seconds(path)
    copy_s, _ = bench_segments.timed(lambda: migrate_store(path, schema_url))
    print(f"migrate-store copied {n_contacts:,} contacts and {n_orders:,} orders in {copy_s:.1f}s", file=sys.stderr)
    pg, scored_pg = rfm_seconds(schema_url)
    assert scored == scored_pg, (scored, scored_pg)
    return lite, pg


def run(n, rfm_size):
    server = None
    url = os.environ.get("CRM_BENCH_POSTGRES_URL")
    if not url:
        server = pgserver.start()
        url = server.url
    try:
        schema_url = pgserver.new_schema(url)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "contacts.csv")
            write_csv(path, n)
            lite = measure(os.path.join(folder, "bench.db"), path, n)
            pg = measure(schema_url, path, n)
            pgserver.drop_schema(schema_url)
            schema_url = pgserver.new_schema(url)
            lite["rfm"], pg["rfm"] = measure_rfm(folder, schema_url, *rfm_size)
        pgserver.drop_schema(schema_url)
    finally:
        if server:
            server.stop()
    sizes = {k: f"{n:,} contacts" for k in ("import", "reimport", "dashboard")}
    sizes["rfm"] = f"{rfm_size[0]:,} contacts, {rfm_size[1]:,} orders"
    labels = {"import": "contact import on PostgreSQL", "reimport": "contact re-import on PostgreSQL",
              "dashboard": "dashboard queries on PostgreSQL", "rfm": "RFM scoring on PostgreSQL"}
    return [{"workload": labels[k], "size": sizes[k], "ours_s": pg[k], "baseline_s": lite[k], "baseline": "the same on SQLite",
             "ratio": pg[k] / lite[k], "target": "-"} for k in labels]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["small", "full"], default="small")
    parser.add_argument("--rows", type=int, help="override the row count")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        results = run(args.rows or (20_000 if args.scale == "small" else 1_000_000), bench_segments.SCALES[args.scale])
    except pgserver.ServerError as exc:
        sys.exit(f"bench_postgres: {exc}")
    if args.json:
        print(json.dumps(results))
        return
    for r in results:
        print(f"{r['workload']:<34} {r['size']:>32}  ours {r['ours_s']:7.2f}s  baseline {r['baseline_s']:7.2f}s  "
              f"ratio {r['ratio']:5.2f}x (baseline: {r['baseline']})")


if __name__ == "__main__":
    main()
