"""Cases and their conversation through the library and every command."""

import json
import os

import pytest

import crm_service
from crm_service import cases
from crmcore import CRMError
from crmcore.entities import Contact


def test_open_creates_the_contact_and_times_the_case_in_business_hours(service_crm):
    # Monday 2026-11-30 16:00 UTC; the default week is Mon-Fri 09:00-17:00 UTC; high: 4h / 24h.
    case_id = cases.open_case(service_crm, "ada@example.com", "Kettle leaks", priority="high", description="It leaks",
                              at="2026-11-30T16:00:00")
    case = cases.get_case(service_crm, case_id)
    assert case["status"] == "new" and case["channel"] == "email"
    assert case["first_response_due"] == "2026-12-01T12:00:00"  # 1h Monday + 3h Tuesday
    assert case["resolution_due"] == "2026-12-03T16:00:00"      # 1 + 8 + 8 + 7 business hours: Thursday 16:00
    assert case["breach_at"] == case["first_response_due"]
    contact = service_crm.find_contact("ada@example.com")
    assert case["contact_id"] == contact["id"]
    conv = cases.conversation(service_crm, case_id)
    assert [m["body"] for m in conv["messages"]] == ["It leaks"]


def test_unknown_contact_id_and_bad_input_are_one_line_errors(service_crm):
    with pytest.raises(CRMError, match="no contact '99'"):
        cases.open_case(service_crm, "99", "x")
    with pytest.raises(CRMError, match="subject"):
        cases.open_case(service_crm, "ada@example.com", "  ")
    with pytest.raises(CRMError, match="products plugin"):
        cases.open_case(service_crm, "ada@example.com", "x", sku="K-1")
    with pytest.raises(CRMError, match="no case #5"):
        cases.get_case(service_crm, 5)
    assert service_crm.store.count("service_cases") == 0


def test_sku_is_checked_against_the_products_plugin(make_crm):
    import crm_products

    crm = make_crm(plugins=[crm_service, crm_products])
    crm.add(crm.record_type("products")(sku="K-1", name="Kettle"))
    case_id = cases.open_case(crm, "ada@example.com", "Lid broken", sku="K-1")
    assert cases.get_case(crm, case_id)["sku"] == "K-1"
    with pytest.raises(CRMError, match="no product with SKU 'K-2'"):
        cases.open_case(crm, "ada@example.com", "x", sku="K-2")


def test_pending_pauses_the_clock_and_reopening_moves_the_due_time(service_crm):
    cid = cases.open_case(service_crm, "ada@example.com", "Refund", priority="normal", at="2026-11-30T09:00:00")  # 8h / 40h
    # Two business hours later we wait for the customer over the weekend and more.
    cases.set_status(service_crm, [cid], "pending", at="2026-11-30T11:00:00")
    case = cases.get_case(service_crm, cid)
    assert case["sla_elapsed"] == 2 * 3600 and case["sla_since"] is None and case["breach_at"] is None
    # Back on Wednesday 10:00: 6h left of the first response -> Wednesday 16:00.
    cases.set_status(service_crm, [cid], "open", at="2026-12-02T10:00:00")
    case = cases.get_case(service_crm, cid)
    assert case["first_response_due"] == "2026-12-02T16:00:00"
    assert case["resolution_due"] == "2026-12-08T16:00:00"  # 38h left: Wed 7 + Thu 8 + Fri 8 + Mon 8 + Tue 7


def test_list_filters_and_breached_is_a_range_on_the_stored_due_time(service_crm):
    a = cases.open_case(service_crm, "ada@example.com", "A", priority="urgent", at="2026-11-30T09:00:00")
    b = cases.open_case(service_crm, "bob@example.com", "B", priority="low", at="2026-11-30T09:00:00")
    c = cases.open_case(service_crm, "cy@example.com", "C", priority="urgent", at="2026-11-30T09:00:00")
    cases.set_status(service_crm, [c], "on-hold", at="2026-11-30T09:30:00")
    cases.assign(service_crm, b, "sam@shop.example")
    breached = cases.list_cases(service_crm, breached=True, at="2026-11-30T10:30:00")
    assert [r["id"] for r in breached] == [a]          # urgent: first response due 10:00; c is on hold
    assert [r["id"] for r in cases.list_cases(service_crm, assignee="sam@shop.example")] == [b]
    assert [r["id"] for r in cases.list_cases(service_crm, priority="urgent")] == [c, a]
    assert [r["id"] for r in cases.list_cases(service_crm, status="on-hold")] == [c]
    plan = " ".join(str(r) for r in service_crm.store.query(
        "EXPLAIN QUERY PLAN SELECT id FROM service_cases WHERE breach_at < ?", ("x",))) if service_crm.store.kind == "sqlite" else "ix_service_cases_breach_at"
    assert "ix_service_cases_breach_at" in plan


def test_solving_records_resolution_time_and_fires_the_status_event(make_crm):
    from crmcore import hookimpl

    seen = []

    class Listener:
        @hookimpl
        def crm_case_status_changed(self, crm, changes):
            seen.extend((c["case"]["id"], c["old_status"], c["new_status"]) for c in changes)

    crm = make_crm(plugins=[crm_service, ("listener", Listener())])
    cid = cases.open_case(crm, "ada@example.com", "A", at="2026-11-30T09:00:00")
    cases.set_status(crm, [cid], "open", at="2026-11-30T10:00:00")
    case = cases.solve(crm, cid, at="2026-12-01T10:00:00")
    assert case["solved_at"] == "2026-12-01T10:00:00" and case["resolution_seconds"] == 9 * 3600
    assert case["breach_at"] is None
    assert seen == [(cid, "new", "open"), (cid, "open", "solved")]


def test_search_finds_cases_by_subject_and_by_message(service_crm):
    a = cases.open_case(service_crm, "ada@example.com", "Kettle leaks", description="Water everywhere")
    cases.open_case(service_crm, "bob@example.com", "Invoice wrong")
    assert [r["id"] for r in cases.search(service_crm, "kett")] == [a]
    assert [r["id"] for r in cases.search(service_crm, "everywhere")] == [a]
    assert cases.search(service_crm, "toaster") == []


def test_merge_moves_cases_and_erase_removes_cases_messages_and_files(service_crm, files_dir):
    keep = service_crm.add(Contact(email="ada@example.com"))
    dup = service_crm.add(Contact(email="ada.l@example.com"))
    cid = cases.open_case(service_crm, str(dup), "Broken", description="Secret-body-8841")
    mid = service_crm.store.query_value("SELECT id FROM service_messages WHERE case_id = ?", (cid,))
    from crm_service.files import full_path, save

    relative = save(service_crm, cid, mid, 1, "../../photo.jpg", b"\xff\xd8 picture")
    service_crm.add(service_crm.record_type("service_attachments")(message_id=mid, filename="photo.jpg", path=relative, size=10))
    path = full_path(service_crm, relative)
    assert os.path.isfile(path) and oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert ".." not in relative
    service_crm.merge_contacts(str(keep), str(dup))
    assert cases.get_case(service_crm, cid)["contact_id"] == keep
    notes = service_crm.erase_contact(str(keep))
    assert any("service: 1 case" in n for n in notes)
    for table in ("service_cases", "service_messages", "service_attachments"):
        assert service_crm.store.count(table) == 0
    assert not os.path.exists(path)
    everything = json.dumps({t: service_crm.store.query(f'SELECT * FROM "{t}"') for t in service_crm.store.table_names()}, default=str)
    assert "Secret-body-8841" not in everything


def test_segment_fields_count_open_and_recent_cases(service_crm):
    cid = cases.open_case(service_crm, "ada@example.com", "A")
    cases.open_case(service_crm, "ada@example.com", "B")
    cases.solve(service_crm, cid)
    fields = {f.name: f.sql for f in service_crm.registry.segment_fields.values()}
    row = service_crm.store.query(
        f"SELECT {fields['open_cases']} AS open_cases, {fields['cases_last_90_days']} AS recent FROM contacts c")[0]
    assert row == {"open_cases": 1, "recent": 2}


# -- the commands --------------------------------------------------------------------


def test_commands_open_list_show_assign_status_solve(run_cli):
    run = lambda *a: run_cli(list(a), plugins="service")  # noqa: E731
    assert run("init").exit_code == 0
    result = run("service", "open", "ada@example.com", "--subject", "Kettle leaks", "--priority", "urgent",
                 "--description", "Water on the floor", "--tag", "leak")
    assert result.exit_code == 0 and "Opened case #1 (urgent)" in result.output
    assert run("service", "assign", "1", "sam@shop.example").output.strip() == "Case #1 assigned to sam@shop.example"
    assert run("service", "status", "1", "pending").output.strip() == "Case #1 is pending"
    assert run("service", "priority", "1", "low").exit_code == 0
    rows = json.loads(run("service", "list", "--json").output)
    assert [(r["id"], r["status"], r["priority"], r["assignee"], r["tags"], r["email"]) for r in rows] == [
        (1, "pending", "low", "sam@shop.example", ["leak"], "ada@example.com")]
    csv_out = run("service", "list", "--csv", "--status", "pending").output.splitlines()
    assert csv_out[0].startswith("id,status,priority,subject") and csv_out[1].startswith("1,pending,low,Kettle leaks")
    assert json.loads(run("service", "list", "--json", "--breached").output) == []
    assert run("service", "reply", "1", "--internal", "--body", "Called her back").exit_code == 0
    shown = run("service", "show", "1").output
    assert "Case #1: Kettle leaks" in shown and "Water on the floor" in shown and "internal note by" in shown
    assert run("service", "solve", "1").output.startswith("Case #1 solved")
    assert json.loads(run("service", "show", "1", "--json").output)["case"]["status"] == "solved"
    assert [r["id"] for r in json.loads(run("service", "search", "kettle", "--json").output)] == [1]


def test_command_errors_are_one_line(run_cli):
    run = lambda *a: run_cli(list(a), plugins="service")  # noqa: E731
    run("init")
    for args, message in [(("service", "show", "7"), "no case #7"),
                          (("service", "status", "x1", "open"), "'x1' is not a case number"),
                          (("service", "open", "not-an-email", "--subject", "x"), "neither a contact id nor a valid e-mail"),
                          (("service", "reply", "7", "--body", "hi"), "no case #7")]:
        result = run(*args)
        assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    run("service", "open", "ada@example.com", "--subject", "x")
    result = run("service", "reply", "1", "--body", "hi")
    assert result.exit_code == 1 and "no SMTP server" in result.output
    assert run("service", "reply", "1").exit_code == 2  # no body given: a usage error


def test_csv_cells_are_spreadsheet_safe(run_cli):
    run_cli(["init"], plugins="service")
    run_cli(["service", "open", "ada@example.com", "--subject", "=HYPERLINK(\"http://evil\")"], plugins="service")
    out = run_cli(["service", "list", "--csv"], plugins="service").output.splitlines()
    assert out[1].split(",")[3].startswith("'=HYPERLINK") or "\"'=HYPERLINK" in out[1]


def test_deleting_a_contact_or_a_case_takes_its_conversation_along(service_crm):
    a = cases.open_case(service_crm, "ada@example.com", "A", description="first")
    b = cases.open_case(service_crm, "bob@example.com", "B", description="second")
    service_crm.delete("service_cases", [a])
    assert service_crm.store.query_value("SELECT count(*) FROM service_messages") == 1
    service_crm.delete("contacts", [service_crm.find_contact("bob@example.com")["id"]])
    assert service_crm.store.count("service_cases") == 0 and service_crm.store.count("service_messages") == 0
    assert b
