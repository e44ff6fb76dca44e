"""The two stores side by side: the same CRM work on SQLite and on PostgreSQL, same run.

    python benchmarks/bench_postgres.py [--scale tiny|small|full] [--rows N] [--postgres-only] [--json]

Ours is the default store (SQLite), the baseline the PostgreSQL store, so a
ratio above 1.0 means SQLite is slower here. PostgreSQL comes from
CRM_BENCH_POSTGRES_URL or CRM_TEST_POSTGRES_URL, or a throw-away server started from the system's
initdb/pg_ctl (crmcore/pgserver.py); without either the rows say so.
Workloads:
  contact import     `import_contacts` of a CSV into an empty CRM (COPY on PostgreSQL)
  contact re-import  the same file again (every row an update)
  RFM scores         the segments plugin's RFM of every customer, on the shop data of
                     benchmarks/shopdata.py (full: 1,000,000 contacts and 5,000,000
                     orders), copied to PostgreSQL with `crm migrate-store`
On PostgreSQL alone, against raw psycopg 3 on the same server in the same run
(``--postgres-only`` measures just these, without the SQLite rows):
  contact import     vs a raw COPY of the same clean rows (those the import stores)
                     into the same table with its indexes. Target <= 1.5x.
  contact re-import  vs a raw COPY into a temporary table plus one
                     INSERT ... ON CONFLICT (email) DO UPDATE. Target <= 1.5x.
  RFM scores         vs the hand-written NTILE statement of bench_segments.py. Target <= 1.2x.
"""

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE), os.path.join(os.path.dirname(HERE), "plugins")]
os.environ["CRM_LOAD_PLUGINS"] = "segments"  # migrate-store opens both CRMs with the installed plugins

import datetime as dt  # noqa: E402

import crm_segments  # noqa: E402
from bench_import import SCALES as IMPORT_SCALES  # noqa: E402
from bench_import import clean_rows, fresh_crm, write_csv  # noqa: E402
from bench_segments import BASELINE_RFM  # noqa: E402
from common import ROUNDS, emit, parser, row, timed, unavailable  # noqa: E402
from crm_segments import rfm  # noqa: E402
from shopdata import AS_OF, SCALES, open_shop  # noqa: E402

from crmcore import pgserver  # noqa: E402
from crmcore.app import CRM  # noqa: E402
from crmcore.importing import import_contacts  # noqa: E402
from crmcore.migrate_store import migrate_store  # noqa: E402

TARGET = "report the ratio"
PEER = "the same on the PostgreSQL store"


def imports(location, path):
    """Seconds of a first import and of the re-import of the same file."""
    crm = CRM(location, plugins=[])
    crm.migrate()
    try:
        first, _ = timed(lambda: import_contacts(crm, path))
        again, _ = timed(lambda: import_contacts(crm, path))
    finally:
        crm.close()
    return first, again


def rfm_seconds(location):
    crm = CRM(location, plugins=[crm_segments])
    try:
        seconds, scored = timed(lambda: rfm.score(crm, dt.date.fromisoformat(AS_OF)))
    finally:
        crm.close()
    return seconds, scored


def run(n_import, n_contacts, n_orders, rounds, postgres_only=False):
    sizes = {"import": f"{n_import:,} contacts", "rfm": f"{n_contacts:,} contacts, {n_orders:,} orders"}
    with tempfile.TemporaryDirectory() as folder:
        csv_path = os.path.join(folder, "contacts.csv")
        write_csv(csv_path, n_import)
        ref = fresh_crm(folder, "ref.db")
        import_contacts(ref, csv_path)
        clean = clean_rows(ref)
        ref.close()
        shop = os.path.join(folder, "shop.db")
        open_shop(shop, n_contacts, n_orders, [crm_segments]).close()
        if postgres_only:  # one scoring on SQLite, only for the number of customers to check
            ours, scored = None, rfm_seconds(shop)[1]
        else:
            lite = [imports(os.path.join(folder, f"import{i}.db"), csv_path) for i in range(rounds)]
            lite_rfm, scored = min(rfm_seconds(shop) for _ in range(rounds))
            ours = {"import": min(t[0] for t in lite), "reimport": min(t[1] for t in lite), "rfm": lite_rfm}
        try:
            peer = postgres_times(csv_path, shop, rounds, scored, clean)
        except pgserver.ServerError as exc:
            reason = f"no PostgreSQL server ({exc})"
            if ours is None:
                raise SystemExit(reason) from None
            return [unavailable(f"{label}, SQLite vs PostgreSQL store", sizes[size], ours[key], reason, TARGET)
                    for key, label, size in WORKLOADS]
    rows = [] if ours is None else [row(f"{label}, SQLite vs PostgreSQL store", sizes[size], ours[key], peer[key], PEER, TARGET)
                                    for key, label, size in WORKLOADS]
    return rows + [
        row("contact import on PostgreSQL", sizes["import"], peer["import"], peer["copy"],
            "raw COPY of the same clean rows into the same table and indexes (psycopg 3)", "<= 1.5x"),
        row("contact re-import on PostgreSQL", sizes["import"], peer["reimport"], peer["copy_upsert"],
            "raw COPY into a temporary table + one INSERT ... ON CONFLICT DO UPDATE", "<= 1.5x"),
        row("RFM scores on PostgreSQL", sizes["rfm"], peer["rfm"], peer["rfm_hand"],
            "the hand-written NTILE statement on PostgreSQL", "<= 1.2x"),
    ]


def raw_copy(url, clean):
    """Seconds of a raw COPY of ``clean`` rows into a new CRM's contacts table,
    then of a COPY of the same rows into a temporary table plus one
    INSERT ... ON CONFLICT DO UPDATE (every row an update)."""
    cols, rows = clean
    crm = CRM(url, plugins=[])
    crm.migrate()
    conn = crm.store.conn
    names = ", ".join(f'"{c}"' for c in cols)
    sets = ", ".join(f'"{c}" = excluded."{c}"' for c in cols if c not in ("email", "created_at"))
    try:
        def copy(table):
            with conn.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)

        def load():
            with conn.transaction():
                copy("contacts")

        def upsert():
            with conn.transaction():
                conn.execute(f"CREATE TEMP TABLE _raw_up ON COMMIT DROP AS SELECT {names} FROM contacts WITH NO DATA")
                copy("_raw_up")
                conn.execute(f"INSERT INTO contacts ({names}) SELECT {names} FROM _raw_up ON CONFLICT (email) DO UPDATE SET {sets}")

        return timed(load)[0], timed(upsert)[0]
    finally:
        crm.close()


def rfm_hand(url):
    """Seconds of the hand-written RFM statement on PostgreSQL, in its own transaction."""
    crm = CRM(url, plugins=[])
    try:
        store = crm.store
        store.execute("DROP TABLE IF EXISTS baseline_rfm")
        with store.transaction():
            return timed(lambda: store.execute(BASELINE_RFM, (AS_OF,)))[0]
    finally:
        crm.close()


WORKLOADS = [("import", "contact import", "import"), ("reimport", "contact re-import", "import"), ("rfm", "RFM scores", "rfm")]


def postgres_times(csv_path, shop, rounds, scored, clean):
    server, url = None, os.environ.get("CRM_BENCH_POSTGRES_URL") or os.environ.get("CRM_TEST_POSTGRES_URL")
    if not url:
        server = pgserver.start()
        url = server.url
    made = []
    try:
        times, raw = [], []
        for _ in range(rounds):  # interleaved: a busy moment hits ours and the raw COPY alike
            made.append(pgserver.new_schema(url))
            raw.append(raw_copy(made[-1], clean))
            made.append(pgserver.new_schema(url))
            times.append(imports(made[-1], csv_path))
        made.append(pgserver.new_schema(url))
        copy_s, _ = timed(lambda: migrate_store(shop, made[-1]))
        print(f"migrate-store copied the shop data to PostgreSQL in {copy_s:.1f} s", file=sys.stderr)
        pg_rfm, hand = float("inf"), float("inf")
        for _ in range(rounds):
            hand = min(hand, rfm_hand(made[-1]))
            seconds, pg_scored = rfm_seconds(made[-1])
            assert pg_scored == scored, (scored, pg_scored)
            pg_rfm = min(pg_rfm, seconds)
        return {"import": min(t[0] for t in times), "reimport": min(t[1] for t in times), "rfm": pg_rfm,
                "copy": min(r[0] for r in raw), "copy_upsert": min(r[1] for r in raw), "rfm_hand": hand}
    finally:
        for schema_url in made:
            pgserver.drop_schema(schema_url)
        if server:
            server.stop()


def main():
    p = parser(__doc__)
    p.add_argument("--rows", type=int, help="override the number of contacts imported")
    p.add_argument("--postgres-only", action="store_true", help="only the PostgreSQL store against raw psycopg 3, no SQLite rows")
    args = p.parse_args()
    emit(run(args.rows or IMPORT_SCALES[args.scale], *SCALES[args.scale], rounds=ROUNDS[args.scale], postgres_only=args.postgres_only),
         args.json)


if __name__ == "__main__":
    main()
