"""Issue 16, item 8: ids of records with history are never reused (so a new
record never inherits a deleted one's history), on both stores; history shows
creation and consent withdrawal; `contacts add --consent` records a source.
Run with --store=postgres as well."""

import sqlite3

import pytest

from crmcore.app import CRM
from crmcore.core_migrations import m003_ids_never_reused
from crmcore.entities import Company, Contact, Deal
from crmcore.importing import import_contacts


def test_a_new_contact_never_gets_the_id_nor_the_history_of_a_deleted_one(crm):
    crm.add(Contact(email="a@example.com"))
    last = crm.add(Contact(email="z@example.com", first_name="Zoe"))
    crm.update("contacts", last, {"city": "Oslo"})
    crm.delete("contacts", [last])
    new = crm.add(Contact(email="n@example.com"))
    assert new > last
    assert [h["action"] for h in crm.history("contacts", new)] == ["create"]
    assert [h["action"] for h in crm.history("contacts", last)] == ["create", "update", "delete"]


def test_other_tables_with_history_never_reuse_ids_either(crm):
    company = crm.add(Company(name="Acme"))
    deal = crm.add(Deal(title="Big", amount=10))
    crm.delete("companies", [company])
    crm.delete("deals", [deal])
    assert crm.add(Company(name="Other")) > company
    assert crm.add(Deal(title="Next", amount=1)) > deal


def test_history_shows_creation_and_consent_withdrawal(crm, write_file):
    cid = crm.add(Contact(email="ada@example.com", consent=True))
    crm.suppress("ada@example.com")
    history = crm.history("contacts", cid)
    assert [h["action"] for h in history] == ["create", "update"]
    assert history[1]["changes"]["consent"] == [True, False] or history[1]["changes"]["consent"] == [1, 0]
    assert history[1]["changes"]["consent_source"][1] == "unsubscribed"
    import_contacts(crm, write_file("c.csv", "email\nbob@example.com\n"))
    bob = crm.find_contact("bob@example.com")
    assert [h["action"] for h in crm.history("contacts", bob["id"])] == ["create"]
    assert crm.history("contacts", bob["id"])[0]["at"] == bob["created_at"]


def test_contacts_add_with_consent_records_a_source(run_cli):
    run_cli(["init"])
    assert run_cli(["contacts", "add", "--email", "ada@example.com", "--consent"]).exit_code == 0
    with CRM(run_cli.db) as crm:
        row = crm.find_contact("ada@example.com")
    assert row["consent"] is True and row["consent_at"]
    assert row["consent_source"] == "crm contacts add"


@pytest.mark.sqlite_only("the migration converts SQLite tables")
def test_existing_sqlite_database_gets_ids_that_are_never_reused(tmp_path):
    """A database made before AUTOINCREMENT, whose highest contact was deleted
    and left history: the step makes the next id skip it."""
    path = str(tmp_path / "old.db")
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE [contacts] ([id] INTEGER PRIMARY KEY, [email] TEXT);
        CREATE TABLE _crm_audit (id INTEGER PRIMARY KEY, at TEXT, "user" TEXT, action TEXT, table_name TEXT, record_id INTEGER, changes TEXT);
        INSERT INTO contacts (id, email) VALUES (1, 'a@example.com');
        INSERT INTO _crm_audit (at, action, table_name, record_id) VALUES ('2024-01-01', 'update', 'contacts', 2), ('2024-01-02', 'delete', 'contacts', 2);
    """)
    conn.close()
    from crmcore.store.sqlite import SQLiteStore

    store = SQLiteStore(path)
    with store.transaction():
        m003_ids_never_reused(store)
    store.execute("INSERT INTO contacts (email) VALUES ('new@example.com')")
    assert store.query_value("SELECT id FROM contacts WHERE email = 'new@example.com'") == 3
    assert store.query_value("PRAGMA integrity_check") == "ok"
    store.close()


@pytest.mark.sqlite_only("PostgreSQL has no shadow tables: its full-text index is a GIN index")
def test_full_text_shadow_tables_are_left_to_sqlite(crm):
    rows = crm.store.query("SELECT name, sql FROM sqlite_master WHERE name LIKE '%_fts_%' AND type = 'table'")
    assert rows and not [r["name"] for r in rows if "AUTOINCREMENT" in r["sql"]]
    assert "AUTOINCREMENT" in crm.store.query_value("SELECT sql FROM sqlite_master WHERE name = 'contacts'")
