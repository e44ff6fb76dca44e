"""`crm backup`, `crm restore` and `crm doctor`."""

import json
import os
import sqlite3
import subprocess
import sys
import time

import attrs
import pytest

from crmcore import column, hookimpl, record
from crmcore.app import CRM
from crmcore.entities import Activity, Contact, Deal, Order, OrderLine
from crmcore.maintenance import backup, doctor
from crmcore.testing import crm_argv, crm_env, database_digest, integrity_check, write_contacts_csv


def filled(crm, n=20):
    ids = crm.add_many([Contact(email=f"c{i}@example.com", first_name=f"C{i}") for i in range(n)])
    crm.add(Deal(title="Big one", contact_id=ids[0], stage="lead", amount=1000))
    order = crm.add(Order(ref="A-1", contact_id=ids[1], ordered_at="2024-03-01", total=30.0))
    crm.add_many([OrderLine(order_id=order, sku="S-1", quantity=3, unit_price=10.0)])
    crm.add(Activity(contact_id=ids[2], kind="call", subject="hello"))
    return crm


def leftovers(folder):
    return [n for n in os.listdir(folder) if n.endswith(".partial")]


# -- backup ---------------------------------------------------------------------


def test_backup_is_a_complete_private_self_contained_copy(make_crm, tmp_path):
    crm = filled(make_crm())
    target = tmp_path / "copy.db"
    counts = backup(crm, str(target))
    assert counts["contacts"] == 20 and counts["orders"] == 1 and counts["order_lines"] == 1
    assert database_digest(str(target)) == database_digest(crm.location)
    assert os.stat(target).st_mode & 0o777 == 0o600
    conn = sqlite3.connect(target)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # no -wal file needed
    conn.close()
    assert integrity_check(str(target)) == "ok"
    assert leftovers(tmp_path) == []


def test_backup_takes_committed_data_without_waiting_for_a_writer(make_crm, tmp_path):
    crm = filled(make_crm())
    writer = sqlite3.connect(crm.location, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO contacts (email, first_name) VALUES ('pending@example.com', 'P')")
    started = time.monotonic()
    first = backup(crm, str(tmp_path / "during.db"))
    assert time.monotonic() - started < 5  # did not wait for the writer's lock
    writer.execute("COMMIT")
    writer.close()
    second = backup(crm, str(tmp_path / "after.db"))
    assert (first["contacts"], second["contacts"]) == (20, 21)


def test_backup_refuses_to_overwrite_or_to_copy_onto_itself(run_cli, tmp_path):
    assert run_cli(["init"]).exit_code == 0
    target = tmp_path / "b.db"
    assert run_cli(["backup", str(target)]).exit_code == 0
    again = run_cli(["backup", str(target)])
    assert again.exit_code == 1 and "already exists; use --force" in again.output
    assert run_cli(["backup", "--force", str(target)]).exit_code == 0
    itself = run_cli(["backup", "--force", run_cli.db])
    assert itself.exit_code == 1 and "is the database itself" in itself.output
    missing = run_cli(["backup", str(tmp_path / "nowhere" / "b.db")])
    assert missing.exit_code == 1 and "does not exist" in missing.output
    assert leftovers(tmp_path) == []


def test_backup_while_another_process_imports_is_always_consistent(tmp_path):
    """Each import is one transaction of 1,000 contacts, so a consistent copy
    holds a multiple of 1,000 contacts, never a part of an import."""
    db = str(tmp_path / "busy.db")
    with CRM(db, plugins=[]) as crm:
        crm.migrate()
    files = [write_contacts_csv(tmp_path / f"batch{n}.csv", 1000, start=n * 1000) for n in range(6)]
    env = crm_env("", CRM_BUSY_TIMEOUT_MS=60000)
    script = "import subprocess, sys\nfor f in sys.argv[2:]:\n    subprocess.run(" + repr(crm_argv(db, "contacts", "import")) + " + [f], check=True, capture_output=True)"
    writer = subprocess.Popen([sys.executable, "-c", script, db, *files], env=env)
    while writer.poll() is None and not emails(db):
        time.sleep(0.05)
    seen, n = [], 0
    while writer.poll() is None:
        target = str(tmp_path / f"snap{n}.db")
        done = subprocess.run(crm_argv(db, "backup", target), env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert integrity_check(target) == "ok"
        seen.append(len(emails(target)))
        n += 1
    assert writer.wait() == 0
    assert seen and all(count % 1000 == 0 for count in seen), seen
    assert any(0 < count < 6000 for count in seen), f"no backup overlapped the writes: {seen}"
    print(f"contacts in the backups taken during the imports: {seen}")


# -- restore --------------------------------------------------------------------


@pytest.fixture
def saved(run_cli, tmp_path):
    """A CLI database with 3 contacts and its backup; then one more contact."""
    assert run_cli(["init"]).exit_code == 0
    for n in range(3):
        assert run_cli(["contacts", "add", "--email", f"kept{n}@example.com"]).exit_code == 0
    path = str(tmp_path / "saved.db")
    assert run_cli(["backup", path]).exit_code == 0
    assert run_cli(["contacts", "add", "--email", "later@example.com"]).exit_code == 0
    return path


def emails(db):
    conn = sqlite3.connect(db)
    try:
        return sorted(r[0] for r in conn.execute("SELECT email FROM contacts"))
    finally:
        conn.close()


def test_restore_needs_yes_over_data_and_keeps_the_previous_database(run_cli, saved):
    before = database_digest(run_cli.db)
    refused = run_cli(["restore", saved])
    assert refused.exit_code == 1
    assert "holds 8 records" in refused.output  # 4 contacts and the 4 history entries of their creation and "--yes" in refused.output
    assert database_digest(run_cli.db) == before
    done = run_cli(["restore", "--yes", saved])
    assert done.exit_code == 0, done.output
    assert f"kept as {run_cli.db}.before-restore" in done.output
    assert emails(run_cli.db) == ["kept0@example.com", "kept1@example.com", "kept2@example.com"]
    assert database_digest(run_cli.db) == database_digest(saved)
    assert database_digest(run_cli.db + ".before-restore") == before
    # The restored database works, and a second restore never overwrites the first safety copy.
    assert run_cli(["contacts", "add", "--email", "new@example.com"]).exit_code == 0
    assert run_cli(["restore", "--yes", saved]).exit_code == 0
    assert database_digest(run_cli.db + ".before-restore") == before
    assert "new@example.com" in emails(run_cli.db + ".before-restore.1")


def test_restore_into_a_new_database_needs_no_yes(run_cli, saved, tmp_path):
    fresh = str(tmp_path / "fresh.db")
    done = run_cli(["restore", saved], db=fresh)
    assert done.exit_code == 0, done.output
    assert emails(fresh) == ["kept0@example.com", "kept1@example.com", "kept2@example.com"]
    assert sqlite3.connect(fresh).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def corrupt_index(path):
    """Zero the root page of the e-mail index: the file opens, but is damaged."""
    conn = sqlite3.connect(path)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'ux_contacts_email'").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(path, "r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\0" * size)


def test_restore_refuses_files_that_are_not_intact_crm_databases(run_cli, saved, tmp_path):
    before = database_digest(run_cli.db)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 300)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE notes (text TEXT)").connection.close()
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(open(saved, "rb").read())
    corrupt_index(str(damaged))
    cases = [
        (garbage, f"{garbage} is not a SQLite database; nothing was restored"),
        (other, "is a SQLite database but not a CRM database"),
        (damaged, f"{damaged} is damaged ("),
        (tmp_path / "missing.db", "file not found"),
    ]
    for path, message in cases:
        result = run_cli(["restore", "--yes", str(path)])
        assert result.exit_code == 1, path
        assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert database_digest(run_cli.db) == before
    assert not os.path.exists(run_cli.db + ".before-restore")


# -- doctor ---------------------------------------------------------------------


def doctor_json(run_cli, **kwargs):
    result = run_cli(["doctor", "--json"], **kwargs)
    return result.exit_code, json.loads(result.stdout)


def test_doctor_on_a_healthy_database(run_cli):
    assert run_cli(["init"]).exit_code == 0
    assert run_cli(["contacts", "add", "--email", "a@example.com"]).exit_code == 0
    text = run_cli(["doctor"])
    assert text.exit_code == 0 and text.output.endswith("No problems found.\n")
    code, found = doctor_json(run_cli)
    assert code == 0
    assert {f["check"] for f in found} == {"integrity", "migrations", "plugins", "orphans", "permissions"}
    assert all(f["status"] == "ok" for f in found), found


def test_doctor_finds_orphaned_records(run_cli):
    assert run_cli(["init"]).exit_code == 0
    assert run_cli(["contacts", "add", "--email", "a@example.com"]).exit_code == 0
    # Another tool wrote with foreign keys off (sqlite3's default).
    conn = sqlite3.connect(run_cli.db)
    conn.execute("INSERT INTO orders (id, ref, contact_id, ordered_at, total) VALUES (7, 'X-7', 99, '2024-01-01', 5), (8, 'X-8', 1, '2024-01-01', 5)")
    conn.execute("INSERT INTO order_lines (order_id, sku, quantity, unit_price) VALUES (70, 'S', 1, 1), (8, 'S', 1, 1), (71, 'S', 1, 1)")
    conn.execute("INSERT INTO activities (contact_id, kind, subject) VALUES (42, 'note', 'lost')")
    conn.execute("INSERT INTO deals (title, contact_id, stage, status) VALUES ('Ghost', 43, 'lead', 'open')")
    conn.commit()
    conn.close()
    code, found = doctor_json(run_cli)
    assert code == 1
    orphans = sorted(f["message"] for f in found if f["check"] == "orphans")
    assert orphans == [
        "1 activities record(s) refer to missing contacts in contact_id (ids 1)",
        "1 deals record(s) refer to missing contacts in contact_id (ids 1)",
        "1 orders record(s) refer to missing contacts in contact_id (ids 7)",
        "2 order_lines record(s) refer to missing orders in order_id (ids 1, 3)",
    ]
    assert all("crm restore" in f["fix"] and "UPDATE" in f["fix"] for f in found if f["check"] == "orphans")
    text = run_cli(["doctor"])
    assert text.exit_code == 1 and "4 problem(s) found." in text.output


def test_doctor_reports_plugin_state(run_cli):
    assert run_cli(["init"]).exit_code == 0
    conn = sqlite3.connect(run_cli.db)
    conn.execute("INSERT INTO _crm_plugins (name, enabled) VALUES ('gone', 1)")
    conn.commit()
    conn.close()
    code, found = doctor_json(run_cli)
    assert code == 0  # a removed plugin is worth a warning, not a failure
    assert [f["message"] for f in found if f["status"] == "warning"] == [
        "plugin 'gone' has data in this database but is not installed (its tables are kept)"]
    code, found = doctor_json(run_cli, plugins="ghost")
    assert code == 1
    problem = next(f for f in found if f["status"] == "problem")
    assert problem["message"] == "plugin 'ghost' failed to load: named in CRM_LOAD_PLUGINS but not installed"
    assert "CRM_LOAD_PLUGINS" in problem["fix"] and "crm plugins disable ghost" in problem["fix"]


@record("stamps")
@attrs.define(kw_only=True)
class Stamp:
    id: int | None = column()
    contact_id: int | None = column(references="contacts")


class StampPlugin:
    crm_plugin_name = "stamps"

    @hookimpl
    def crm_register_record_types(self, register):
        register(Stamp)

    @hookimpl
    def crm_register_migrations(self, register):
        def m001_stamps(store):
            from crmcore.schema import ensure_table

            ensure_table(store.db, Stamp)

        register(m001_stamps)


def test_doctor_reports_pending_migrations_and_plugin_orphans(make_crm):
    path = make_crm().location
    crm = CRM(path, plugins=[StampPlugin()])
    try:
        found = doctor(crm)
        assert [(f["check"], f["status"], f["message"], f["fix"]) for f in found if f["status"] != "ok"] == [
            ("migrations", "problem", "1 pending migration(s): stamps.m001_stamps", "crm migrate")]
        crm.migrate()
        crm.store.execute("PRAGMA foreign_keys = OFF")
        crm.store.execute("INSERT INTO stamps (contact_id) VALUES (5)")
        found = doctor(crm)
        assert [f["message"] for f in found if f["status"] != "ok"] == [
            "1 stamps record(s) refer to missing contacts in contact_id (ids 1)"]
    finally:
        crm.close()


def test_doctor_on_damaged_files_says_to_restore(run_cli, tmp_path):
    assert run_cli(["init"]).exit_code == 0
    conn = sqlite3.connect(run_cli.db)
    conn.executemany("INSERT INTO contacts (email, first_name) VALUES (?, 'x')", [(f"bulk{n}@example.com",) for n in range(3000)])
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    corrupt_index(run_cli.db)
    code, found = doctor_json(run_cli)
    assert code == 1
    assert [f["check"] for f in found] == ["integrity"]
    assert found[0]["message"].startswith("the database file is damaged: ") and "crm restore FILE" in found[0]["fix"]
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"\x01not sqlite" * 1000)
    result = run_cli(["doctor"], db=str(garbage))
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "PROBLEM  integrity    database file is damaged or not a CRM database (file is not a database)"


def test_doctor_warns_about_a_database_others_can_read(run_cli):
    assert run_cli(["init"]).exit_code == 0
    os.chmod(run_cli.db, 0o644)
    code, found = doctor_json(run_cli)
    assert code == 0
    warning = next(f for f in found if f["check"] == "permissions")
    assert warning["status"] == "warning" and warning["fix"] == f"chmod 600 {run_cli.db}"


def test_doctor_on_an_uninitialised_database_says_to_init(run_cli, tmp_path):
    code, found = doctor_json(run_cli, db=str(tmp_path / "new.db"))
    assert code == 1
    schema = next(f for f in found if f["check"] == "schema")
    assert schema["status"] == "problem" and schema["fix"] == f"crm --db {tmp_path / 'new.db'} init"


def test_restore_refuses_to_replace_a_database_that_is_not_a_crm(run_cli, saved, tmp_path):
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE notes (text TEXT)").connection.close()
    result = run_cli(["restore", "--yes", saved], db=str(foreign))
    assert result.exit_code == 1 and "is not a CRM database; restore into a new file instead" in result.output
    conn = sqlite3.connect(foreign)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["notes"]
    conn.close()
