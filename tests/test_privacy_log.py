"""Issue 16, item 14: erasures and unsubscribes survive a restore and a
migrate-store from an old copy; the log that makes that possible holds no
personal data. Run with --store=postgres as well (migrate-store target)."""

import hashlib
import json
import os
import shutil
import sqlite3

import pytest

from crmcore.app import CRM
from crmcore.privacy_log import log_path


@pytest.fixture
def shop(run_cli, tmp_path):
    """A SQLite CRM with three consenting contacts, backed up; then Ada is
    erased and Bob unsubscribes."""
    db = str(tmp_path / "shop.db")
    run = lambda args: run_cli(args, db=db)  # noqa: E731
    assert run(["init"]).exit_code == 0
    for name in ("ada", "bob", "cy"):
        assert run(["contacts", "add", "--email", f"{name}@example.com", "--first-name", name.title(), "--consent"]).exit_code == 0
    backup = str(tmp_path / "last-week.db")
    assert run(["backup", backup]).exit_code == 0
    assert run(["contacts", "erase", "ada@example.com", "--yes"]).exit_code == 0
    assert run(["contacts", "unsubscribe", "bob@example.com"]).exit_code == 0
    return db, backup, run


def people(location):
    with CRM(location) as crm:
        return {r["email"]: bool(r["consent"]) for r in crm.store.query("SELECT email, consent FROM contacts")}, \
            crm.is_suppressed("bob@example.com")


def test_restore_reapplies_erasures_and_unsubscribes_and_says_so(shop):
    db, backup, run = shop
    result = run(["restore", backup, "--yes"])
    assert result.exit_code == 0, result.output
    assert "Re-applied 1 erasure and 1 unsubscribe made after this copy was taken" in result.output
    found, bob_suppressed = people(db)
    assert found == {"bob@example.com": False, "cy@example.com": True}
    assert bob_suppressed
    again = run(["restore", backup, "--yes"])  # idempotent: the same again
    assert "Re-applied 1 erasure and 1 unsubscribe" in again.output
    assert people(db)[0] == {"bob@example.com": False, "cy@example.com": True}


def test_the_log_holds_no_personal_data(shop):
    text = open(log_path(), encoding="utf-8").read()
    assert len(text.splitlines()) == 2
    for value in ("ada@", "bob@", "example.com", "Ada", hashlib.sha256(b"ada@example.com").hexdigest(),
                  hashlib.sha256(b"bob@example.com").hexdigest()):
        assert value not in text
    assert {json.loads(line)["action"] for line in text.splitlines()} == {"erased", "unsubscribed"}
    assert oct(os.stat(log_path()).st_mode & 0o777) == "0o600"


def test_migrate_store_from_an_old_copy_reapplies_them(shop, new_db, run_cli):
    _db, backup, _run = shop
    target = new_db("copy.db")  # a PostgreSQL database with --store=postgres
    result = run_cli(["migrate-store", "--from", backup, "--to", target], db=None)
    assert result.exit_code == 0, result.output
    assert "Re-applied 1 erasure and 1 unsubscribe" in result.output
    found, bob_suppressed = people(target)
    assert found == {"bob@example.com": False, "cy@example.com": True} and bob_suppressed


def test_a_backup_from_before_the_log_is_matched_through_the_database_it_replaces(shop, tmp_path):
    db, backup, run = shop
    old = str(tmp_path / "older.db")
    shutil.copy(backup, old)
    conn = sqlite3.connect(old)
    conn.execute("DELETE FROM _crm_settings WHERE key LIKE 'privacy.%'")
    conn.commit()
    conn.close()
    result = run(["restore", old, "--yes"])
    assert "Re-applied 1 erasure and 1 unsubscribe" in result.output
    assert people(db)[0] == {"bob@example.com": False, "cy@example.com": True}


def test_someone_unsubscribed_after_the_backup_and_not_in_it_stays_suppressed(run_cli, tmp_path, write_file):
    db = str(tmp_path / "shop.db")
    run = lambda args: run_cli(args, db=db)  # noqa: E731
    run(["init"])
    backup = str(tmp_path / "before-dee.db")
    run(["backup", backup])
    run(["contacts", "add", "--email", "dee@example.com", "--consent"])
    run(["contacts", "unsubscribe", "dee@example.com"])
    run(["restore", backup, "--yes"])  # Dee is not in the backup: no row to change, no suppression row either
    assert run(["contacts", "import", write_file("dee.csv", "email,consent\ndee@example.com,yes\n")]).exit_code == 0
    with CRM(db) as crm:
        assert crm.find_contact("dee@example.com")["consent"] is False
        assert crm.is_suppressed("dee@example.com")
