"""A shop's contacts and orders, generated inside SQLite in seconds.

Shared by the benchmarks that need "1,000,000 contacts and 5,000,000 orders"
(RFM, rule refresh, dashboard). Values come from multiplicative integer
hashes of the row number, so the data is the same on every run and no
per-row Python or fake-data call is made. The bulk insert runs with the
journal off and the tables' indexes and full-text trigger dropped; they are
recreated (sorted in one pass, the full-text index rebuilt) before the data
is committed, so the database ends with exactly the schema the migrations
made.

    python benchmarks/shopdata.py PATH [--contacts N] [--orders N]
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(HERE), os.path.join(os.path.dirname(HERE), "plugins")]

#: (contacts, orders) per scale; every benchmark uses the same sizes.
SCALES = {"tiny": (2_000, 10_000), "small": (20_000, 100_000), "full": (1_000_000, 5_000_000)}
AS_OF = "2025-12-31"  # orders fall in 2023-2025

# Multiplicative hashes: deterministic, well spread, and cheap inside SQLite.
H1, H2, H3, H4 = 2654435761, 2246822519, 3266489917, 668265263

# 30% DE, 20% US, ... 3% SE.
CONTACTS_SQL = f"""
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
INSERT INTO contacts (id, first_name, last_name, email, company, job_title, street, city, region, postal_code, country,
                      gender, source, owner, tags, consent, consent_source, notes, custom, created_at, updated_at)
SELECT i, 'Kim', 'Nr' || (i % 997), 'c' || i || '@example.com', '', '', '', '', '', printf('%05d', (i * {H2}) % 100000),
       CASE WHEN h < 300 THEN 'DE' WHEN h < 500 THEN 'US' WHEN h < 620 THEN 'GB' WHEN h < 720 THEN 'FR' WHEN h < 800 THEN 'AT'
            WHEN h < 860 THEN 'NL' WHEN h < 920 THEN 'CH' WHEN h < 970 THEN 'ES' ELSE 'SE' END,
       '', 'web', 'rep' || (i % 7), CASE WHEN i % 11 = 0 THEN '["vip"]' ELSE '[]' END, i % 3 != 0, '', '', '{{}}',
       created, created
FROM (SELECT i, (i * {H1}) % 1000 AS h, date(2459580.5 + (i * {H4}) % 1460) || 'T09:00:00' AS created FROM n)
"""

# Orders arrive in date order, as a shop's do, without a sort: order i is
# dated 2023-01-01 + i * 1095 / orders days. Half go to contacts evenly, half
# skewed towards low ids (a few heavy buyers); totals 5.00-204.99.
ORDERS_SQL = f"""
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :orders - 1)
INSERT INTO orders (contact_id, ordered_at, channel, currency, total, created_at, updated_at, fx_rate)
SELECT CASE WHEN i % 2 = 0 THEN 1 + ((i / 2) * {H3}) % :contacts
            ELSE 1 + ((i * {H1}) % :contacts) * ((i * {H2}) % :contacts) / :contacts END,
       day, CASE WHEN i % 4 = 0 THEN 'store' ELSE 'web' END, 'EUR', 5 + ((i * {H4}) % 20000) / 100.0,
       day || 'T09:00:00', day || 'T09:00:00', 1
FROM (SELECT i, date(2459945.5 + i * 1095 / :orders) AS day FROM n)
"""


def bulk_load(crm, tables, fill):
    """Run ``fill(conn)``, filling the empty ``tables`` of a fresh database,
    fast: journal off, foreign keys unchecked (the data is valid by
    construction), the tables' indexes and insert triggers dropped and
    recreated afterwards, full-text indexes rebuilt, then ANALYZE. The schema
    ends as the migrations made it. Returns the seconds taken."""
    conn = crm.store.conn
    start = time.perf_counter()
    cache_size = conn.execute("PRAGMA cache_size").fetchone()[0]
    for pragma in ("foreign_keys = OFF", "journal_mode = OFF", "synchronous = OFF", "cache_size = -1000000"):
        conn.execute(f"PRAGMA {pragma}")
    marks = ", ".join("?" for _ in tables)
    deferred = conn.execute(f"SELECT name, type, sql FROM sqlite_master WHERE tbl_name IN ({marks}) AND sql IS NOT NULL "
                            "AND (type = 'index' OR (type = 'trigger' AND name LIKE '%\\_ai' ESCAPE '\\'))", tables).fetchall()
    conn.execute("BEGIN")
    for name, kind, _ in deferred:
        conn.execute(f'DROP {kind.upper()} "{name}"')
    fill(conn)
    for _, _, sql in deferred:
        conn.execute(sql)
    for table in tables:
        if crm.store.table_exists(f"{table}_fts"):
            conn.execute(f'INSERT INTO "{table}_fts" ("{table}_fts") VALUES (\'rebuild\')')
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    # As a crm process would open it: the 1 GB cache above made the timed
    # queries on this connection slower (bought-together 1.6 s instead of 1.0).
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON", f"cache_size = {cache_size}"):
        conn.execute(f"PRAGMA {pragma}")
    return time.perf_counter() - start


def build(crm, n_contacts, n_orders):
    """Fill the migrated, empty ``crm`` with contacts and orders; returns seconds taken."""
    def fill(conn):
        conn.execute(CONTACTS_SQL, (n_contacts,))
        conn.execute(ORDERS_SQL, {"orders": n_orders, "contacts": n_contacts})

    return bulk_load(crm, ["contacts", "orders"], fill)


def open_shop(path, n_contacts, n_orders, plugins):
    """A CRM at ``path`` with ``plugins``, holding the shop data: built when the
    file is new, reused (whatever its size) when it exists."""
    from crmcore.app import CRM

    fresh = not os.path.exists(path)
    crm = CRM(path, plugins=list(plugins))
    crm.migrate()
    if fresh:
        seconds = build(crm, n_contacts, n_orders)
        print(f"generated {n_contacts:,} contacts and {n_orders:,} orders in {seconds:.1f} s", file=sys.stderr)
    else:
        print(f"reusing {path}: {crm.store.count('contacts'):,} contacts and {crm.store.count('orders'):,} orders", file=sys.stderr)
    return crm


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path")
    parser.add_argument("--scale", choices=list(SCALES), default="small")
    parser.add_argument("--contacts", type=int)
    parser.add_argument("--orders", type=int)
    args = parser.parse_args()
    if os.path.exists(args.path):
        sys.exit(f"{args.path} exists already; give a new file")
    import crm_exports, crm_products, crm_segments, crm_surveys  # noqa: E401

    n_contacts, n_orders = SCALES[args.scale]
    open_shop(args.path, args.contacts or n_contacts, args.orders or n_orders, [crm_segments, crm_products, crm_surveys, crm_exports]).close()


if __name__ == "__main__":
    main()
