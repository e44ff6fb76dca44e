"""`crm campaigns import-bounces`: delivery status notifications (RFC 3464)
from an mbox file or a Maildir folder mark hard-bounced recipients and
suppress their addresses; soft bounces and strangers' mail change nothing."""

import json
import mailbox

from crm_campaigns.bounces import import_bounces
from crm_campaigns.results import status
from crm_campaigns.sending import send


def dsn(recipient, status_code="5.1.1", action="failed", message_id=None, original="headers"):
    """A bounce as Postfix writes it: human text, delivery status, the original's headers."""
    headers = f"From: news@shop.example\nTo: {recipient}\nSubject: Spring\n" + (f"Message-ID: {message_id}\n" if message_id else "")
    tail = (f"Content-Type: text/rfc822-headers\n\n{headers}" if original == "headers"
            else f"Content-Type: message/rfc822\n\n{headers}\nHello\n")
    return (
        "From: MAILER-DAEMON@mx.example.org\nTo: news@shop.example\nSubject: Undelivered Mail Returned to Sender\n"
        "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"BOUND\"\n\n"
        "--BOUND\nContent-Type: text/plain\n\nI'm sorry to have to inform you that your message could not be delivered.\n\n"
        "--BOUND\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n"
        f"Final-Recipient: rfc822; {recipient}\nOriginal-Recipient: rfc822;{recipient}\nAction: {action}\nStatus: {status_code}\n"
        f"Diagnostic-Code: smtp; 550 {status_code} <{recipient}>: Recipient address rejected:\n User unknown in virtual mailbox table\n\n"
        f"--BOUND\n{tail}\n--BOUND--\n").encode()


def message_id_of(crm, address):
    return crm.store.query_value("SELECT message_id FROM campaign_outbox WHERE email = ?", (address,))


def test_hard_bounces_mark_the_recipient_and_suppress_the_address(ccrm, people, campaign, smtp, tmp_path):
    send(ccrm, campaign, url=smtp.url)
    box = mailbox.mbox(str(tmp_path / "bounces.mbox"))
    box.add(dsn("ada@example.com", message_id=message_id_of(ccrm, "ada@example.com")))
    box.add(dsn("juergen@example.de", "4.2.2", "delayed", message_id_of(ccrm, "juergen@example.de")))  # mailbox full: soft
    box.add(dsn("stranger@example.net", message_id="<not-ours@elsewhere>"))
    box.add(b"From: friend@example.org\nSubject: hi\n\njust a reply\n")
    box.flush()

    result = import_bounces(ccrm, str(tmp_path / "bounces.mbox"))

    assert {k: result[k] for k in ("messages", "reports", "hard", "soft", "unmatched")} == \
        {"messages": 4, "reports": 3, "hard": 1, "soft": 1, "unmatched": 1}
    assert result["suppressed"] == ["ada@example.com"]
    row = ccrm.store.query("SELECT status, error FROM campaign_outbox WHERE email = 'ada@example.com'")[0]
    assert row["status"] == "bounced"
    assert row["error"] == "5.1.1 550 5.1.1 <ada@example.com>: Recipient address rejected: User unknown in virtual mailbox table"
    assert ccrm.is_suppressed("ada@example.com") and not ccrm.is_suppressed("juergen@example.de")
    assert ccrm.store.query_value("SELECT status FROM campaign_outbox WHERE email = 'juergen@example.de'") == "sent"
    assert (status(ccrm, campaign)["bounced"], status(ccrm, campaign)["sent"]) == (1, 1)

    again = import_bounces(ccrm, str(tmp_path / "bounces.mbox"))  # the same mailbox again changes nothing
    assert (again["hard"], again["already"], again["suppressed"]) == (0, 1, [])


def test_a_maildir_and_the_suppress_after_threshold(ccrm, people, campaign, smtp, tmp_path):
    send(ccrm, campaign, url=smtp.url)
    folder = tmp_path / "Maildir"
    box = mailbox.Maildir(str(folder), create=True)
    box.add(dsn("juergen@example.de", message_id=message_id_of(ccrm, "juergen@example.de"), original="message"))
    result = import_bounces(ccrm, str(folder), suppress_after=2)
    assert (result["hard"], result["suppressed"]) == (1, [])  # one hard bounce, two needed
    assert not ccrm.is_suppressed("juergen@example.de")
    assert ccrm.store.query_value("SELECT status FROM campaign_outbox WHERE email = 'juergen@example.de'") == "bounced"


def test_import_bounces_command_and_its_errors(run_cli, tmp_path):
    assert run_cli(["init"], plugins="campaigns,segments").exit_code == 0
    missing = run_cli(["campaigns", "import-bounces", str(tmp_path / "nope")], plugins="campaigns,segments")
    assert missing.exit_code == 1 and "no mailbox" in missing.output and len(missing.output.strip().splitlines()) == 1
    (tmp_path / "plain").mkdir()
    not_maildir = run_cli(["campaigns", "import-bounces", str(tmp_path / "plain")], plugins="campaigns,segments")
    assert not_maildir.exit_code == 1 and "must be a Maildir" in not_maildir.output
    box = mailbox.mbox(str(tmp_path / "b.mbox"))
    box.add(dsn("nobody@example.com"))
    box.flush()
    ok = run_cli(["campaigns", "import-bounces", str(tmp_path / "b.mbox"), "--json"], plugins="campaigns,segments")
    assert ok.exit_code == 0 and json.loads(ok.output)["unmatched"] == 1


def test_bounces_the_service_desk_imports_mark_campaign_recipients_too(make_crm, segments, tmp_path):
    """With the service plugin enabled, `crm service import-mail` finds a DSN and
    announces it through crm_mail_bounced; this plugin marks its recipient."""
    import crm_campaigns
    import crm_service
    from crm_campaigns.campaigns import create_campaign
    from crm_service.mailin import import_mail

    from crmcore import Contact

    crm = make_crm(plugins=[crm_campaigns, crm_service, ("segments", segments)])
    crm.set_setting("base_url", "https://crm.example.com")
    segments.segments["news"] = crm.add_many([Contact(first_name="Ada", email="ada@example.com", consent=True)])
    create_campaign(crm, "spring", "news", ["Spring"], "Hello {{ first_name }}", "", "news@shop.example")
    (tmp_path / "sent").mkdir()
    send(crm, "spring", url=f"file://{tmp_path / 'sent'}")
    path = tmp_path / "bounce.eml"
    path.write_bytes(dsn("ada@example.com", message_id=message_id_of(crm, "ada@example.com")))
    import_mail(crm, str(path))
    assert crm.store.query_value("SELECT status FROM campaign_outbox WHERE email = 'ada@example.com'") == "bounced"
    assert crm.is_suppressed("ada@example.com")
