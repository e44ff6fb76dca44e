"""Fixtures of the campaigns tests: a real SMTP server on 127.0.0.1 (aiosmtpd)
that records every message and can answer chosen recipients with a 4xx or
5xx, a stand-in for the segments plugin, and a CRM with a few contacts."""

import email
import email.policy
import socket
import threading

import pytest

import crm_campaigns
from crmcore import hookimpl
from crmcore.entities import Contact

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")


class Recorder:
    """An aiosmtpd handler: keeps each accepted message; ``replies[address]``
    is a list of SMTP replies given (in turn) to RCPT TO for that address
    before it is accepted, e.g. ``["451 4.3.0 try later"]`` or ``["550 5.1.1 no such user"] * 9``."""

    def __init__(self):
        self.messages = []
        self.replies = {}
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            queue = self.replies.get(address)
            if queue:
                return queue.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "message": parsed})
        return "250 Message accepted for delivery"

    def to(self, address):
        return [m["message"] for m in self.messages if address in m["to"]]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    """A running SMTP server; ``smtp.url`` to send to, ``smtp.handler`` what it got."""
    handler = Recorder()
    controller = aiosmtpd_controller.Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    controller.url = f"smtp://127.0.0.1:{controller.port}"
    try:
        yield controller
    finally:
        controller.stop()


class FakeSegments:
    """Answers segment membership like the segments plugin would."""

    def __init__(self):
        self.segments = {}

    @hookimpl
    def crm_segment_contact_ids(self, crm, name):
        return self.segments.get(name)


@pytest.fixture
def segments():
    return FakeSegments()


@pytest.fixture
def ccrm(make_crm, segments):
    crm = make_crm(plugins=[crm_campaigns, ("segments", segments)])
    crm.set_setting("base_url", "https://crm.example.com")
    return crm


@pytest.fixture
def people(ccrm, segments):
    """Ada and Jürgen consent; Cy has no consent; Dee is suppressed; Eve
    consents but is not in the segment ``news``."""
    ids = ccrm.add_many([
        Contact(first_name="Ada", last_name="Lovelace", email="ada@example.com", consent=True, city="London",
                custom={"shoe_size": 38}),
        Contact(first_name="Jürgen", last_name="Größ, Jr.", email="juergen@example.de", consent=True, city="Köln"),
        Contact(first_name="Cy", last_name="Nope", email="cy@example.com", consent=False),
        Contact(first_name="Dee", last_name="Gone", email="dee@example.com", consent=True),
        Contact(first_name="Eve", last_name="Outside", email="eve@example.com", consent=True),
    ])
    ccrm.suppress("dee@example.com", reason="unsubscribed (test)")
    ccrm.update("contacts", ids[3], {"consent": True})  # consent again, yet the suppression list wins
    segments.segments["news"] = ids[:4]
    return dict(zip(["ada", "juergen", "cy", "dee", "eve"], ids))


TEXT = "Hello {{ first_name }} from {{ city | default('nowhere') }}, size {{ custom.shoe_size | default('?') }}.\nLeave: {{ unsubscribe_url }}\n"
HTML = "<p>Hello {{ first_name }} {{ last_name }}</p><a href=\"{{ unsubscribe_url }}\">leave</a>"


@pytest.fixture
def campaign(ccrm, people):
    from crm_campaigns.campaigns import create_campaign

    create_campaign(ccrm, "spring", "news", ["Spring for {{ first_name }}"], TEXT, HTML, "Shöp <news@shop.example>")
    return "spring"


@pytest.fixture
def parts():
    """``parts(message)``: the ``(text, html)`` bodies of a parsed message, line ends as ``\\n``."""
    return message_parts


def message_parts(message):
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    return tuple(p.get_content().replace("\r\n", "\n") if p else None for p in (text, html))
