"""The mail importer on a corpus of real-shaped mails: threading, idempotent
re-import, auto-replies and bounces, charsets, HTML, attachments; IMAP fetch
against a stand-in for imaplib."""

import json
import mailbox
import os

import pytest

import crm_service
from crm_service import cases, mailin
from crmcore import CRMError, hookimpl

import service_mails as mails

LARGE = bytes(range(256)) * (2 * 1024 * 1024 // 256)  # 2 MiB


def corpus():
    first = mails.plain("<m1@ada.example>", "Ada Lovelace <ada@example.com>", "Kettle leaks", "My kettle leaks.\nPlease help.")
    return [
        first,
        mails.alternative("<m2@bob.example>", "Bob <bob@example.com>", "Invoice question", "Why two invoices?",
                          "<p>Why <b>two</b> invoices?</p>", minutes=5),
        mails.html_only("<m3@cy.example>", "cy@example.com", "Order late",
                        "<html><head><style>p{}</style></head><body><p>Where is my order&nbsp;#42?</p><p>Thanks</p></body></html>",
                        minutes=6),
        mails.legacy_charset("<m4@dora.example>", "=?iso-8859-1?q?D=F6rte_M=FCller?= <doerte@example.de>",
                             "Reklamation", "Grüße aus Köln, der Wasserkocher ist undicht.", "iso-8859-1", minutes=7),
        mails.legacy_charset("<m5@ivan.example>", "ivan@example.ru", "Чайник", "Чайник течёт.", "koi8-r", minutes=8),
        mails.forwarded("<m6@eve.example>", "eve@example.com", "Fwd: complaint from my husband", "See below.",
                        mails.plain("<inner@x.example>", "carl@example.com", "complaint", "The lid is loose."), minutes=9),
        mails.plain("<m7@ada.example>", "ada@example.com", "Out of office", "I am away.", minutes=10,
                    Auto_Submitted="auto-replied"),
        mails.plain("<m8@ada.example>", "ada@example.com", "Automatic reply", "Away.", minutes=11, X_Autoreply="yes"),
        mails.plain("<m9@news.example>", "news@example.com", "Newsletter", "Deals!", minutes=12, Precedence="bulk"),
        mails.bounce("<b1@mx.shop.example>", "gone@example.com", minutes=13),
        mails.with_attachment("<m10@bob.example>", "bob@example.com", "Photo of the damage", "See attached.",
                              "../damage photo.bin", LARGE, minutes=14),
        # Ada answers by In-Reply-To; Bob's mail client mangles References but keeps the tag in the subject.
        mails.plain("<m11@ada.example>", "ada@example.com", "Re: Kettle leaks", "Still leaking.", minutes=20,
                    In_Reply_To="<m1@ada.example>"),
        mails.plain("<m12@bob.example>", "bob@example.com", "Re: [#2] Invoice question", "Any answer?", minutes=21,
                    References="<m2@bob.example <<broken> garbage"),
        mails.plain("<m13@cy.example>", "cy@example.com", "Re: Order late", "Hello?", minutes=22,
                    References="<unknown@x.example> <m3@cy.example>"),
    ]


def write_maildir(path, messages):
    box = mailbox.Maildir(str(path), create=True)
    for m in messages:
        box.add(m.as_bytes())
    box.close()
    return str(path)


class Bounces:
    def __init__(self):
        self.seen = []

    @hookimpl
    def crm_mail_bounced(self, crm, bounces):
        self.seen.extend(bounces)


@pytest.fixture
def imported(make_crm, tmp_path):
    listener = Bounces()
    crm = make_crm(plugins=[crm_service, ("listener", listener)])
    crm.add(crm.record_type("contacts")(email="gone@example.com"))
    box = write_maildir(tmp_path / "Maildir", corpus())
    counts = mailin.import_mail(crm, box)
    return crm, counts, box, listener


def by_subject(crm):
    return {r["subject"]: r for r in cases.list_cases(crm)}


def test_the_corpus_opens_cases_threads_replies_and_skips_automatic_mail(imported):
    crm, counts, _, _ = imported
    assert counts == {"mails": 14, "new cases": 7, "replies": 3, "duplicates": 0, "auto-replies": 3, "bounces": 1, "skipped": 0}
    subjects = by_subject(crm)
    assert set(subjects) == {"Kettle leaks", "Invoice question", "Order late", "Reklamation", "Чайник",
                             "Fwd: complaint from my husband", "Photo of the damage"}
    kettle = cases.conversation(crm, subjects["Kettle leaks"]["id"])
    assert [m["body"] for m in kettle["messages"]] == ["My kettle leaks.\nPlease help.", "Still leaking."]
    assert kettle["contact"]["first_name"] == "Ada" and kettle["contact"]["last_name"] == "Lovelace"
    assert kettle["case"]["created_at"] == "2026-11-30T09:00:00"
    invoice = cases.conversation(crm, subjects["Invoice question"]["id"])
    assert [m["body"] for m in invoice["messages"]] == ["Why two invoices?", "Any answer?"]  # by the [#2] tag
    order = cases.conversation(crm, subjects["Order late"]["id"])
    assert [m["body"] for m in order["messages"]] == ["Where is my order #42?\n\nThanks", "Hello?"]


def test_charsets_html_and_forwarded_mail_are_readable(imported):
    crm, _, _, _ = imported
    subjects = by_subject(crm)
    german = cases.conversation(crm, subjects["Reklamation"]["id"])
    assert german["messages"][0]["body"] == "Grüße aus Köln, der Wasserkocher ist undicht."
    assert german["contact"]["first_name"] == "Dörte"
    assert cases.conversation(crm, subjects["Чайник"]["id"])["messages"][0]["body"] == "Чайник течёт."
    fwd = cases.conversation(crm, subjects["Fwd: complaint from my husband"]["id"])["messages"][0]
    assert fwd["body"] == "See below."
    (attachment,) = fwd["attachments"]
    assert attachment["content_type"] == "message/rfc822" and attachment["filename"].endswith(".eml")
    from crm_service.files import full_path

    with open(full_path(crm, attachment["path"]), "rb") as f:
        assert b"The lid is loose." in f.read()
    assert [r["id"] for r in cases.search(crm, "wasserkocher")] == [subjects["Reklamation"]["id"]]


def test_a_large_attachment_is_a_private_file_beside_the_database(imported):
    crm, _, _, _ = imported
    case = by_subject(crm)["Photo of the damage"]
    (message,) = cases.conversation(crm, case["id"])["messages"]
    (attachment,) = message["attachments"]
    assert attachment["filename"] == "../damage photo.bin" and attachment["size"] == len(LARGE)
    from crm_service.files import full_path, root

    path = full_path(crm, attachment["path"])
    assert os.path.realpath(path).startswith(os.path.realpath(root(crm)))
    assert os.stat(path).st_mode & 0o777 == 0o600
    with open(path, "rb") as f:
        assert f.read() == LARGE
    assert max(len(json.dumps(r, default=str)) for r in crm.store.query("SELECT * FROM service_messages")) < 10_000


def test_the_bounce_is_recorded_and_announced_not_turned_into_a_case(imported):
    crm, _, _, listener = imported
    (bounce,) = crm.store.query("SELECT email, status, action, contact_id FROM service_bounces")
    gone = crm.find_contact("gone@example.com")["id"]
    assert bounce == {"email": "gone@example.com", "status": "5.1.1", "action": "failed", "contact_id": gone}
    assert [(b["email"], b["status"], b["contact_id"]) for b in listener.seen] == [("gone@example.com", "5.1.1", gone)]
    assert "gone@example.com" not in {r["email"] for r in cases.list_cases(crm)}


def test_importing_the_same_mails_again_does_nothing(imported, tmp_path):
    crm, _, box, listener = imported
    before = {t: crm.store.count(t) for t in ("service_cases", "service_messages", "service_attachments", "service_bounces", "contacts")}
    again = mailin.import_mail(crm, box)
    assert again["duplicates"] == 11 and again["new cases"] == again["replies"] == again["bounces"] == 0
    assert {t: crm.store.count(t) for t in before} == before
    assert len(listener.seen) == 1
    # The same mails as an mbox and one as an .eml file: still nothing new.
    mbox = mailbox.mbox(str(tmp_path / "all.mbox"))
    for m in corpus():
        mbox.add(m.as_bytes())
    mbox.close()
    assert mailin.import_mail(crm, str(tmp_path / "all.mbox"))["duplicates"] == 11
    (tmp_path / "one.eml").write_bytes(corpus()[0].as_bytes())
    assert mailin.import_mail(crm, str(tmp_path / "one.eml"))["duplicates"] == 1
    assert {t: crm.store.count(t) for t in before} == before


def test_a_reply_reopens_a_pending_case_and_a_mail_without_message_id_is_imported_once(service_crm, tmp_path):
    mailin.import_raw(service_crm, [corpus()[0].as_bytes()])
    cases.set_status(service_crm, [1], "pending")
    counts = mailin.import_raw(service_crm, [mails.plain("<r@ada.example>", "ada@example.com", "Re: [#1] Kettle leaks", "Here.").as_bytes()])
    assert counts["replies"] == 1 and cases.get_case(service_crm, 1)["status"] == "open"
    raw = b"From: zed@example.com\r\nSubject: no id\r\n\r\nHello\r\n"
    assert mailin.import_raw(service_crm, [raw, raw]) == {"mails": 2, "new cases": 1, "replies": 0, "duplicates": 1,
                                                          "auto-replies": 0, "bounces": 0, "skipped": 0}
    junk = b"Subject: no sender\r\n\r\nHello\r\n"
    assert mailin.import_raw(service_crm, [junk])["skipped"] == 1


def test_our_reply_threads_the_customers_answer_back(service_crm, smtp_server):
    from crm_service.replies import reply

    url, inbox = smtp_server
    mailin.import_raw(service_crm, [corpus()[0].as_bytes()])
    reply(service_crm, 1, "Please send a photo.", smtp=url, sender="help@shop.example", at="2026-11-30T09:30:00")
    sent = inbox.mails[0][2]
    answer = mails.plain("<ans@ada.example>", "ada@example.com", "Re: " + sent["Subject"], "Photo attached.", minutes=60,
                         In_Reply_To=sent["Message-ID"], References=f"<m1@ada.example> {sent['Message-ID']}")
    assert mailin.import_raw(service_crm, [answer.as_bytes()])["replies"] == 1
    assert [m["direction"] for m in cases.conversation(service_crm, 1)["messages"]] == ["inbound", "outbound", "inbound"]


def test_import_mail_command(run_cli, tmp_path):
    box = write_maildir(tmp_path / "box", corpus()[:3])
    run_cli(["init"], plugins="service")
    result = run_cli(["service", "import-mail", box], plugins="service")
    assert result.exit_code == 0 and result.output.startswith("3 mails, 3 new cases, 0 replies, 0 duplicates")
    assert run_cli(["service", "import-mail", box], plugins="service").output.startswith("3 mails, 0 new cases, 0 replies, 3 duplicates")
    (tmp_path / "plain").mkdir()
    result = run_cli(["service", "import-mail", str(tmp_path / "plain")], plugins="service")
    assert result.exit_code == 1 and "not a Maildir" in result.output


# -- IMAP: no pure-Python IMAP server is available to test against, so a stand-in for imaplib ----------


class FakeIMAP:
    """Answers like imaplib.IMAP4_SSL for a mailbox of raw mails with uids."""

    class error(Exception):
        pass

    def __init__(self, mails, password="secret"):
        self.mails = {str(i).encode(): raw for i, raw in enumerate(mails, start=1)}
        self.seen, self.password, self.calls = set(), password, []
        fake = self

        class Conn:
            capabilities = ("IMAP4REV1",)

            def __init__(self, host, port, ssl_context=None):
                fake.calls.append(("connect", host, port))

            def login(self, user, password):
                if password != fake.password:
                    raise FakeIMAP.error("[AUTHENTICATIONFAILED] Invalid credentials")
                return "OK", [b"ok"]

            def select(self, mailbox):
                fake.calls.append(("select", mailbox))
                return ("OK", [b"3"]) if mailbox == '"INBOX"' else ("NO", [b"no such mailbox"])

            def uid(self, command, *args):
                if command == "SEARCH":
                    return "OK", [b" ".join(u for u in fake.mails if u not in fake.seen)]
                if command == "FETCH":
                    out = []
                    for uid in args[0].split(b","):
                        out += [(uid + b" (UID " + uid + b" BODY[] {n}", fake.mails[uid]), b")"]
                    return "OK", out
                if command == "STORE":
                    fake.seen.update(args[0].split(b","))
                    return "OK", []
                raise AssertionError(command)

            def logout(self):
                return "BYE", []

        self.IMAP4_SSL = self.IMAP4 = Conn
        Conn.error = FakeIMAP.error
        self.IMAP4.error = FakeIMAP.error


def test_fetch_imports_unseen_mail_and_marks_it_seen(service_crm):
    fake = FakeIMAP([m.as_bytes() for m in corpus()[:3]])
    counts = mailin.fetch(service_crm, "imaps://help%40shop.example:secret@imap.shop.example/INBOX", imap=fake)
    assert counts["new cases"] == 3 and fake.seen == {b"1", b"2", b"3"}
    assert fake.calls[0] == ("connect", "imap.shop.example", 993)
    assert mailin.fetch(service_crm, "imaps://help%40shop.example:secret@imap.shop.example/INBOX", imap=fake)["mails"] == 0
    with pytest.raises(CRMError, match="the server said: .AUTHENTICATIONFAILED"):
        mailin.fetch(service_crm, "imaps://help:wrong@imap.shop.example/INBOX", imap=FakeIMAP([]))
    with pytest.raises(CRMError, match="no mailbox 'Archive'"):
        mailin.fetch(service_crm, "imaps://help:secret@imap.shop.example/Archive", imap=FakeIMAP([]))
    with pytest.raises(CRMError, match="imaps://user:password@host/INBOX"):
        mailin.parse_imap_url("https://x")


def test_fetch_command_errors_are_one_line(run_cli):
    run_cli(["init"], plugins="service")
    result = run_cli(["service", "fetch", "--imap", "https://imap.example/INBOX"], plugins="service")
    assert result.exit_code == 1 and "imaps://user:password@host/INBOX" in result.output and "Traceback" not in result.output
    result = run_cli(["service", "fetch", "--imap", "imap://help:pw@127.0.0.1:1/INBOX"], plugins="service")
    assert result.exit_code == 1 and "cannot reach the IMAP server imap://help@127.0.0.1:1/INBOX" in result.output
    assert "pw" not in result.output.replace("help@", "")


def test_fetch_from_a_real_imap_server(service_crm, imap_server, run_cli):
    for m in corpus()[:4]:
        imap_server.inbox.add(m.as_bytes())
    url = f"imap://help:secret@127.0.0.1:{imap_server.port}/INBOX"
    counts = mailin.fetch(service_crm, url)
    assert counts["mails"] == 4 and counts["new cases"] == 4
    assert all("\\Seen" in m.flags for m in imap_server.inbox.messages)
    imap_server.inbox.add(corpus()[11].as_bytes())  # Ada's reply
    assert mailin.fetch(service_crm, url) == {"mails": 1, "new cases": 0, "replies": 1, "duplicates": 0, "auto-replies": 0,
                                              "bounces": 0, "skipped": 0}
    with pytest.raises(CRMError, match="the server said: .*LOGIN failed"):
        mailin.fetch(service_crm, url.replace("secret", "wrong"))
    run_cli(["init"], plugins="service")
    imap_server.inbox.add(corpus()[12].as_bytes())
    result = run_cli(["service", "fetch"], plugins="service", env={"CRM_IMAP_URL": url})
    assert result.exit_code == 0 and result.output.startswith("1 mails, 1 new cases"), result.output


def test_malformed_mail_is_read_or_skipped_never_a_crash(service_crm):
    raws = [
        b"From: a@example.com\r\nSubject: nul \x00 here\r\nMessage-ID: <1@x>\r\n\r\nbody\x00with nul\r\n",
        b"From: a@example.com\r\nSubject: no boundary\r\nContent-Type: multipart/mixed\r\nMessage-ID: <2@x>\r\n\r\ntext\r\n",
        b"From: a@example.com\r\nSubject: bad base64\r\nContent-Transfer-Encoding: base64\r\nMessage-ID: <3@x>\r\n\r\n!!!###\r\n",
        b"From: a@example.com\r\nSubject: unknown charset\r\nContent-Type: text/plain; charset=x-unknown-42\r\nMessage-ID: <4@x>\r\n\r\nHall\xf6\r\n",
        b"From: a@example.com\r\nSubject: 8bit \xe4\xf6\xfc latin-1\r\nDate: yesterday-ish\r\nMessage-ID: <5@x>\r\n\r\nx\r\n",
        b"From: \"Weird\" <not-an-address>\r\nSubject: no address\r\nMessage-ID: <6@x>\r\n\r\nx\r\n",
        b"", b"garbage without headers",
    ]
    counts = mailin.import_raw(service_crm, raws)
    assert counts["new cases"] == 5 and counts["skipped"] == 3
    subjects = {r["subject"] for r in cases.list_cases(service_crm)}
    assert {"nul here", "no boundary", "bad base64", "unknown charset"} <= subjects
    assert "8bit äöü latin-1" in subjects
    bodies = [r["body"] for r in service_crm.store.query("SELECT body FROM service_messages ORDER BY id")]
    assert bodies[0] == "bodywith nul" and "Hall" in bodies[3]
