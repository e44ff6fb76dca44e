"""--commit-every: a large import interrupted keeps whole batches and resumes."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from crmcore import hookimpl
from crmcore.importing import import_contacts


def big_csv(write_file, n):
    return write_file("big.csv", "email,first_name\n" + "".join(f"user{i}@example.com,N{i}\n" for i in range(n)))


class FailsOnce:
    crm_plugin_name = "failsonce"

    def __init__(self, after):
        self.after, self.seen = after, 0

    @hookimpl
    def crm_records_saved(self, table, records):
        self.seen += len(records)
        if self.seen > self.after:
            raise RuntimeError("power cut")


def test_interrupted_import_keeps_whole_batches_and_resumes(make_crm, write_file):
    path = big_csv(write_file, 2500)
    crm = make_crm(plugins=[FailsOnce(after=2000)])
    with pytest.raises(Exception, match="power cut"):
        import_contacts(crm, path, commit_every=1000)
    assert crm.store.count("contacts") == 2000
    crm.close()

    again = make_crm(plugins=[])
    result = import_contacts(again, path, commit_every=1000)
    assert (result.created, result.resumed_at) == (500, 2002)  # row 1 is the header
    assert again.store.count("contacts") == 2500
    assert again.store.count("_crm_import_progress") == 0
    assert import_contacts(again, path, commit_every=1000).resumed_at is None


def test_duplicates_across_a_resume_are_still_caught(make_crm, write_file):
    path = write_file("d.csv", "email\n" + "".join(f"u{i}@example.com\n" for i in range(30)) + "u3@example.com\n")
    crm = make_crm(plugins=[FailsOnce(after=20)])
    with pytest.raises(Exception, match="power cut"):
        import_contacts(crm, path, commit_every=10)
    crm.close()
    again = make_crm(plugins=[])
    with pytest.raises(Exception, match="row 32: email: duplicate of row 5"):
        import_contacts(again, path, commit_every=10)


def test_sigkill_mid_import_leaves_whole_batches_then_resume_completes(tmp_path, write_file):
    n, step = 20000, 1000
    path = big_csv(write_file, n)
    db = str(tmp_path / "kill.db")
    env = {**os.environ, "CRM_LOAD_PLUGINS": ""}
    cmd = [sys.executable, "-c", "from crmcore.cli import main; main()", "--db", db]
    subprocess.run(cmd + ["init"], check=True, env=env, capture_output=True)
    rng = random.Random(1)
    for _ in range(int(os.environ.get("CRM_KILL_ITERATIONS", "3"))):
        proc = subprocess.Popen(cmd + ["contacts", "import", path, "--commit-every", str(step)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.3, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count = conn.execute("SELECT count(*) FROM contacts").fetchone()[0]
        done = conn.execute("SELECT coalesce(max(rows_done), 0) FROM _crm_import_progress").fetchone()[0] if count else 0
        conn.close()
        assert count % step == 0 or count == n
        assert count == n or done == count + 1, (count, done)
    finished = subprocess.run(cmd + ["contacts", "import", path, "--commit-every", str(step)], env=env, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM contacts").fetchone()[0] == n
    assert conn.execute("SELECT count(DISTINCT email) FROM contacts").fetchone()[0] == n
