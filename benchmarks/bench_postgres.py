"""The two stores side by side: the same CRM work on SQLite and on PostgreSQL, same run.

    python benchmarks/bench_postgres.py [--scale tiny|small|full] [--json]

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
from bench_import import write_csv  # noqa: E402
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


def run(n_import, n_contacts, n_orders, rounds):
    sizes = {"import": f"{n_import:,} contacts", "rfm": f"{n_contacts:,} contacts, {n_orders:,} orders"}
    with tempfile.TemporaryDirectory() as folder:
        csv_path = os.path.join(folder, "contacts.csv")
        write_csv(csv_path, n_import)
        lite = [imports(os.path.join(folder, f"import{i}.db"), csv_path) for i in range(rounds)]
        shop = os.path.join(folder, "shop.db")
        open_shop(shop, n_contacts, n_orders, [crm_segments]).close()
        lite_rfm, scored = min(rfm_seconds(shop) for _ in range(rounds))
        ours = {"import": min(t[0] for t in lite), "reimport": min(t[1] for t in lite), "rfm": lite_rfm}
        try:
            peer = postgres_times(csv_path, shop, rounds, scored)
        except pgserver.ServerError as exc:
            reason = f"no PostgreSQL server ({exc})"
            return [unavailable(f"{label}, SQLite vs PostgreSQL store", sizes[size], ours[key], reason, TARGET)
                    for key, label, size in WORKLOADS]
    return [row(f"{label}, SQLite vs PostgreSQL store", sizes[size], ours[key], peer[key], PEER, TARGET)
            for key, label, size in WORKLOADS]


WORKLOADS = [("import", "contact import", "import"), ("reimport", "contact re-import", "import"), ("rfm", "RFM scores", "rfm")]


def postgres_times(csv_path, shop, rounds, scored):
    server, url = None, os.environ.get("CRM_BENCH_POSTGRES_URL") or os.environ.get("CRM_TEST_POSTGRES_URL")
    if not url:
        server = pgserver.start()
        url = server.url
    made = []
    try:
        times = []
        for _ in range(rounds):
            made.append(pgserver.new_schema(url))
            times.append(imports(made[-1], csv_path))
        made.append(pgserver.new_schema(url))
        copy_s, _ = timed(lambda: migrate_store(shop, made[-1]))
        print(f"migrate-store copied the shop data to PostgreSQL in {copy_s:.1f} s", file=sys.stderr)
        pg_rfm, pg_scored = min(rfm_seconds(made[-1]) for _ in range(rounds))
        assert pg_scored == scored, (scored, pg_scored)
        return {"import": min(t[0] for t in times), "reimport": min(t[1] for t in times), "rfm": pg_rfm}
    finally:
        for schema_url in made:
            pgserver.drop_schema(schema_url)
        if server:
            server.stop()


def main():
    args = parser(__doc__).parse_args()
    emit(run(IMPORT_SCALES[args.scale], *SCALES[args.scale], rounds=ROUNDS[args.scale]), args.json)


if __name__ == "__main__":
    main()
