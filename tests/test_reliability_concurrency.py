"""Several `crm` processes writing to one SQLite database at once.

SQLite has one writer at a time. Every crm write takes the write lock
first (BEGIN IMMEDIATE) and waits for it up to CRM_BUSY_TIMEOUT_MS, so
concurrent commands queue up and every write lands; when the wait runs out
the command stops with a one-line "database is busy" error and writes
nothing. Readers never wait (WAL).
"""

import sqlite3
import subprocess
import sys
import time

import pytest

from crmcore.app import CRM
from crmcore.entities import Contact
from crmcore.testing import crm_argv, crm_env, database_digest, integrity_check, write_contacts_csv

BUSY = "Error: database is busy: another crm process is writing; try again\n"

# Holds the write lock of a database until told to let go, like a long
# command in another terminal would.
HOLDER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO _crm_settings (key, value) VALUES ('holder', '1')")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
"""


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "shared.db")
    with CRM(path, plugins=[]) as crm:
        crm.migrate()
        crm.add_many([Contact(email=f"old{i}@example.com") for i in range(10)])
    return path


@pytest.fixture
def lock_holder(db):
    """Start a process holding the write lock; call the returned function to release it."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, db], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "locked\n"

    def release():
        if proc.poll() is None:
            proc.stdin.write("\n")
            proc.stdin.flush()
            assert proc.wait(timeout=30) == 0

    yield release
    release()


def count(db, sql="SELECT count(*) FROM contacts", params=()):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchone()[0]
    finally:
        conn.close()


def test_concurrent_writers_wait_for_each_other_and_every_write_lands(db, tmp_path, lock_holder):
    files = [write_contacts_csv(tmp_path / f"part{n}.csv", 2500, start=n * 10000) for n in range(2)]
    env = crm_env("", CRM_BUSY_TIMEOUT_MS=60000)
    commands = [["contacts", "import", f] for f in files]
    commands += [["contacts", "add", "--email", f"solo{n}@example.com", "--company", f"Solo {n}"] for n in range(5)]
    commands += [["deals", "add", "--title", f"Deal {n}", "--contact", "old1@example.com"] for n in range(2)]
    procs = [subprocess.Popen(crm_argv(db, *args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for args in commands]
    # While another process holds the write lock, all of them wait; none fails.
    time.sleep(1.0)
    assert [p.poll() for p in procs] == [None] * len(procs)
    lock_holder()
    for args, proc in zip(commands, procs):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (args, out, err)
    assert count(db) == 10 + 2 * 2500 + 5
    assert count(db, "SELECT count(*) FROM contacts WHERE email LIKE 'solo%'") == 5
    assert count(db, "SELECT count(*) FROM companies WHERE name LIKE 'Solo %'") == 5
    assert count(db, "SELECT count(*) FROM deals") == 2
    assert count(db, "SELECT count(*) FROM _crm_settings WHERE key = 'holder'") == 1
    assert integrity_check(db) == "ok"


def test_two_imports_racing_without_a_holder_both_land(db, tmp_path):
    files = [write_contacts_csv(tmp_path / f"race{n}.csv", 4000, start=n * 10000) for n in range(2)]
    env = crm_env("", CRM_BUSY_TIMEOUT_MS=60000)
    procs = [subprocess.Popen(crm_argv(db, "contacts", "import", f), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for f in files]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "4000 created" in out
    assert count(db) == 10 + 8000
    assert integrity_check(db) == "ok"


def test_tiny_busy_timeout_gives_a_clear_error_and_loses_nothing(db, tmp_path, lock_holder):
    before = database_digest(db)
    env = crm_env("", CRM_BUSY_TIMEOUT_MS=200)
    csv_path = write_contacts_csv(tmp_path / "late.csv", 300, start=500)
    for args in (["contacts", "add", "--email", "late@example.com"], ["contacts", "import", csv_path]):
        started = time.monotonic()
        done = subprocess.run(crm_argv(db, *args), env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, (args, done.stdout)
        assert done.stderr == BUSY
        # It gave up after CRM_BUSY_TIMEOUT_MS, not the default 10 seconds.
        assert time.monotonic() - started < 8
    # Readers are not blocked by the writer.
    listed = subprocess.run(crm_argv(db, "contacts", "list", "--json"), env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and listed.stdout.count('"email"') == 10
    assert database_digest(db) == before  # the holder's write is not committed yet
    lock_holder()
    # Nothing lost: the holder's write landed, the refused commands wrote nothing.
    assert count(db, "SELECT count(*) FROM _crm_settings WHERE key = 'holder'") == 1
    assert count(db) == 10
    assert integrity_check(db) == "ok"
    # Once the lock is free the same command works.
    done = subprocess.run(crm_argv(db, "contacts", "add", "--email", "late@example.com"), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert count(db, "SELECT count(*) FROM contacts WHERE email = 'late@example.com'") == 1


def test_generous_timeout_waits_for_the_lock_and_succeeds(db, lock_holder):
    env = crm_env("", CRM_BUSY_TIMEOUT_MS=30000)
    proc = subprocess.Popen(crm_argv(db, "contacts", "add", "--email", "patient@example.com"), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    assert proc.poll() is None  # still waiting for the lock
    lock_holder()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert count(db, "SELECT count(*) FROM contacts WHERE email = 'patient@example.com'") == 1
    assert count(db, "SELECT count(*) FROM _crm_settings WHERE key = 'holder'") == 1
