"""A corpus of real-shaped mails built with the standard library's email package."""

import datetime as dt

from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime

WHEN = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)


def _date(minutes):
    return format_datetime(WHEN + dt.timedelta(minutes=minutes))


def plain(mid, sender, subject, body, minutes=0, **headers):
    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Message-ID"], m["Date"] = sender, "help@shop.example", subject, mid, _date(minutes)
    for k, v in headers.items():
        m[k.replace("_", "-")] = v
    m.set_content(body)
    return m


def alternative(mid, sender, subject, text, html, minutes=0):
    m = plain(mid, sender, subject, text, minutes)
    m.add_alternative(html, subtype="html")
    return m


def html_only(mid, sender, subject, html, minutes=0):
    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Message-ID"], m["Date"] = sender, "help@shop.example", subject, mid, _date(minutes)
    m.set_content(html, subtype="html")
    return m


def legacy_charset(mid, sender, subject, body, charset, minutes=0):
    """A quoted-printable body in a non-UTF-8 charset, as older mail programs send it."""
    import quopri
    from email.message import Message

    m = Message()
    m["From"], m["To"], m["Subject"], m["Message-ID"], m["Date"] = sender, "help@shop.example", subject, mid, _date(minutes)
    m["MIME-Version"] = "1.0"
    m["Content-Type"] = f'text/plain; charset="{charset}"'
    m["Content-Transfer-Encoding"] = "quoted-printable"
    m.set_payload(quopri.encodestring(body.encode(charset)).decode("ascii"))
    return m


def forwarded(mid, sender, subject, note, inner, minutes=0):
    m = plain(mid, sender, subject, note, minutes)
    m.add_attachment(inner)  # message/rfc822
    return m


def with_attachment(mid, sender, subject, body, filename, data, minutes=0):
    m = plain(mid, sender, subject, body, minutes)
    m.add_attachment(data, maintype="application", subtype="octet-stream", filename=filename)
    return m


def bounce(mid, failed_address, minutes=0):
    """A delivery status notification (RFC 3464) for a mail to ``failed_address``."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "MAILER-DAEMON@mx.shop.example"
    report["To"] = "help@shop.example"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Message-ID"] = mid
    report["Date"] = _date(minutes)
    report.attach(MIMEText("This is the mail system. Your message could not be delivered.", "plain"))
    from email.message import Message

    per_message, per_recipient = Message(), Message()
    per_message["Reporting-MTA"] = "dns; mx.shop.example"
    per_recipient["Final-Recipient"] = f"rfc822; {failed_address}"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = "5.1.1"
    per_recipient["Diagnostic-Code"] = f"smtp; 550 5.1.1 <{failed_address}>: Recipient address rejected: User unknown"
    status = Message()
    status.set_type("message/delivery-status")
    status.set_payload([per_message, per_recipient])
    report.attach(status)
    return report
