"""Sending e-mail through an SMTP server: the one place the CRM talks SMTP.

Other plugins (a campaigns plugin, say) reuse it through one function::

    from crm_service.mailer import send_mail
    send_mail(message, url="smtps://user:secret@mail.example.com")   # or CRM_SMTP_URL

``message`` is an ``email.message.EmailMessage`` with From, To and Subject.
The URL is ``smtp://[user:password@]host[:port]`` (port 25 by default, STARTTLS
when the server offers it) or ``smtps://...`` (TLS from the start, port 465).
User and password may be percent-encoded. Failures raise ``CRMError`` with one
line that never shows the password.
"""

import os
import smtplib
import ssl
from urllib.parse import unquote, urlsplit

from crmcore import CRMError

ENV = "CRM_SMTP_URL"


def smtp_url(url=None):
    """The SMTP URL given, else ``CRM_SMTP_URL``, else ``None``."""
    return url or os.environ.get(ENV) or None


def parse_url(url):
    """``{"host", "port", "user", "password", "tls"}`` of an smtp:// or smtps:// URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise CRMError("the SMTP URL is not valid: use smtp://user:password@host:port or smtps://...") from None
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise CRMError(f"the SMTP URL must look like smtp://user:password@host:port or smtps://... (got scheme {parts.scheme!r})")
    tls = parts.scheme == "smtps"
    return {"host": parts.hostname, "port": port or (465 if tls else 25),
            "user": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else "", "tls": tls}


def redact(url):
    """The URL without its password, for messages."""
    settings = parse_url(url)
    user = f"{settings['user']}@" if settings["user"] else ""
    return f"{'smtps' if settings['tls'] else 'smtp'}://{user}{settings['host']}:{settings['port']}"


def send_mail(message, url=None, timeout=30, ssl_context=None):
    """Send ``message`` (an ``EmailMessage``) through the SMTP server at ``url``
    (or ``CRM_SMTP_URL``). Returns when the server accepted it for every
    recipient; raises ``CRMError`` otherwise."""
    url = smtp_url(url)
    if not url:
        raise CRMError(f"no SMTP server to send through: give --smtp smtp://user:password@host:port or set {ENV}")
    settings = parse_url(url)
    where = redact(url)
    context = ssl_context or ssl.create_default_context()
    try:
        if settings["tls"]:
            server = smtplib.SMTP_SSL(settings["host"], settings["port"], timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(settings["host"], settings["port"], timeout=timeout)
        with server:
            server.ehlo()
            if not settings["tls"] and server.has_extn("starttls"):
                server.starttls(context=context)
                server.ehlo()
            if settings["user"]:
                server.login(settings["user"], settings["password"])
            refused = server.send_message(message)
    except smtplib.SMTPAuthenticationError:
        raise CRMError(f"the SMTP server {where} refused the user name or password") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise CRMError(f"the SMTP server {where} refused the recipient(s) {', '.join(exc.recipients)}") from None
    except smtplib.SMTPException as exc:
        raise CRMError(f"sending through {where} failed: {exc}".splitlines()[0]) from None
    except (OSError, ssl.SSLError) as exc:
        raise CRMError(f"cannot reach the SMTP server {where}: {exc.strerror or exc}") from None
    if refused:
        raise CRMError(f"the SMTP server {where} refused the recipient(s) {', '.join(refused)}")
