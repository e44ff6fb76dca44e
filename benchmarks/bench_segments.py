"""Segments plugin speed: RFM and rule refresh against hand-written SQL, same run.

    python benchmarks/bench_segments.py [--scale small|full] [--contacts N] [--orders N] [--json] [--lifetimes]

Workloads (issue 4, "Speed"):
  rfm              `crm segments rfm` for every customer (scores, named segment, stored)
                   vs one hand-written statement computing NTILE(5) scores into a table.
                   Issue budget: <= 10 s at 1M contacts / 5M orders.
  rfm again        the same with last run's scores in place (they are replaced).
  refresh (first)  simple rule segments, `country == "SE"` (3% of contacts) and
                   `country == "DE"` (30%), refreshed for the first time (every member
                   enters, history written) vs a hand-written CREATE TABLE AS SELECT
                   of the same ids. Budget: <= 1 s.
  refresh (again)  the same refresh with nothing changed (the steady state).
  purchase rule    `country == "SE" and days_since_last_order <= 90`, first refresh,
                   vs a hand-written join of contacts and per-contact last order.
Ratios above 1.0 mean we are slower than the baseline (ours / baseline time).

Data is generated inside SQLite from integer hashes (no per-row fake-data
calls): full = 1,000,000 contacts and 5,000,000 orders. ``--lifetimes``
also times the optional `lifetimes` package's RFM summary on the same orders
(only when it is installed; it is not a dependency of the project).
"""

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "plugins"))

import crm_segments  # noqa: E402
from crm_segments import rfm, segments  # noqa: E402
from crmcore.app import CRM  # noqa: E402

AS_OF = dt.date(2025, 12, 31)
SCALES = {"small": (20_000, 100_000), "full": (1_000_000, 5_000_000)}

# Multiplicative hashes: deterministic, well spread, and cheap inside SQLite.
H1, H2, H3, H4 = 2654435761, 2246822519, 3266489917, 668265263

CONTACTS_SQL = f"""
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
INSERT INTO contacts (id, first_name, last_name, email, company, job_title, street, city, region, postal_code, country,
                      gender, source, owner, tags, consent, consent_source, notes, custom, created_at, updated_at)
SELECT i, 'Kim', 'Nr' || (i % 997), 'c' || i || '@example.com', '', '', '', '', '', printf('%05d', (i * {H2}) % 100000),
       CASE WHEN h < 300 THEN 'DE' WHEN h < 500 THEN 'US' WHEN h < 620 THEN 'GB' WHEN h < 720 THEN 'FR' WHEN h < 800 THEN 'AT'
            WHEN h < 860 THEN 'NL' WHEN h < 920 THEN 'CH' WHEN h < 970 THEN 'ES' ELSE 'SE' END,
       '', 'web', 'rep' || (i % 7), CASE WHEN i % 11 = 0 THEN '["vip"]' ELSE '[]' END, i % 3 != 0, '', '', '{{}}',
       '2023-01-01T09:00:00', '2023-01-01T09:00:00'
FROM (SELECT i, (i * {H1}) % 1000 AS h FROM n)
"""

ORDERS_SQL = f"""
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
INSERT INTO orders (contact_id, ordered_at, channel, currency, total, created_at, updated_at)
SELECT CASE WHEN i % 2 = 0 THEN 1 + ((i / 2) * {H3}) % :c ELSE 1 + ((i * {H1}) % :c) * ((i * {H2}) % :c) / :c END AS contact_id,
       date('2023-01-01', '+' || ((i * {H3}) % 1095) || ' days') AS ordered_at, 'web', 'EUR',
       5 + ((i * {H4}) % 20000) / 100.0, '2023-01-01T09:00:00', '2023-01-01T09:00:00'
FROM n ORDER BY contact_id, ordered_at
""".replace(":c", "?")


def build(path, n_contacts, n_orders):
    crm = CRM(path, plugins=[crm_segments])
    crm.migrate()
    conn = crm.store.conn
    conn.execute("PRAGMA cache_size = -400000")
    conn.execute("BEGIN")
    conn.execute(CONTACTS_SQL, (n_contacts,))
    conn.execute(ORDERS_SQL, (n_orders, n_contacts, n_contacts, n_contacts, n_contacts))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    return crm


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


BASELINE_RFM = """
CREATE TABLE baseline_rfm AS
SELECT contact_id, ntile(5) OVER (ORDER BY max(ordered_at)) AS r, ntile(5) OVER (ORDER BY count(*)) AS f,
       ntile(5) OVER (ORDER BY sum(total)) AS m
FROM orders WHERE ordered_at <= ? GROUP BY contact_id
"""

BASELINE_PURCHASE = """
CREATE TABLE baseline_members AS
SELECT c.id FROM contacts c JOIN (SELECT contact_id, max(ordered_at) AS last FROM orders GROUP BY contact_id) o ON o.contact_id = c.id
WHERE c.country = 'SE' AND julianday(?) - julianday(o.last) <= 90
"""


def baseline(crm, sql, params=()):
    conn = crm.store.conn
    conn.execute("DROP TABLE IF EXISTS baseline_rfm")
    conn.execute("DROP TABLE IF EXISTS baseline_members")
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(sql, params)
    conn.execute("COMMIT")
    return time.perf_counter() - start


def open_data(folder, n_contacts, n_orders, keep=None):
    """A database of the wanted size: built in ``folder``, or reused from ``keep``."""
    if keep and os.path.exists(keep):
        crm = CRM(keep, plugins=[crm_segments])
        crm.migrate()
        for table in ("segment_history", "segment_refreshes", "segment_members", "segment_rfm", "segments"):
            crm.store.execute(f"DELETE FROM {table}")
        n_contacts, n_orders = crm.store.count("contacts"), crm.store.count("orders")
        print(f"reusing {keep}: {n_contacts:,} contacts and {n_orders:,} orders", file=sys.stderr)
        return crm, n_contacts, n_orders
    t_build, crm = timed(lambda: build(keep or os.path.join(folder, "bench.db"), n_contacts, n_orders))
    print(f"generated {n_contacts:,} contacts and {n_orders:,} orders in {t_build:.1f}s", file=sys.stderr)
    return crm, n_contacts, n_orders


def run(n_contacts, n_orders, with_lifetimes=False, keep=None):
    results = []
    with tempfile.TemporaryDirectory() as folder:
        crm, n_contacts, n_orders = open_data(folder, n_contacts, n_orders, keep)
        size = f"{n_contacts:,} contacts / {n_orders:,} orders"

        t_base = baseline(crm, BASELINE_RFM, (AS_OF.isoformat(),))
        t_ours, scored = timed(lambda: rfm.score(crm, AS_OF))
        assert scored == crm.store.query_value("SELECT count(DISTINCT contact_id) FROM orders")
        results.append({"workload": "RFM scores, every customer", "size": f"{size} ({scored:,} scored)", "ours_s": t_ours,
                        "baseline_s": t_base, "baseline": "one hand-written NTILE statement", "target": "ours <= 10 s at full scale"})

        t_again, again = timed(lambda: rfm.score(crm, AS_OF))
        results.append({"workload": "RFM scores again (replacing them)", "size": f"{size} ({again:,} scored)", "ours_s": t_again,
                        "baseline_s": t_base, "baseline": "one hand-written NTILE statement", "target": "ours <= 10 s at full scale"})

        for name, country in (("se", "SE"), ("de", "DE")):
            segments.create_segment(crm, name, f'country == "{country}"')
            t_base = baseline(crm, "CREATE TABLE baseline_members AS SELECT id FROM contacts WHERE country = ?", (country,))
            t_first, first = timed(lambda: segments.refresh(crm, [name], AS_OF)[0])
            t_again, again = timed(lambda: segments.refresh(crm, [name], AS_OF)[0])
            assert first["entered"] == first["size"] == crm.store.query_value("SELECT count(*) FROM baseline_members")
            assert again["entered"] == again["left"] == 0
            rule = f'country == "{country}"'
            results.append({"workload": f"rule refresh {rule}, first (all enter)", "size": f"{size} ({first['size']:,} members)",
                            "ours_s": t_first, "baseline_s": t_base, "baseline": "hand-written CREATE TABLE AS SELECT",
                            "target": "ours <= 1 s at full scale"})
            results.append({"workload": f"rule refresh {rule}, nothing changed", "size": f"{size} ({again['size']:,} members)",
                            "ours_s": t_again, "baseline_s": t_base, "baseline": "hand-written CREATE TABLE AS SELECT",
                            "target": "ours <= 1 s at full scale"})

        segments.create_segment(crm, "se-recent", 'country == "SE" and days_since_last_order <= 90')
        t_base = baseline(crm, BASELINE_PURCHASE, (AS_OF.isoformat(),))
        t_ours, result = timed(lambda: segments.refresh(crm, ["se-recent"], AS_OF)[0])
        assert result["size"] == crm.store.query_value("SELECT count(*) FROM baseline_members")
        results.append({"workload": "purchase rule refresh, first", "size": f"{size} ({result['size']:,} members)",
                        "ours_s": t_ours, "baseline_s": t_base, "baseline": "hand-written join on last order", "target": "-"})

        if with_lifetimes:
            lifetimes_result = time_lifetimes(crm, results[0]["ours_s"])
            if lifetimes_result:
                results.append(lifetimes_result)
        crm.close()
    for r in results:
        r["ratio"] = r["ours_s"] / r["baseline_s"] if r["baseline_s"] else float("inf")
    return results


def time_lifetimes(crm, ours_s):
    """The `lifetimes` package's RFM summary (frequency/recency/T/monetary) from a
    DataFrame of the same orders, loading included; skipped when not installed."""
    try:
        import pandas as pd
        from lifetimes.utils import summary_data_from_transaction_data
    except ImportError:
        print("lifetimes is not installed: skipping that comparison", file=sys.stderr)
        return None
    start = time.perf_counter()
    frame = pd.read_sql_query("SELECT contact_id, ordered_at, total FROM orders", crm.store.conn)
    summary_data_from_transaction_data(frame, "contact_id", "ordered_at", monetary_value_col="total", observation_period_end=AS_OF.isoformat())
    t = time.perf_counter() - start
    return {"workload": "RFM summary, lifetimes package", "size": "same orders", "ours_s": ours_s, "baseline_s": t,
            "baseline": "lifetimes.utils.summary_data_from_transaction_data (raw R/F/M per customer, no scores; loading included)", "target": "-"}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=list(SCALES), default="small")
    parser.add_argument("--contacts", type=int, help="override the contact count")
    parser.add_argument("--orders", type=int, help="override the order count")
    parser.add_argument("--lifetimes", action="store_true", help="also time the lifetimes package, if installed")
    parser.add_argument("--db", help="keep the generated data in this file and reuse it next time")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    n_contacts, n_orders = SCALES[args.scale]
    results = run(args.contacts or n_contacts, args.orders or n_orders, args.lifetimes, args.db)
    if args.json:
        print(json.dumps(results))
        return
    for r in results:
        print(f"{r['workload']:<46} {r['size']:>50}  ours {r['ours_s']:7.3f}s  baseline {r['baseline_s']:7.3f}s  "
              f"ratio {r['ratio']:5.2f}x ({r['target']}; baseline: {r['baseline']})")


if __name__ == "__main__":
    main()
