"""Replies e-mailed through a local SMTP server, the outbox, and macros."""

import json

import pytest

from crm_service import cases, macros, mailer
from crm_service.replies import reply, send_queued
from crmcore import CRMError


def test_reply_is_sent_with_threading_headers_and_the_case_tag(service_crm, smtp_server):
    url, inbox = smtp_server
    cid = cases.open_case(service_crm, "ada@example.com", "Kettle leaks", description="It leaks", at="2026-11-30T09:00:00")
    service_crm.store.execute("UPDATE service_messages SET message_id = '<first@ada.example>'")
    cases.add_message(service_crm, cid, "inbound", "Any news?", author="ada@example.com", message_id="<second@ada.example>",
                      at="2026-11-30T09:30:00")
    mid = reply(service_crm, cid, "We are on it.", smtp=url, sender="help@shop.example", at="2026-11-30T10:00:00")
    (envelope_from, recipients, mail), = inbox.mails
    assert envelope_from == "help@shop.example" and recipients == ["ada@example.com"]
    assert mail["Subject"] == f"Re: [#{cid}] Kettle leaks"
    assert mail["In-Reply-To"] == "<second@ada.example>"
    assert mail["References"] == "<first@ada.example> <second@ada.example>"
    assert mail["Message-ID"].endswith("@shop.example>")
    assert mail.get_content().strip() == "We are on it."
    stored = service_crm.store.get("service_messages", mid)
    assert stored["delivery"] == "sent" and stored["message_id"] == mail["Message-ID"] and stored["direction"] == "outbound"
    case = cases.get_case(service_crm, cid)
    assert case["status"] == "open" and case["first_response_at"] == "2026-11-30T10:00:00"
    assert case["first_response_seconds"] == 3600 and case["first_response_due"] is None


def test_a_refused_login_keeps_the_reply_queued_as_failed_and_send_queued_retries(service_crm, smtp_server):
    url, inbox = smtp_server
    cid = cases.open_case(service_crm, "ada@example.com", "Kettle")
    bad = url.replace("s3cret", "wrong")
    with pytest.raises(CRMError, match="saved but was not sent: the SMTP server .* refused the user name or password") as exc:
        reply(service_crm, cid, "Hello", smtp=bad, sender="help@shop.example")
    assert "wrong" not in str(exc.value)  # never the password
    assert service_crm.store.query_value("SELECT delivery FROM service_messages WHERE direction = 'outbound'") == "failed"
    assert send_queued(service_crm, url) == (1, 0)
    assert len(inbox.mails) == 1
    assert service_crm.store.query_value("SELECT delivery FROM service_messages WHERE direction = 'outbound'") == "sent"


def test_send_mail_is_reusable_and_reads_the_url_from_the_environment(smtp_server, monkeypatch):
    from email.message import EmailMessage

    url, inbox = smtp_server
    monkeypatch.setenv("CRM_SMTP_URL", url)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "news@shop.example", "bob@example.com", "Hello"
    message.set_content("Hi Bob")
    mailer.send_mail(message)
    assert inbox.mails[0][1] == ["bob@example.com"]
    assert mailer.parse_url("smtps://u%40x:p%3Aw@mail.example") == {
        "host": "mail.example", "port": 465, "user": "u@x", "password": "p:w", "tls": True}
    with pytest.raises(CRMError, match="smtp://"):
        mailer.parse_url("http://mail.example")
    with pytest.raises(CRMError, match="cannot reach the SMTP server smtp://127.0.0.1:1"):
        mailer.send_mail(message, "smtp://127.0.0.1:1")


def test_macros_fill_placeholders_in_a_sandbox(service_crm):
    cid = cases.open_case(service_crm, "ada@example.com", "Kettle")
    service_crm.update("contacts", service_crm.find_contact("ada@example.com")["id"], {"first_name": "Ada"})
    macros.save(service_crm, "thanks", "Dear {{ contact.first_name }}, case {{ case.id }} ({{ case.subject }}) is in hand. {{ agent }}")
    case = cases.get_case(service_crm, cid)
    contact = service_crm.find_contact("ada@example.com")
    assert macros.render(service_crm, "thanks", case, contact, agent="Sam") == f"Dear Ada, case {cid} (Kettle) is in hand. Sam"
    macros.save(service_crm, "evil", "{{ case.__class__.__mro__ }}")
    with pytest.raises(CRMError, match="macro 'evil'"):
        macros.render(service_crm, "evil", case, contact)
    macros.save(service_crm, "typo", "Hi {{ contact.nickname }}")
    with pytest.raises(CRMError, match="macro 'typo'.*nickname"):
        macros.render(service_crm, "typo", case, contact)
    with pytest.raises(CRMError, match="macro 'bad' line 1"):
        macros.save(service_crm, "bad", "{% if %}")
    with pytest.raises(CRMError, match="no macro named 'nope'"):
        macros.get(service_crm, "nope")


def test_reply_and_macro_commands(run_cli, smtp_server, write_file):
    url, inbox = smtp_server
    run = lambda *a: run_cli(list(a), plugins="service")  # noqa: E731
    run("init")
    run("service", "open", "ada@example.com", "--subject", "Kettle leaks")
    assert run("service", "macros", "add", "thanks", "--body", "Thanks {{ contact.email }}, see case {{ case.id }}.").exit_code == 0
    assert json.loads(run("service", "macros", "list", "--json").output)[0]["name"] == "thanks"
    result = run("service", "reply", "1", "--macro", "thanks", "--smtp", url, "--from", "help@shop.example")
    assert result.exit_code == 0, result.output
    assert inbox.mails[-1][2].get_content().strip() == "Thanks ada@example.com, see case 1."
    body = write_file("answer.txt", "Line one\nLine two\n")
    result = run_cli(["service", "reply", "1", "--body-file", body], plugins="service",
                     env={"CRM_SMTP_URL": url, "CRM_SERVICE_FROM": "help@shop.example"})
    assert result.exit_code == 0, result.output
    assert inbox.mails[-1][2].get_content().splitlines() == ["Line one", "Line two"]
    assert inbox.mails[-1][2]["Subject"] == "[#1] Kettle leaks"
    assert run("service", "send-queued", "--smtp", url).output.strip() == "Sent 0 replies"
    assert run("service", "macros", "show", "thanks").output.startswith("Thanks")
    assert run("service", "macros", "delete", "thanks").exit_code == 0
    assert run("service", "macros", "show", "thanks").exit_code == 1


def test_the_sender_command_shows_and_sets_the_reply_address(run_cli, monkeypatch):
    run = lambda *a: run_cli(list(a), plugins="service")  # noqa: E731
    run("init")
    assert run("service", "sender").output.startswith("No sender set: crm service sender help@your-shop.example")
    assert run("service", "sender", "Help@Shop.example").output.strip() == "Replies come from help@shop.example"
    result = run("service", "sender", "nope")
    assert result.exit_code == 2 and "'nope' is not an e-mail address" in result.output
    assert run("service", "sender").output.strip() == "Replies come from help@shop.example"
    monkeypatch.setenv("CRM_SERVICE_FROM", "desk@shop.example")
    assert run("service", "sender").output.strip() == "Replies come from desk@shop.example (CRM_SERVICE_FROM)"
