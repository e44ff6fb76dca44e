"""Personalised messages: sandboxed Jinja2 templates and MIME built with the
standard library's ``email`` package.

Templates run in the same sandbox as the CRM's reports
(``crmcore.template_environment``): the HTML body is autoescaped, the
subject and the plain-text body are not (they are not HTML). Header values
never go into a message as raw text: addresses become
``email.headerregistry.Address`` objects (non-ASCII names are RFC 2047
encoded), and a rendered subject holding a line break is refused.
"""

import email.utils
import re
from email.headerregistry import Address
from email.message import EmailMessage
from email import policy

from crmcore import CRMError, normalize

ONE_CLICK = "List-Unsubscribe=One-Click"
MAX_TEMPLATE = 1_000_000
_LINE_BREAK = re.compile(r"[\r\n\x00\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


class MessageError(Exception):
    """This recipient's message cannot be built (the reason is one line)."""


# -- addresses -------------------------------------------------------------------


def parse_from(value, where="--from"):
    """``'Shop <news@shop.example>'`` or a bare address -> the canonical header
    text; a one-line error for anything else (two addresses, line breaks, a
    broken address)."""
    value = str(value or "").strip()
    if not value:
        raise CRMError(f"{where}: a sender address is needed, e.g. --from 'Shop <news@shop.example>'")
    if _LINE_BREAK.search(value):
        raise CRMError(f"{where}: {value!r} contains a line break")
    probe = EmailMessage(policy=policy.default)
    try:
        probe["From"] = value
        header = probe["From"]
        addresses = header.addresses
    except Exception as exc:  # the header parser's own complaint
        raise CRMError(f"{where}: {value!r} is not an address: {exc}") from None
    if len(addresses) != 1 or header.defects:
        raise CRMError(f"{where}: {value!r} must be one address, e.g. 'Shop <news@shop.example>'")
    found = addresses[0]
    try:
        addr = normalize.email(found.addr_spec)
    except ValueError as exc:
        raise CRMError(f"{where}: {exc}") from None
    return str(_address(found.display_name, addr))


def _address(name, addr):
    """An ``Address`` with a cleaned display name and an ASCII (IDNA) domain."""
    name = _CONTROL.sub(" ", str(name or "")).strip()
    ascii_addr = normalize.email_ascii(addr)
    local, _, domain = ascii_addr.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def sender_parts(from_header):
    """``(display name, address)`` of a stored ``from_addr``."""
    name, addr = email.utils.parseaddr(from_header)
    return name, addr


def message_domain(from_header):
    return sender_parts(from_header)[1].rpartition("@")[2] or "localhost"


# -- templates -------------------------------------------------------------------


def environments(crm):
    """``(text, html)`` sandboxed environments with the reports' filters
    (``number``, ``money``, ``percent``); the text one does not escape."""
    html = crm_template_environment(crm)
    return html.overlay(autoescape=False), html


def crm_template_environment(crm):
    from crmcore import template_environment

    return template_environment(crm)


def compile_template(env, source, what):
    """A compiled template; a syntax error is one line naming ``what`` and the line."""
    import jinja2

    if len(source) > MAX_TEMPLATE:
        raise CRMError(f"{what}: longer than {MAX_TEMPLATE:,} characters")
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise CRMError(f"{what}: line {exc.lineno}: {exc.message}") from None


def render(template, context, what):
    """Render in the sandbox; a refused or failing template raises ``MessageError``."""
    import jinja2

    try:
        return template.render(context)
    except jinja2.exceptions.SecurityError as exc:
        raise MessageError(f"{what}: refused by the sandbox: {exc}") from None
    except jinja2.UndefinedError as exc:
        raise MessageError(f"{what}: {exc.message} (use | default('') for a value some contacts lack)") from None
    except jinja2.TemplateError as exc:
        raise MessageError(f"{what}: {exc}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise MessageError(f"{what}: {exc}") from None


# -- the message -------------------------------------------------------------------


def build_message(*, sender, to_email, to_name, subject, text, html, message_id, unsubscribe_url=None,
                  unsubscribe_mailto=None, date=None):
    """An ``EmailMessage`` ready for SMTP: a plain-text part (and an HTML
    alternative), ``List-Unsubscribe`` (with RFC 8058 ``List-Unsubscribe-Post``
    when there is an https link), a stable ``Message-ID``."""
    if _LINE_BREAK.search(subject):
        raise MessageError("the rendered subject contains a line break")
    for what, value in (("unsubscribe link", unsubscribe_url), ("unsubscribe address", unsubscribe_mailto),
                        ("Message-ID", message_id.strip("<>"))):
        if value and (_LINE_BREAK.search(value) or any(ch in value for ch in ' <>"')):
            raise MessageError(f"the {what} {value!r} cannot go into a header (check the base_url setting)")
    subject = subject.strip()
    if not subject:
        raise MessageError("the rendered subject is empty")
    try:
        to = _address(to_name, normalize.email(to_email))
    except (ValueError, IndexError) as exc:
        raise MessageError(f"recipient address: {exc}") from None
    name, addr = sender_parts(sender)
    msg = EmailMessage(policy=policy.SMTP)
    try:
        msg["From"] = _address(name, addr)
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = date or email.utils.format_datetime(email.utils.localtime())
        msg["Message-ID"] = message_id
        links = [f"<{unsubscribe_url}>"] if unsubscribe_url else []
        if unsubscribe_mailto:
            links.append(f"<{unsubscribe_mailto}>")
        if links:
            msg["List-Unsubscribe"] = ", ".join(links)
        if unsubscribe_url and unsubscribe_url.startswith("https://"):
            msg["List-Unsubscribe-Post"] = ONE_CLICK
        # quoted-printable keeps the message 7-bit clean with short lines,
        # whatever the server says about 8BITMIME and whatever the template's line length
        msg.set_content(text if text.endswith("\n") else text + "\n", cte="quoted-printable")
        if html:
            msg.add_alternative(html, subtype="html", cte="quoted-printable")
    except (ValueError, TypeError) as exc:  # the email package refusing a value
        raise MessageError(f"cannot build the message: {exc}") from None
    return msg


def normalize_envelope(address):
    """The SMTP envelope form of an address (domain in IDNA/ASCII)."""
    try:
        return normalize.email_ascii(normalize.email(address))
    except ValueError as exc:
        raise MessageError(f"address {address!r}: {exc}") from None
