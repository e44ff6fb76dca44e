"""Faults: `crm` killed with SIGKILL at random points, a read-only database
file, a full disk. Real subprocesses against real files.

The kill loop runs CRM_KILL_ITERATIONS kills per scenario (default 6, so CI
stays within seconds; run e.g. CRM_KILL_ITERATIONS=200 locally). Delays come
from CRM_KILL_SEED (random when unset; every failure message prints it).

How a kill is aimed: the child is the real `crm` command started through a
tiny wrapper that reports, on a pipe, each BEGIN and COMMIT it sends to
SQLite (and each online copy for backup/restore). The parent waits for that
event, sleeps a random time, then SIGKILLs. The first kill of each scenario
comes right after the event, so it always interrupts; the others land
anywhere up to just after the commit. If no COMMIT was reported the
database must be exactly as before (content checksum of every table, schema
included); otherwise it may also be exactly the complete result (timestamps
aside). Nothing in between, PRAGMA integrity_check is ok, and running the
command again completes it.
"""

import contextlib
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time

import pytest

from crmcore.app import CRM
from crmcore.entities import Activity, Contact, Deal, Order, OrderLine
from crmcore.testing import crm_argv, crm_env, database_digest, integrity_check, write_contacts_csv

ITERATIONS = int(os.environ.get("CRM_KILL_ITERATIONS", "6"))
SEED = int(os.environ.get("CRM_KILL_SEED") or random.SystemRandom().randrange(1 << 30))

# Runs `crm` exactly as the console script does, reporting on the pipe
# CRM_TRACE_FD each transaction start and commit, and each start of an
# online copy (Connection.backup). It changes no behaviour.
TRACED_CRM = r"""
import os, sqlite3, sys
fd = int(os.environ.pop("CRM_TRACE_FD"))
connect = sqlite3.connect
class Traced(sqlite3.Connection):
    def execute(self, sql, *args):
        word = sql.lstrip()[:6].upper()
        if word.startswith(("BEGIN", "COMMIT")):
            os.write(fd, word.split()[0].encode() + b"\n")
        return super().execute(sql, *args)
    def backup(self, *args, **kwargs):
        os.write(fd, b"BACKUP\n")
        return super().backup(*args, **kwargs)
def traced_connect(*args, **kwargs):
    return connect(*args, factory=Traced, **kwargs)
sqlite3.connect = traced_connect
from crmcore.cli import main
sys.argv[0] = "crm"
main()
"""


def run_traced(db, args, env, kill_after=None, trigger="BEGIN", nth=1):
    """Run `crm`; with ``kill_after`` SIGKILL it that many seconds after the
    ``nth`` ``trigger`` event. Returns (returncode, events, seconds from the
    trigger to COMMIT or, without one, to the end, stderr)."""
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-c", TRACED_CRM, "--db", str(db), *args],
        env={**env, "CRM_TRACE_FD": str(write_end)}, pass_fds=(write_end,),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    os.close(write_end)
    events, began, span = [], None, None
    with os.fdopen(read_end, "rb") as trace:
        for line in trace:  # ends when the child exits
            events.append(line.strip().decode())
            if began is None and events.count(trigger) == nth:
                began = time.perf_counter()
                if kill_after is not None:
                    time.sleep(kill_after)
                    proc.send_signal(signal.SIGKILL)
            elif events[-1] == "COMMIT" and began is not None and span is None:
                span = time.perf_counter() - began
    if began is not None and span is None:
        span = time.perf_counter() - began
    _, err = proc.communicate(timeout=120)
    return proc.returncode, events, span, err.decode(errors="replace")


# -- the databases each scenario starts from -------------------------------------


def base_db(path, contacts=1000):
    with CRM(str(path), plugins=[]) as crm:
        crm.migrate()
        crm.add_many([Contact(email=f"p{i}@example.com", first_name=f"Old{i}", country="FR") for i in range(contacts)])
    return str(path)


@pytest.fixture(scope="module")
def import_scenario(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kill-import")
    # 20,000 rows: the first 1,000 update existing contacts, the rest are new.
    return base_db(folder / "pristine.db"), ["contacts", "import", write_contacts_csv(folder / "big.csv", 20000)], crm_env("")


@pytest.fixture(scope="module")
def merge_scenario(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kill-merge")
    path = base_db(folder / "pristine.db", contacts=300)
    with CRM(path, plugins=[]) as crm:
        crm.update("contacts", 1, {"tags": ["keep"]})
        crm.update("contacts", 2, {"tags": ["dup"], "city": "Lyon", "notes": "has the history"})
        crm.add_many([Activity(contact_id=2, kind="note", subject=f"note {i}") for i in range(8000)])
        orders = crm.add_many([Order(ref=f"R{i}", contact_id=2, ordered_at="2024-01-02", total=10.0) for i in range(1500)])
        crm.add_many([OrderLine(order_id=o, sku="SKU-1", quantity=1, unit_price=10.0) for o in orders])
        crm.add_many([Deal(title=f"deal {i}", contact_id=2, stage="lead") for i in range(200)])
    return path, ["contacts", "merge", "1", "2"], crm_env("")


@pytest.fixture(scope="module")
def segment_refresh_scenario(tmp_path_factory):
    # 20,000 contacts, 2,000 in segment "fr"; the refresh lets 1,000 leave and
    # 9,000 enter, writing membership rows and history in one transaction.
    folder = tmp_path_factory.mktemp("kill-segments")
    path, env = str(folder / "pristine.db"), crm_env("segments")

    def crm(*args):
        subprocess.run(crm_argv(path, *args), env=env, check=True, capture_output=True)

    def set_countries(case):
        with CRM(path, plugins=[]) as crm_db, crm_db.store.transaction():
            crm_db.store.execute(f"UPDATE contacts SET country = {case}")

    crm("init")
    crm("contacts", "import", write_contacts_csv(folder / "big.csv", 20000))
    set_countries("CASE WHEN id <= 2000 THEN 'FR' ELSE 'DE' END")
    crm("segments", "create", "fr", "--rule", 'country == "FR"')
    set_countries("CASE WHEN id % 2 THEN 'FR' ELSE 'DE' END")
    return path, ["segments", "refresh", "fr"], env


@pytest.fixture
def init_core_scenario(tmp_path):
    return str(tmp_path / "fresh.db"), ["init"], crm_env("")


@pytest.fixture
def init_all_plugins_scenario(tmp_path):
    # Every installed plugin, as a user's first `crm init` would load them.
    return str(tmp_path / "fresh.db"), ["init"], crm_env(None)


@pytest.mark.parametrize("scenario", ["import_scenario", "merge_scenario", "segment_refresh_scenario", "init_core_scenario", "init_all_plugins_scenario"])
def test_sigkill_at_random_points_leaves_the_database_as_before(scenario, request, tmp_path):
    pristine, args, env = request.getfixturevalue(scenario)
    rng = random.Random(f"{SEED}-{scenario}")
    where = f"(scenario {scenario}, CRM_KILL_SEED={SEED})"
    before = database_digest(pristine)

    def fresh_copy(name):
        path = tmp_path / name
        if os.path.exists(pristine):
            shutil.copyfile(pristine, path)
        return str(path)

    def kill_and_check(db, delay):
        code, trace, _, err = run_traced(db, args, env, kill_after=delay)
        assert integrity_check(db) == "ok", f"kill after {delay:.4f}s: integrity check failed {where}"
        if database_digest(db) == before:
            return code, trace, "before"
        assert "COMMIT" in trace, f"kill after {delay:.4f}s, before COMMIT, changed the database {where}"
        assert after is not None and database_digest(db, ignore_times=True) == after, f"kill after {delay:.4f}s left a partial result {where}"
        return code, trace, "after"

    # First a kill right after the transaction starts: it must interrupt it.
    after = None
    db = fresh_copy("killed-0.db")
    code, trace, outcome = kill_and_check(db, 0)
    assert (code, trace, outcome) == (-signal.SIGKILL, ["BEGIN"], "before"), f"{code} {trace} {outcome} {where}"

    # Running the command again on that database completes it, in one transaction;
    # this run also says how long the transaction takes and what "after" is.
    code, trace, span, err = run_traced(db, args, env)
    assert code == 0, err
    assert trace == ["BEGIN", "COMMIT"], f"expected exactly one write transaction, got {trace} {where}"
    after = database_digest(db, ignore_times=True)
    assert after != database_digest(pristine, ignore_times=True)

    # Then kills at random points up to just after the commit.
    outcomes = {"before": 1, "after": 0}
    for i in range(1, ITERATIONS):
        delay = rng.uniform(0, span * 1.2)
        outcomes[kill_and_check(fresh_copy(f"killed-{i}.db"), delay)[2]] += 1
    print(f"{scenario}: {outcomes['before']} kills interrupted the transaction, {outcomes['after']} came after its commit {where}")


@pytest.fixture(scope="module")
def big_db(tmp_path_factory):
    """20,000 contacts (about 6 MB): copying it takes long enough to be hit."""
    path = tmp_path_factory.mktemp("kill-copy") / "big.db"
    with CRM(str(path), plugins=[]) as crm:
        crm.migrate()
        with crm.store.transaction():
            crm.store.executemany("INSERT INTO contacts (email, first_name, notes) VALUES (?, ?, ?)",
                                  [(f"p{i}@example.com", f"First{i}", "note " * 20) for i in range(20000)])
    return str(path)


def test_sigkill_during_backup_leaves_no_partial_backup(big_db, tmp_path):
    rng = random.Random(f"{SEED}-backup")
    source = database_digest(big_db)
    env = crm_env("")

    def kill_and_check(i, delay):
        target = tmp_path / f"backup-{i}.db"
        run_traced(big_db, ["backup", str(target)], env, kill_after=delay, trigger="BACKUP")
        if target.exists():  # only ever under its name when complete
            assert integrity_check(str(target)) == "ok" and database_digest(str(target)) == source, f"CRM_KILL_SEED={SEED}"
        return target.exists()

    assert kill_and_check(0, 0) is False
    code, events, span, err = run_traced(big_db, ["backup", str(tmp_path / "full.db")], env, trigger="BACKUP")
    assert code == 0 and events == ["BACKUP"], err
    written = [kill_and_check(i, rng.uniform(0, span * 1.2)) for i in range(1, ITERATIONS)]
    assert database_digest(big_db) == source
    print(f"backup: {written.count(False) + 1} kills left no backup, {written.count(True)} a complete one (CRM_KILL_SEED={SEED})")


def test_sigkill_during_restore_leaves_the_old_or_the_new_database(big_db, tmp_path):
    rng = random.Random(f"{SEED}-restore")
    pristine = base_db(tmp_path / "current.db", contacts=10)
    before, after = database_digest(pristine), database_digest(big_db)
    env = crm_env("")

    def kill_and_check(i, delay):
        db = str(tmp_path / f"restore-{i}.db")
        shutil.copyfile(pristine, db)
        # The second copy is the restore itself (the first keeps DB.before-restore).
        run_traced(db, ["restore", "--yes", big_db], env, kill_after=delay, trigger="BACKUP", nth=2)
        assert integrity_check(db) == "ok", f"CRM_KILL_SEED={SEED}"
        state = database_digest(db)
        assert state in (before, after), f"kill after {delay:.4f}s left a mix of old and new (CRM_KILL_SEED={SEED})"
        return state == before

    assert kill_and_check(0, 0) is True
    full = str(tmp_path / "full.db")
    shutil.copyfile(pristine, full)
    code, events, span, err = run_traced(full, ["restore", "--yes", big_db], env, trigger="BACKUP", nth=2)
    assert code == 0 and events == ["BACKUP", "BACKUP"], err
    assert database_digest(full) == after
    old = [kill_and_check(i, rng.uniform(0, span * 1.2)) for i in range(1, ITERATIONS)]
    print(f"restore: {old.count(True) + 1} kills left the old database, {old.count(False)} the new one (CRM_KILL_SEED={SEED})")


# -- read-only database file --------------------------------------------------------


@contextlib.contextmanager
def read_only(*paths):
    """Make files and folders unwritable. As root, permissions do not stop
    writes, so they are also made immutable (chattr +i)."""
    modes = {p: os.stat(p).st_mode & 0o777 for p in paths}
    for p in paths:
        os.chmod(p, 0o555 if os.path.isdir(p) else 0o444)
    immutable = []
    try:
        if os.geteuid() == 0:
            for p in paths:
                done = subprocess.run(["chattr", "+i", p], capture_output=True, text=True) if shutil.which("chattr") else None
                if done is None or done.returncode != 0:
                    pytest.skip("SKIPPED LOUDLY: running as root and this filesystem cannot make a file immutable "
                                f"(chattr +i: {done.stderr.strip() if done else 'chattr not installed'}); run as a normal user")
                immutable.append(p)
        yield
    finally:
        for p in immutable:
            subprocess.run(["chattr", "-i", p], check=True)
        for p, mode in modes.items():
            os.chmod(p, mode)


@pytest.fixture
def read_only_db(tmp_path):
    path = base_db(tmp_path / "ro.db", contacts=50)
    with read_only(path):
        yield path


def test_read_only_folder_says_why_the_database_cannot_be_opened(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    db = base_db(folder / "crm.db", contacts=5)  # closed cleanly: no -wal or -shm file
    before = database_digest(db)
    with read_only(db, str(folder)):
        done = subprocess.run(crm_argv(db, "contacts", "list"), env=crm_env(""), capture_output=True, text=True)
        assert done.returncode == 1
        assert done.stderr == (f"Error: cannot open database {db}: unable to open database file (its folder is not "
                               "writable, and SQLite keeps the -wal and -shm files next to the database)\n")
        doctor = subprocess.run(crm_argv(db, "doctor"), env=crm_env(""), capture_output=True, text=True)
        assert doctor.returncode == 1
        assert "-> check that you may read and write the file and its folder" in doctor.stdout
    assert database_digest(db) == before


def test_read_only_database_gives_one_line_error_and_stays_intact(read_only_db, tmp_path):
    before = database_digest(read_only_db)
    env = crm_env("")
    csv_path = write_contacts_csv(tmp_path / "more.csv", 100, start=1000)
    for args in (["contacts", "add", "--email", "new@example.com"], ["contacts", "import", csv_path], ["init"]):
        done = subprocess.run(crm_argv(read_only_db, *args), env=env, capture_output=True, text=True, timeout=60)
        if args == ["init"]:
            # Nothing to migrate: init only reads, so it works on a read-only file.
            assert done.returncode == 0, done.stderr
            continue
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert done.stderr == "Error: database is read-only: check the file's permissions\n", args
    listed = subprocess.run(crm_argv(read_only_db, "contacts", "list", "--json", "--limit", "0"), env=env, capture_output=True, text=True)
    assert listed.returncode == 0 and listed.stdout.count('"email"') == 50
    doctor = subprocess.run(crm_argv(read_only_db, "doctor"), env=env, capture_output=True, text=True)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert database_digest(read_only_db) == before
    assert integrity_check(read_only_db, fts=False) == "ok"


# -- a full disk --------------------------------------------------------------------


def limit_file_size(limit):
    """preexec_fn: writes beyond ``limit`` bytes fail with EFBIG (Python
    ignores SIGXFSZ), which is how a full disk looks to SQLite."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_file_size_limit_import_fails_cleanly(tmp_path):
    db = base_db(tmp_path / "crm.db", contacts=100)
    before = database_digest(db)
    csv_path = write_contacts_csv(tmp_path / "big.csv", 5000, start=1000)
    done = subprocess.run(crm_argv(db, "contacts", "import", csv_path), env=crm_env(""), capture_output=True, text=True,
                          preexec_fn=limit_file_size(os.path.getsize(db) + 256 * 1024), timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: disk I/O error: the disk may be full") and done.stderr.count("\n") == 1, done.stderr
    assert database_digest(db) == before
    assert integrity_check(db) == "ok"
    # Without the limit the same import works on the same file.
    again = subprocess.run(crm_argv(db, "contacts", "import", csv_path), env=crm_env(""), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "5000 created" in again.stdout


def test_file_size_limit_on_init_and_backup(tmp_path):
    fresh = tmp_path / "fresh.db"
    done = subprocess.run(crm_argv(fresh, "init"), env=crm_env(""), capture_output=True, text=True,
                          preexec_fn=limit_file_size(16 * 1024))
    assert done.returncode == 1 and done.stderr.startswith("Error: disk I/O error"), done.stderr
    assert database_digest(fresh) == database_digest(tmp_path / "missing.db")  # no half-made schema
    db = base_db(tmp_path / "crm.db", contacts=3000)
    target = tmp_path / "backup.db"
    done = subprocess.run(crm_argv(db, "backup", target), env=crm_env(""), capture_output=True, text=True,
                          preexec_fn=limit_file_size(os.path.getsize(db) // 2))
    assert done.returncode == 1 and done.stderr.startswith("Error: disk I/O error"), done.stderr
    assert not any(name.endswith(".partial") for name in os.listdir(tmp_path)), os.listdir(tmp_path)
    assert not target.exists()


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A 1 MB ext4 filesystem mounted from an image (needs root and loop devices)."""
    image, mount_point = tmp_path / "tiny.img", tmp_path / "mnt"
    mount_point.mkdir()
    if os.geteuid() != 0 or not shutil.which("mkfs.ext4"):
        pytest.skip("SKIPPED LOUDLY: a real full disk needs root and mkfs.ext4; the RLIMIT_FSIZE tests cover the same path")
    with open(image, "wb") as f:
        f.truncate(1024 * 1024)
    made = subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], capture_output=True, text=True)
    mounted = made.returncode == 0 and subprocess.run(["mount", "-o", "loop", str(image), str(mount_point)], capture_output=True).returncode == 0
    if not mounted:
        pytest.skip(f"SKIPPED LOUDLY: cannot loop-mount a filesystem image here ({made.stderr.strip() or 'mount refused'}); "
                    "the RLIMIT_FSIZE tests cover the same path")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_full_disk_import_fails_cleanly(tiny_filesystem, tmp_path):
    db = str(tiny_filesystem / "crm.db")
    shutil.copyfile(base_db(tmp_path / "crm.db", contacts=20), db)
    before = database_digest(db)
    csv_path = write_contacts_csv(tmp_path / "big.csv", 20000, start=1000)
    done = subprocess.run(crm_argv(db, "contacts", "import", csv_path), env=crm_env(""), capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr == "Error: disk is full: free some space; nothing was written\n"
    assert database_digest(db) == before
    assert integrity_check(db) == "ok"
    # Small writes that fit still work.
    done = subprocess.run(crm_argv(db, "contacts", "add", "--email", "fits@example.com"), env=crm_env(""), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
