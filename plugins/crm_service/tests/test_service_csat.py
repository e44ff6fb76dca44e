"""CSAT on solve through the surveys plugin: one invitation per solved case,
none without consent or for a suppressed address, answers shown per case."""

import json

import pytest

import crm_service
import crm_surveys
from crm_service import cases
from crm_surveys.answers import record_response
from crm_surveys.definitions import create_survey, get_survey, parse_question_option
from crmcore.entities import Contact


@pytest.fixture
def desk(make_crm):
    crm = make_crm(plugins=[crm_service, crm_surveys])
    create_survey(crm, "csat", "After a case", [parse_question_option("csat:csat:How satisfied are you with our help?", 1)],
                  base_url="https://shop.example/feedback")
    crm.add_many([Contact(email="ada@example.com", consent=True), Contact(email="bob@example.com", consent=False),
                  Contact(email="cy@example.com", consent=True)])
    crm.suppress("cy@example.com")
    return crm


def invitations(crm):
    return crm.store.query("SELECT contact_id, batch, token FROM survey_invitations ORDER BY id")


def test_solving_invites_once_and_only_contacts_who_may_be_asked(desk):
    ada, bob, cy = (desk.find_contact(e)["id"] for e in ("ada@example.com", "bob@example.com", "cy@example.com"))
    ids = [cases.open_case(desk, str(c), "Help") for c in (ada, bob, cy)]
    cases.set_status(desk, ids, "solved")
    (invitation,) = invitations(desk)
    assert invitation["contact_id"] == ada and invitation["batch"] == f"service case #{ids[0]}"
    assert cases.get_case(desk, ids[0])["csat_invitation_id"] is not None
    assert cases.get_case(desk, ids[1])["csat_invitation_id"] is None
    # Reopened and solved again: no second invitation.
    cases.set_status(desk, [ids[0]], "open")
    cases.solve(desk, ids[0])
    assert len(invitations(desk)) == 1


def test_the_answer_shows_on_the_case_and_in_the_segment_field(desk):
    cid = cases.open_case(desk, "ada@example.com", "Help", assignee="sam")
    cases.solve(desk, cid)
    survey = get_survey(desk, "csat")
    record_response(desk, survey, {"csat": "4"}, contact_id=desk.find_contact("ada@example.com")["id"], channel="web")
    assert cases.conversation(desk, cid)["csat"] == 4
    desk._registry = None  # the surveys tables exist now: the field is offered
    sql = desk.registry.segment_fields["last_case_csat"].sql
    assert desk.store.query_value(f"SELECT {sql} FROM contacts c WHERE c.email = 'ada@example.com'") == 4


def test_no_invitation_when_the_surveys_plugin_is_disabled_or_the_survey_missing(desk, make_crm):
    desk.set_enabled("surveys", False)
    cases.solve(desk, cases.open_case(desk, "ada@example.com", "Help"))
    assert invitations(desk) == []
    desk.set_enabled("surveys", True)
    desk.set_setting("service.csat_survey", "no-such-survey")
    cases.solve(desk, cases.open_case(desk, "ada@example.com", "Help again"))
    assert invitations(desk) == []


def test_solve_command_reports_the_invitation(run_cli):
    run = lambda *a: run_cli(list(a), plugins="service,surveys")  # noqa: E731
    run("init")
    assert run("surveys", "create", "after-help", "--question", "csat:csat:How did we do?",
               "--base-url", "https://shop.example/f").exit_code == 0
    assert "after-help" in run("service", "csat-survey", "after-help").output
    assert run("contacts", "add", "--email", "ada@example.com", "--consent").exit_code == 0
    run("service", "open", "ada@example.com", "--subject", "Help")
    result = run("service", "solve", "1")
    assert result.exit_code == 0 and "CSAT invitation 1 created" in result.output
    assert run("surveys", "answer", "after-help", "ada@example.com", "--answer", "csat=2").exit_code == 0
    assert "CSAT: 2 of 5" in run("service", "show", "1").output
    assert json.loads(run("service", "show", "1", "--json").output)["csat"] == 2


def test_the_invitation_is_e_mailed_through_the_outbox(desk, smtp_server, monkeypatch):
    from crm_service import macros
    from crm_service.replies import send_queued

    url, inbox = smtp_server
    monkeypatch.setenv("CRM_SERVICE_FROM", "help@shop.example")
    macros.save(desk, "csat", "Hi {{ contact.email }}, rate case {{ case.id }}: {{ link }}")
    cid = cases.open_case(desk, "ada@example.com", "Kettle")
    cases.solve(desk, cid)
    (queued,) = desk.store.query("SELECT subject, delivery FROM service_messages WHERE case_id = ? AND direction = 'outbound'", (cid,))
    assert queued == {"subject": f"[#{cid}] How did we do? Kettle", "delivery": "queued"}
    assert send_queued(desk, url, case_id=cid) == (1, 0)
    token = invitations(desk)[0]["token"]
    (_, recipients, mail), = inbox.mails
    assert recipients == ["ada@example.com"]
    assert mail.get_content().strip() == f"Hi ada@example.com, rate case {cid}: https://shop.example/feedback?token={token}"


def test_solve_command_e_mails_the_invitation(run_cli, smtp_server):
    url, inbox = smtp_server
    env = {"CRM_SERVICE_FROM": "help@shop.example"}
    run = lambda *a: run_cli(list(a), plugins="service,surveys", env=env)  # noqa: E731
    run("init")
    run("surveys", "create", "csat", "--question", "csat:csat:How did we do?", "--base-url", "https://shop.example/f")
    run("contacts", "add", "--email", "ada@example.com", "--consent")
    run("service", "open", "ada@example.com", "--subject", "Help")
    result = run("service", "solve", "1", "--smtp", url)
    assert result.exit_code == 0 and "The invitation was e-mailed" in result.output, result.output
    assert "How did we do? Help" in inbox.mails[0][2]["Subject"] and "token=" in inbox.mails[0][2].get_content()
