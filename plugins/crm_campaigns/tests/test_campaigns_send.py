"""Sending through a real SMTP server on 127.0.0.1: personalisation, MIME and
headers parsed back with the standard library, consent and suppression at
freeze time and right before each message, retries, failures, rate limit."""

import time

from crm_campaigns.campaigns import create_campaign
from crm_campaigns.sending import Pacer, freeze, send
from crm_campaigns.campaigns import get_campaign

NO_WAIT = (0.0, 0.0)


def outbox(crm):
    return {r["email"]: r for r in crm.store.query("SELECT * FROM campaign_outbox ORDER BY id")}


def test_each_consenting_member_gets_their_own_message_with_correct_mime_and_headers(ccrm, people, campaign, smtp, parts):
    result = send(ccrm, campaign, url=smtp.url)

    assert (result["frozen"], result["sent"], result["failed"], result["skipped"], result["remaining"]) == (4, 2, 0, 0, 0)
    got = smtp.handler.messages
    assert sorted(m["to"][0] for m in got) == ["ada@example.com", "juergen@example.de"]  # not Cy, Dee or Eve
    rows = outbox(ccrm)
    assert (rows["cy@example.com"]["status"], rows["cy@example.com"]["error"]) == ("skipped", "no consent")
    assert (rows["dee@example.com"]["status"], rows["dee@example.com"]["error"]) == ("skipped", "suppressed")
    assert "eve@example.com" not in rows

    ada = smtp.handler.to("ada@example.com")[0]
    assert ada["Subject"] == "Spring for Ada"
    assert ada["From"].addresses[0].display_name == "Shöp" and ada["From"].addresses[0].addr_spec == "news@shop.example"
    assert ada["Message-ID"] == rows["ada@example.com"]["message_id"]
    assert ada.get_content_type() == "multipart/alternative"
    text, html = parts(ada)
    link = ada["List-Unsubscribe"].strip("<>")
    assert link.startswith("https://crm.example.com/unsubscribe/") and len(link.rsplit("/", 1)[1]) >= 22
    assert ada["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert text == f"Hello Ada from London, size 38.\nLeave: {link}\n"
    assert f'<a href="{link}">leave</a>' in html

    juergen = smtp.handler.to("juergen@example.de")[0]
    to = juergen["To"].addresses[0]
    assert (to.display_name, to.addr_spec) == ("Jürgen Größ, Jr.", "juergen@example.de")
    raw = juergen.as_bytes().decode("ascii")  # 7-bit clean: RFC 2047 headers, quoted-printable bodies
    assert "=?utf-8?" in raw.split("\n\n", 1)[0] and "quoted-printable" in raw
    text, html = parts(juergen)
    assert text.startswith("Hello Jürgen from Köln, size ?.")
    assert "<p>Hello Jürgen Größ, Jr.</p>" in html
    assert juergen["List-Unsubscribe"] != ada["List-Unsubscribe"]  # a personal link each


def test_html_body_escapes_what_contacts_typed(ccrm, segments, smtp, parts):
    from crmcore.entities import Contact

    cid = ccrm.add(Contact(first_name="<script>x</script>", email="x@example.com", consent=True))
    segments.segments["x"] = [cid]
    create_campaign(ccrm, "esc", "x", ["Hi"], "Hi {{ first_name }}", "<p>{{ first_name }}</p>", "news@shop.example")
    send(ccrm, "esc", url=smtp.url)
    text, html = parts(smtp.handler.to("x@example.com")[0])
    assert "<p>&lt;script&gt;x&lt;/script&gt;</p>" in html and "<script>" not in html
    assert text.startswith("Hi <script>x</script>")  # plain text is not HTML


def test_consent_and_suppression_are_checked_again_right_before_each_message(ccrm, people, campaign, smtp):
    freeze(ccrm, get_campaign(ccrm, campaign))
    assert outbox(ccrm)["ada@example.com"]["status"] == "queued"
    ccrm.suppress("ada@example.com", reason="unsubscribed (one-click)")   # after the freeze, before the send
    ccrm.update("contacts", people["juergen"], {"consent": False})

    result = send(ccrm, campaign, url=smtp.url)

    assert (result["sent"], result["skipped"]) == (0, 2)
    assert smtp.handler.messages == []
    rows = outbox(ccrm)
    assert rows["ada@example.com"]["error"] == "suppressed" and rows["juergen@example.de"]["error"] == "no consent"


def test_an_unsubscribe_during_a_send_stops_the_later_messages(ccrm, people, campaign, smtp):
    """The recipient of the first message unsubscribes (through its link) before the second goes out."""
    from crmcore import links

    seen = []

    class UnsubscribingTransport:
        def __init__(self):
            from crm_campaigns.transports import SMTPTransport
            self.inner = SMTPTransport(smtp.url)

        def send(self, message, sender, recipient):
            self.inner.send(message, sender, recipient)
            seen.append(recipient)
            if len(seen) == 1:  # the other queued person unsubscribes now
                other = "juergen@example.de" if recipient == "ada@example.com" else "ada@example.com"
                cid = people["juergen"] if other == "juergen@example.de" else people["ada"]
                token = links.unsubscribe_url(ccrm, cid).rsplit("/", 1)[1]
                links.unsubscribe(ccrm, token, "one-click")

        def close(self):
            self.inner.close()

    result = send(ccrm, campaign, transport=UnsubscribingTransport())
    assert (result["sent"], result["skipped"]) == (1, 1)
    assert len(smtp.handler.messages) == 1


def test_temporary_failures_are_retried_with_backoff_then_sent(ccrm, people, campaign, smtp):
    smtp.handler.replies["ada@example.com"] = ["451 4.3.0 greylisted, try later", "421 4.7.0 slow down"]
    sleeps = []
    result = send(ccrm, campaign, url=smtp.url, backoff=(1.5, 7.0, 30.0), sleep=sleeps.append)
    assert result["sent"] == 2 and result["remaining"] == 0
    assert sleeps == [1.5, 7.0]
    row = outbox(ccrm)["ada@example.com"]
    assert (row["status"], row["attempts"]) == ("sent", 3)
    assert len(smtp.handler.to("ada@example.com")) == 1


def test_temporary_failures_past_the_retries_stay_queued_and_the_next_run_sends_them(ccrm, people, campaign, smtp):
    smtp.handler.replies["ada@example.com"] = ["451 4.3.0 try later"] * 3
    result = send(ccrm, campaign, url=smtp.url, backoff=NO_WAIT, sleep=lambda s: None)
    assert (result["sent"], result["deferred"], result["remaining"]) == (1, 1, 1)
    row = outbox(ccrm)["ada@example.com"]
    assert row["status"] == "queued" and "451" in row["error"]
    assert get_campaign(ccrm, campaign)["status"] == "sending"

    again = send(ccrm, campaign, url=smtp.url, backoff=NO_WAIT, sleep=lambda s: None)
    assert (again["sent"], again["remaining"]) == (1, 0)
    assert get_campaign(ccrm, campaign)["status"] == "sent"
    assert sorted(m["to"][0] for m in smtp.handler.messages) == ["ada@example.com", "juergen@example.de"]


def test_a_permanent_failure_marks_the_recipient_failed_with_the_reply(ccrm, people, campaign, smtp):
    smtp.handler.replies["juergen@example.de"] = ["550 5.1.1 no such mailbox"]
    result = send(ccrm, campaign, url=smtp.url, backoff=NO_WAIT, sleep=lambda s: None)
    assert (result["sent"], result["failed"], result["remaining"]) == (1, 1, 0)
    row = outbox(ccrm)["juergen@example.de"]
    assert (row["status"], row["error"], row["attempts"]) == ("failed", "550 5.1.1 no such mailbox", 1)
    assert [m["to"] for m in smtp.handler.messages] == [["ada@example.com"]]
    assert send(ccrm, campaign, url=smtp.url)["sent"] == 0  # a failed recipient is not tried again


def test_rate_limit_spaces_the_messages(ccrm, segments, smtp):
    from crmcore.entities import Contact

    ids = ccrm.add_many([Contact(email=f"r{i}@example.com", consent=True) for i in range(5)])
    segments.segments["five"] = ids
    create_campaign(ccrm, "paced", "five", ["Hi"], "Hi", "", "news@shop.example")
    start = time.monotonic()
    assert send(ccrm, "paced", url=smtp.url, rate=20.0)["sent"] == 5
    assert time.monotonic() - start >= 4 / 20.0  # five messages at 20/s: four gaps of 50 ms at least
    assert len(smtp.handler.messages) == 5


def test_pacer_waits_only_as_long_as_needed():
    now = [100.0]
    slept = []

    def sleep(s):
        slept.append(round(s, 6))
        now[0] += s

    pacer = Pacer(4.0, clock=lambda: now[0], sleep=sleep)
    pacer.wait()           # the first message goes at once
    now[0] += 0.05
    pacer.wait()           # 0.25 s after the first
    now[0] += 1.0
    pacer.wait()           # already late: no wait
    assert slept == [0.2]


def test_ab_subjects_and_the_holdout_split_the_audience_by_their_shares(ccrm, segments, smtp):
    from crmcore.entities import Contact

    ids = ccrm.add_many([Contact(email=f"p{i}@example.com", consent=True) for i in range(100)])
    segments.segments["hundred"] = ids
    create_campaign(ccrm, "ab", "hundred", ["Subject A", "Subject B"], "Hi", "", "news@shop.example", holdout=10, shares=[70, 30])
    send(ccrm, "ab", url=smtp.url)
    counts = {(r["status"], r["variant"]): r["n"] for r in ccrm.store.query(
        "SELECT status, variant, count(*) AS n FROM campaign_outbox GROUP BY status, variant")}
    assert counts == {("holdout", ""): 10, ("sent", "A"): 63, ("sent", "B"): 27}
    subjects = [m["message"]["Subject"] for m in smtp.handler.messages]
    assert (subjects.count("Subject A"), subjects.count("Subject B")) == (63, 27)
    held = {r["email"] for r in ccrm.store.query("SELECT email FROM campaign_outbox WHERE status = 'holdout'")}
    assert not held & {m["to"][0] for m in smtp.handler.messages}


def test_a_subject_that_renders_a_line_break_is_refused_not_sent(ccrm, segments, smtp):
    from crmcore.entities import Contact

    ids = ccrm.add_many([Contact(email="inj@example.com", consent=True, custom={"nick": "x\r\nBcc: victim@example.org"}),
                         Contact(email="ok@example.com", consent=True, custom={"nick": "fine"})])
    segments.segments["two"] = ids
    create_campaign(ccrm, "inject", "two", ["Hi {{ custom.nick }}"], "Hi", "", "news@shop.example")
    result = send(ccrm, "inject", url=smtp.url)
    assert (result["sent"], result["failed"]) == (1, 1)
    assert [m["to"] for m in smtp.handler.messages] == [["ok@example.com"]]
    assert "line break" in outbox(ccrm)["inj@example.com"]["error"]


def test_without_a_base_url_the_unsubscribe_header_is_a_mailto(ccrm, people, campaign, smtp):
    ccrm.set_setting("base_url", "")
    send(ccrm, campaign, url=smtp.url)
    ada = smtp.handler.to("ada@example.com")[0]
    assert ada["List-Unsubscribe"] == "<mailto:news@shop.example?subject=unsubscribe>"
    assert ada["List-Unsubscribe-Post"] is None  # RFC 8058 one-click needs an https link


def test_file_transport_writes_private_eml_files(ccrm, people, campaign, tmp_path):
    import email
    import email.policy
    import os
    import stat

    out = tmp_path / "out"
    out.mkdir()
    assert send(ccrm, campaign, url=f"file://{out}")["sent"] == 2
    files = sorted(out.iterdir())
    assert len(files) == 2 and all(f.suffix == ".eml" for f in files)
    assert all(stat.S_IMODE(os.stat(f).st_mode) == 0o600 for f in files)
    parsed = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
    assert sorted(m["To"].addresses[0].addr_spec for m in parsed) == ["ada@example.com", "juergen@example.de"]


def test_a_plugin_adds_a_transport(make_crm, segments, people):
    from crmcore import hookimpl

    import crm_campaigns

    got = []

    class Sms:
        @hookimpl
        def crm_register_transports(self, register):
            register("sms", lambda url: Recorder(), "text messages")

    class Recorder:
        def send(self, message, sender, recipient):
            got.append((recipient, message["Subject"]))

        def close(self):
            pass

    crm = make_crm(plugins=[crm_campaigns, ("segments", segments), ("sms", Sms())], name="crm.db")
    create_campaign(crm, "sms", "news", ["Hi {{ first_name }}"], "Hi", "", "news@shop.example")
    assert send(crm, "sms", url="sms://gateway")["sent"] == 2
    assert sorted(got) == [("ada@example.com", "Hi Ada"), ("juergen@example.de", "Hi Jürgen")]


def test_a_base_url_that_would_break_the_header_fails_the_message_instead(ccrm, people, campaign, smtp):
    ccrm.set_setting("base_url", "https://crm.example.com\r\nBcc: victim@example.org")
    result = send(ccrm, campaign, url=smtp.url)
    assert (result["sent"], result["failed"]) == (0, 2)
    assert smtp.handler.messages == []
    assert "cannot go into a header" in outbox(ccrm)["ada@example.com"]["error"]


def test_a_second_sender_of_the_same_campaign_is_refused_while_the_first_runs(ccrm, people, campaign, smtp):
    import os
    import socket

    import pytest
    from crmcore import CRMError

    cid = get_campaign(ccrm, campaign)["id"]
    alive = {"host": socket.gethostname(), "pid": os.getppid(), "token": "other", "until": time.time() + 60}
    ccrm.set_setting(f"campaigns.sender.{cid}", alive)
    with pytest.raises(CRMError, match="being sent by another process"):
        send(ccrm, campaign, url=smtp.url)
    assert smtp.handler.messages == [] and ccrm.store.query_value("SELECT count(*) FROM campaign_outbox") == 0

    import subprocess
    import sys

    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    gone = dict(alive, pid=finished.pid)  # that process has ended: the sender was killed
    ccrm.set_setting(f"campaigns.sender.{cid}", gone)
    assert send(ccrm, campaign, url=smtp.url)["sent"] == 2
    assert ccrm.get_setting(f"campaigns.sender.{cid}") is None  # released at the end


def test_run_due_resumes_a_campaign_left_with_queued_mail(ccrm, people, campaign, smtp, monkeypatch):
    from crmcore.jobs import run_due

    smtp.handler.replies["ada@example.com"] = ["451 4.3.0 try later"] * 3
    send(ccrm, campaign, url=smtp.url, backoff=NO_WAIT, sleep=lambda s: None)
    assert outbox(ccrm)["ada@example.com"]["status"] == "queued"
    monkeypatch.setenv("CRM_SMTP_URL", smtp.url)
    ran = run_due(ccrm, only=["campaigns.resume"])
    assert outbox(ccrm)["ada@example.com"]["status"] == "sent", ran
    assert len(smtp.handler.to("ada@example.com")) == 1
