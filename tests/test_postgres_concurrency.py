"""Several ``crm`` processes writing to one PostgreSQL CRM at once: no write
is lost (run with ``pytest --store=postgres``)."""

import subprocess
import sys

import pytest

from crmcore.testing import crm_argv, crm_env, write_contacts_csv

pytestmark = pytest.mark.postgres_only

WORKERS, ROWS, INCREMENTS = 4, 400, 25

# Read-modify-write of one shared counter in a transaction, as a command does.
INCREMENT = """
import sys
from crmcore import CRM
crm = CRM(sys.argv[1], plugins=[])
for _ in range(int(sys.argv[2])):
    with crm.store.transaction():
        row = crm.get("contacts", 1)
        crm.update("contacts", 1, {"custom": {"n": row["custom"].get("n", 0) + 1}})
crm.close()
"""


def test_parallel_imports_and_updates_lose_nothing(new_db, tmp_path):
    db = new_db("shared.db")
    env = crm_env()
    subprocess.run(crm_argv(db, "init"), env=env, check=True, capture_output=True)
    subprocess.run(crm_argv(db, "contacts", "add", "--email", "shared@example.com"), env=env, check=True, capture_output=True)
    procs = []
    for k in range(WORKERS):
        csv = write_contacts_csv(tmp_path / f"w{k}.csv", ROWS, start=k * ROWS)
        procs.append(subprocess.Popen(crm_argv(db, "contacts", "import", csv), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        procs.append(subprocess.Popen([sys.executable, "-c", INCREMENT, db, str(INCREMENTS)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err

    from crmcore import CRM

    crm = CRM(db, plugins=[])
    try:
        emails = {r["email"] for r in crm.store.query("SELECT email FROM contacts")}
        assert emails == {"shared@example.com"} | {f"p{i}@example.com" for i in range(WORKERS * ROWS)}
        assert crm.get("contacts", 1)["custom"]["n"] == WORKERS * INCREMENTS
        audited = crm.store.query_value("SELECT count(*) FROM _crm_audit WHERE action = 'update' AND record_id = 1")
        assert audited == WORKERS * INCREMENTS
    finally:
        crm.close()
