"""Answering a case: internal notes, and replies e-mailed to the customer.

A reply is written to the case as an outbox item (``delivery = 'queued'``)
and committed before the SMTP server is asked to take it; it is marked
``sent`` once the server accepted it, or ``failed`` with the reason, and
``crm service send-queued`` tries again. A kill loses nothing and repeats at
most the one mail in flight.

Every reply carries a Message-ID, In-Reply-To and References of the case's
conversation and ``[#ID]`` in the subject, so the customer's answer threads
back into the case (``import-mail``/``fetch``).
"""

import os
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from crmcore import CRMError, normalize

from . import mailer
from .cases import TAG, add_internal_note, add_message, get_case, transition

FROM_ENV = "CRM_SERVICE_FROM"
FROM_SETTING = "service.from"


class NotSent(CRMError):
    """The reply is saved (``failed``) but the SMTP server did not take it; ``message_id`` names it."""

    def __init__(self, text, message_id):
        super().__init__(text)
        self.message_id = message_id


def sender_address(crm, sender=None):
    sender = sender or os.environ.get(FROM_ENV) or crm.get_setting(FROM_SETTING)
    if not sender:
        raise CRMError(f"who do replies come from? give --from support@example.com or set {FROM_ENV}")
    try:
        return normalize.email(sender)
    except ValueError:
        raise CRMError(f"--from {sender!r} is not an e-mail address") from None


def tagged_subject(case):
    subject = TAG.sub("", case["subject"]).strip()
    return f"[#{case['id']}] {subject}"


def reply(crm, case_id, body, internal=False, smtp=None, sender=None, at=None, queue_without_smtp=False):
    """Add a reply to a case: an internal note, or an e-mail to the customer.

    Returns the message id. A failed send keeps the reply (``failed``) and
    raises ``NotSent`` (a ``CRMError``) saying so. Without an SMTP server the
    reply is refused, or with ``queue_without_smtp`` (the web's reply box)
    left queued for ``crm service send-queued``."""
    case = get_case(crm, case_id)
    body = normalize.long_text(body)
    if not body:
        raise CRMError("a reply needs a body: --body TEXT, --body-file FILE or --macro NAME")
    if internal:
        return add_internal_note(crm, case["id"], body)
    contact = crm.get("contacts", case["contact_id"]) if case["contact_id"] else None
    if not contact or not contact["email"]:
        raise CRMError(f"case #{case['id']}: the customer has no e-mail address; add an --internal note instead")
    url = mailer.smtp_url(smtp)
    if not url and not queue_without_smtp:
        raise CRMError(f"no SMTP server to send the reply through: give --smtp smtp://user:password@host:port or set {mailer.ENV}")
    if url:
        mailer.parse_url(url)
    sender = sender_address(crm, sender)
    at = at or normalize.now()
    with crm.store.transaction():
        mid = queue_mail(crm, case, body, sender, at)
        transition(crm, case, status="open" if case["status"] == "new" else None, at=at, responded=True)
    if url:
        deliver(crm, mid, url)
    return mid


def queue_mail(crm, case, body, sender, at, subject=None):
    """Add an outbound e-mail to the case's conversation as queued (the outbox);
    threading headers follow the conversation. Returns the message id."""
    earlier = crm.store.query(
        "SELECT message_id FROM service_messages WHERE case_id = ? AND message_id IS NOT NULL ORDER BY at, id", (case["id"],))
    ids = [r["message_id"] for r in earlier]
    inbound = crm.store.query_value(
        "SELECT message_id FROM service_messages WHERE case_id = ? AND direction = 'inbound' AND message_id IS NOT NULL "
        "ORDER BY at DESC, id DESC LIMIT 1", (case["id"],))
    message_id = make_msgid(idstring=f"case{case['id']}", domain=sender.rpartition("@")[2])
    subject = subject or (("Re: " if inbound else "") + tagged_subject(case))
    return add_message(crm, case["id"], "outbound", body, author=sender, subject=subject, message_id=message_id,
                       in_reply_to=inbound or (ids[-1] if ids else ""), refs=" ".join(ids[-20:]), at=at, delivery="queued")


def build_mail(message, to):
    """The ``EmailMessage`` of a stored outbound message."""
    mail = EmailMessage()
    mail["From"] = message["author"]
    mail["To"] = to
    mail["Subject"] = message["subject"]
    mail["Message-ID"] = message["message_id"]
    if message["in_reply_to"]:
        mail["In-Reply-To"] = message["in_reply_to"]
    if message["refs"]:
        mail["References"] = message["refs"]
    from datetime import datetime, timezone

    mail["Date"] = format_datetime(datetime.fromisoformat(message["at"]).replace(tzinfo=timezone.utc))
    mail["Auto-Submitted"] = "no"
    mail.set_content(message["body"])
    return mail


def deliver(crm, message_id, url=None):
    """Send one queued (or failed) outbound message; marks it sent or failed."""
    message = crm.store.get("service_messages", message_id)
    to = crm.store.query_value(
        "SELECT p.email FROM service_cases c JOIN contacts p ON p.id = c.contact_id WHERE c.id = ?", (message["case_id"],))
    try:
        if not to:
            raise CRMError(f"case #{message['case_id']}: the customer has no e-mail address any more")
        mailer.send_mail(build_mail(message, to), url)
    except CRMError as exc:
        crm.update("service_messages", message_id, {"delivery": "failed", "error": str(exc)[:500]})
        raise NotSent(f"reply {message_id} to case #{message['case_id']} is saved but was not sent: {exc}; "
                      "try again with crm service send-queued", message_id) from None
    crm.update("service_messages", message_id, {"delivery": "sent", "error": ""})


def send_queued(crm, url=None, case_id=None):
    """Send every queued or failed e-mail (of one case, or all); returns ``(sent, failed)``."""
    sent = failed = 0
    sql = "SELECT id FROM service_messages WHERE delivery IN ('queued', 'failed')"
    params = ()
    if case_id is not None:
        sql += " AND case_id = ?"
        params = (case_id,)
    for r in crm.store.query(sql + " ORDER BY id", params):
        try:
            deliver(crm, r["id"], url)
            sent += 1
        except CRMError:
            failed += 1
    return sent, failed
