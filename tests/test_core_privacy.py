"""Personal data: erasure, consent, suppression and the audit trail."""

import datetime as dt
import json

from crmcore import hookimpl
from crmcore.entities import Activity, Contact, Deal, Order
from crmcore.importing import import_contacts


class Remembers:
    """A plugin that keeps personal data and must drop it on erasure."""

    crm_plugin_name = "remembers"

    @hookimpl
    def crm_register_migrations(self, register):
        def m001_notes(store):
            store.execute("CREATE TABLE remember_notes (contact_id INTEGER, note TEXT)")

        register(m001_notes)

    @hookimpl
    def crm_contact_erased(self, crm, contact_id, email):
        crm.store.execute("DELETE FROM remember_notes WHERE contact_id = ?", (contact_id,))
        return [f"was sent to the newsletter tool as {email}"]


def test_erase_removes_personal_data_everywhere_and_suppresses(make_crm, write_file):
    crm = make_crm(plugins=[Remembers()])
    cid = crm.add(Contact(email="ada@example.com", first_name="Ada", consent=True))
    other = crm.add(Contact(email="bob@example.com"))
    crm.update("contacts", cid, {"city": "London"})
    crm.store.execute("INSERT INTO remember_notes VALUES (?, 'likes tea'), (?, 'bob')", (cid, other))
    crm.add(Activity(contact_id=cid, kind="note", body="Ada said her daughter is ill"))
    deal = crm.add(Deal(title="Spring", contact_id=cid, amount=100))
    order = crm.add(Order(contact_id=cid, ordered_at=dt.date(2024, 1, 1), total=50))

    notes = crm.erase_contact("ada@example.com")

    assert notes == ["was sent to the newsletter tool as ada@example.com"]
    assert crm.store.get("contacts", cid) is None
    assert crm.store.query("SELECT * FROM remember_notes") == [{"contact_id": other, "note": "bob"}]
    assert crm.store.query_value("SELECT count(*) FROM activities") == 0
    assert crm.store.get("deals", deal)["contact_id"] is None
    assert crm.store.get("orders", order)["contact_id"] is None and crm.store.get("orders", order)["total"] == 50
    dump = json.dumps(crm.store.query("SELECT * FROM _crm_audit"))
    assert "ada" not in dump.lower() and "London" not in dump
    assert crm.is_suppressed("ada@example.com")
    import_contacts(crm, write_file("back.csv", "email,first_name,newsletter\nada@example.com,Ada,yes\n"))
    assert crm.find_contact("ada@example.com")["consent"] is False


def test_every_core_table_is_free_of_the_erased_email(crm):
    cid = crm.add(Contact(email="zed@example.com", first_name="Zed", notes="zed@example.com"))
    crm.update("contacts", cid, {"last_name": "Zebra"})
    crm.erase_contact(str(cid))
    for table in crm.store.table_names():
        if table.startswith("sqlite_"):
            continue
        text = json.dumps(crm.store.query(f'SELECT * FROM "{table}"'), default=str)
        assert "zed@example.com" not in text and "Zebra" not in text, table


def test_erase_command(run_cli):
    run_cli(["init"])
    run_cli(["contacts", "add", "--email", "ada@example.com"])
    result = run_cli(["contacts", "erase", "ada@example.com", "--yes"])
    assert result.exit_code == 0 and "Erased contact 1" in result.output
    assert run_cli(["contacts", "show", "ada@example.com"]).exit_code == 1


def test_consent_is_stored_with_time_and_source(crm):
    cid = crm.add(Contact(email="a@example.com", consent=True, consent_source="shop checkout"))
    row = crm.get("contacts", cid)
    assert row["consent"] is True and row["consent_at"] and row["consent_source"] == "shop checkout"


def test_unsubscribe_command_is_permanent(run_cli, write_file):
    run_cli(["init"])
    path = write_file("c.csv", "email,newsletter\nada@example.com,yes\n")
    run_cli(["contacts", "import", path])
    assert run_cli(["contacts", "unsubscribe", "ADA@example.com"]).exit_code == 0
    run_cli(["contacts", "import", path])
    shown = json.loads(run_cli(["contacts", "show", "ada@example.com", "--json"]).output)
    assert shown["consent"] is False and shown["consent_source"] == "unsubscribed"


def test_unsubscribing_a_malformed_address_is_a_one_line_error_and_suppresses_nothing(run_cli):
    run_cli(["init"])
    result = run_cli(["contacts", "unsubscribe", "ok@example.com", "not an email"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: invalid e-mail address 'not an email': An email address must have an @-sign."]
    assert "Traceback" not in result.output
    listed = run_cli(["contacts", "add", "--email", "ok@example.com", "--consent"])
    assert listed.exit_code == 0
    shown = json.loads(run_cli(["contacts", "show", "ok@example.com", "--json"]).output)
    assert shown["consent"] is True  # the valid address in the same command was not suppressed either


def test_an_import_that_changes_a_contact_is_in_its_history(run_cli, write_file, monkeypatch):
    monkeypatch.setenv("CRM_USER", "importer-bot")
    run_cli(["init"])
    run_cli(["contacts", "import", write_file("a.csv", "email,city,first_name\nada@example.com,Paris,Ada\nbob@example.com,Rome,Bob\n")])
    run_cli(["contacts", "import", write_file("b.csv", "email,city,first_name\nada@example.com,London,Ada\nbob@example.com,Rome,Bob\n")])
    history = json.loads(run_cli(["contacts", "history", "ada@example.com", "--json"]).output)
    assert [(h["user"], h["action"], h["changes"]) for h in history] == [(None, "create", {}), ("importer-bot", "import", {"city": ["Paris", "London"]})]
    # Bob's row had nothing new: no entry but his creation (imported: its time, no user)
    assert [h["action"] for h in json.loads(run_cli(["contacts", "history", "bob@example.com", "--json"]).output)] == ["create"]
