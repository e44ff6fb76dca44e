"""Where campaign messages go: SMTP (``smtp://``, ``smtps://``), ``.eml`` files
(``file://DIR``) and whatever plugins register with ``crm_register_transports``.

A transport's ``send(message, sender, recipient)`` returns only when the other
side has accepted the message; ``TemporaryFailure`` means "try again later"
(SMTP 4xx, a timeout, a dropped connection), ``PermanentFailure`` "never"
(SMTP 5xx), with the server's reply as the message.
"""

import os
import urllib.parse

from crmcore import CRMError

SMTP_ENV = "CRM_SMTP_URL"
DEFAULT_TIMEOUT = 30


class TemporaryFailure(Exception):
    """The message was not accepted now; the same message may be tried again."""


class PermanentFailure(Exception):
    """The message was refused for good (an unknown mailbox, a policy)."""


def redact_url(url):
    """``url`` without its password, for messages and logs."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


class SMTPTransport:
    """One SMTP connection, opened on first use and again after a failure.

    ``smtp://user:pass@host:port`` (port 25 by default) upgrades with STARTTLS
    when the server offers it; ``smtps://`` (port 465) speaks TLS from the
    start. User and password are URL-decoded (``%40`` for ``@``)."""

    def __init__(self, url, timeout=DEFAULT_TIMEOUT):
        parts = urllib.parse.urlsplit(url)
        if not parts.hostname:
            raise CRMError(f"SMTP address {redact_url(url)!r} has no host (smtp://user:pass@host:port)")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        try:
            self.port = parts.port or (465 if self.tls else 25)
        except ValueError:
            raise CRMError(f"SMTP address {redact_url(url)!r} has a bad port") from None
        self.user = urllib.parse.unquote(parts.username) if parts.username else None
        self.password = urllib.parse.unquote(parts.password) if parts.password else ""
        self.timeout = timeout
        self.conn = None
        self.where = f"{parts.scheme}://{self.host}:{self.port}"

    def _connect(self):
        import smtplib
        import ssl

        context = ssl.create_default_context()
        if self.tls:
            conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        conn.ehlo()
        if not self.tls and conn.has_extn("starttls"):
            conn.starttls(context=context)
            conn.ehlo()
        if self.user:
            conn.login(self.user, self.password)
        return conn

    def send(self, message, sender, recipient):
        import smtplib

        try:
            if self.conn is None:
                self.conn = self._connect()
            refused = self.conn.send_message(message, from_addr=sender, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            self._failed(code, reply)
        except smtplib.SMTPAuthenticationError as exc:
            self.close()
            raise CRMError(f"{self.where}: login refused: {exc.smtp_code} {_text(exc.smtp_error)}") from None
        except (smtplib.SMTPConnectError, smtplib.SMTPHeloError) as exc:
            self.close()  # the server, not this recipient: try again later
            raise TemporaryFailure(f"{self.where}: {exc.smtp_code} {_text(exc.smtp_error)}") from None
        except smtplib.SMTPResponseException as exc:  # MAIL FROM or DATA refused
            self._failed(exc.smtp_code, exc.smtp_error)
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentFailure(str(exc)) from None
        except OSError as exc:  # disconnected, timed out, refused, TLS (smtplib's errors are OSErrors)
            self.close()
            raise TemporaryFailure(f"{self.where}: {exc or type(exc).__name__}") from None
        if refused:
            code, reply = next(iter(refused.values()))
            self._failed(code, reply)

    def _failed(self, code, reply):
        text = f"{code} {_text(reply)}"
        if 400 <= code < 500:
            self.close()  # start the retry on a fresh connection
            raise TemporaryFailure(text)
        try:  # the refused transaction is reset; the connection goes on
            self.conn.rset()
        except Exception:
            self.close()
        raise PermanentFailure(text)

    def close(self):
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.quit()
            except Exception:
                try:
                    conn.close()
                except Exception:
                    pass


def _text(reply):
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


class FileTransport:
    """Writes each message as ``DIR/<Message-ID>.eml`` for review (mode 0600,
    atomically); a message sent again replaces its own file."""

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        folder = urllib.parse.unquote((parts.netloc or "") + parts.path)
        if not folder:
            raise CRMError(f"file transport {url!r} needs a folder: file://DIR or file:///abs/dir")
        if not os.path.isdir(folder):
            raise CRMError(f"file transport: folder {folder} does not exist")
        self.folder = folder

    def send(self, message, sender, recipient):
        import tempfile

        name = "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in message["Message-ID"].strip("<>")) + ".eml"
        path = os.path.join(self.folder, name)
        data = message.as_bytes()
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                if os.path.lexists(path) and not os.path.isfile(path):
                    raise PermanentFailure(f"{path} exists and is not a regular file")
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError as exc:
            raise TemporaryFailure(f"cannot write {path}: {exc.strerror}") from None

    def close(self):
        pass


BUILT_IN = {
    "smtp": (SMTPTransport, "SMTP, STARTTLS when the server offers it: smtp://user:pass@host:port"),
    "smtps": (SMTPTransport, "SMTP over TLS: smtps://user:pass@host:465"),
    "file": (FileTransport, "one .eml file per message into a folder, for review: file://DIR"),
}


def transports(crm):
    """``{scheme: (factory, description)}``: the built-in ones and every enabled plugin's."""
    found = dict(BUILT_IN)

    def register(scheme, factory, description=""):
        found[str(scheme).lower()] = (factory, description)

    crm.hook.crm_register_transports(register=register)
    return found


def open_transport(crm, url=None):
    """The transport for ``url`` (else ``CRM_SMTP_URL``); a one-line error when
    none is given or its scheme is unknown."""
    url = url or os.environ.get(SMTP_ENV)
    if not url:
        raise CRMError(f"where should the messages go? give --smtp smtp://user:pass@host:port (or set {SMTP_ENV}); "
                       "file://DIR writes .eml files")
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    known = transports(crm)
    if scheme not in known:
        raise CRMError(f"unknown transport {scheme + '://' if scheme else redact_url(url)!r} (known: {', '.join(sorted(known))})")
    return known[scheme][0](url)
