"""Fixtures of the service desk tests: a CRM with the plugin, the attachments
folder on PostgreSQL, and a local SMTP server that keeps what it receives."""

import socket

import pytest

import crm_service


@pytest.fixture(autouse=True)
def files_dir(request, tmp_path, monkeypatch):
    """A PostgreSQL database has no file beside it: attachments go to a folder of the test."""
    monkeypatch.delenv("CRM_SMTP_URL", raising=False)
    monkeypatch.delenv("CRM_SERVICE_FROM", raising=False)
    if request.config.getoption("--store") == "postgres":
        monkeypatch.setenv("CRM_FILES_DIR", str(tmp_path / "files"))
        return tmp_path / "files" / "service"
    monkeypatch.delenv("CRM_FILES_DIR", raising=False)
    return None


@pytest.fixture
def service_crm(make_crm):
    return make_crm(plugins=[crm_service])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """What the SMTP server accepted: ``(envelope_from, recipients, message)``."""

    def __init__(self):
        self.mails = []

    async def handle_DATA(self, server, session, envelope):
        import email
        import email.policy

        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos),
                           email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)))
        return "250 OK"


@pytest.fixture
def smtp_server():
    """A local SMTP server (aiosmtpd) accepting user ``agent`` / password ``s3cret``;
    yields ``(url, inbox)``."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = getattr(auth_data, "login", None) == b"agent" and getattr(auth_data, "password", None) == b"s3cret"
        return AuthResult(success=ok, handled=False)

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False)
    controller.start()
    try:
        yield f"smtp://agent:s3cret@127.0.0.1:{port}", inbox
    finally:
        controller.stop()


@pytest.fixture
def imap_server():
    """A local IMAP server (Twisted) with user ``help`` / password ``secret``; yields the server (``.port``, ``.inbox.add(raw)``)."""
    from service_imap import Server

    server = Server("help", "secret")
    try:
        yield server
    finally:
        server.stop()
