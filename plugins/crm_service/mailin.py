"""Mail into cases: .eml files, mbox files, Maildir folders (and IMAP, ``fetch``).

For each mail:

- a Message-ID already in the database (as a message or a bounce) is skipped,
  so importing the same mail twice does nothing; a mail without one gets a
  stable id from a hash of its bytes;
- a delivery status notification (``multipart/report; report-type=delivery-status``)
  is a *bounce*: recorded against the failed address and announced through
  ``crm_mail_bounced``, never a case;
- an auto-reply (``Auto-Submitted`` other than ``no``, ``X-Autoreply``,
  ``X-Autorespond``, ``Precedence: bulk/auto_reply/junk``) is skipped;
- a reply joins its case, found by In-Reply-To/References (any id the case
  already holds) or a ``[#ID]`` tag in the subject; otherwise the mail opens
  a new case;
- the sender is matched to a contact by e-mail, or a contact is created;
- attachments are written as files beside the database (``files.py``).
"""

import email
import email.errors
import email.policy
import hashlib
import mailbox
import os
import re
from email.utils import getaddresses, parsedate_to_datetime

from crmcore import CRMError, normalize

from . import files
from . import sla as sla_module
from .cases import TAG, add_message, contact_for, open_case, record_inbound
from .records import Attachment, Bounce

MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
AUTO_PRECEDENCE = ("bulk", "auto_reply", "junk", "list")
BATCH = 200  # mails per transaction


# -- reading sources ------------------------------------------------------------------


def read_source(path):
    """Raw mails (bytes) of an .eml file, an mbox file or a Maildir folder."""
    if os.path.isdir(path):
        if not all(os.path.isdir(os.path.join(path, sub)) for sub in ("cur", "new")):
            raise CRMError(f"{path} is a folder but not a Maildir (it has no cur/ and new/)")
        return _maildir(path)
    try:
        with open(path, "rb") as f:
            head = f.read(5)
    except OSError as exc:
        raise CRMError(f"cannot read {path}: {exc.strerror}") from None
    if head == b"From ":
        return _mbox(path)
    return _single(path)


def _maildir(path):
    for sub in ("cur", "new"):
        folder = os.path.join(path, sub)
        for name in sorted(os.listdir(folder)):
            if name.startswith("."):
                continue
            full = os.path.join(folder, name)
            if os.path.isfile(full):
                with open(full, "rb") as f:
                    yield f.read()


def _mbox(path):
    box = mailbox.mbox(path, create=False)
    try:
        for key in box.iterkeys():
            yield box.get_bytes(key)
    finally:
        box.close()


def _single(path):
    with open(path, "rb") as f:
        yield f.read()


def count_source(path):
    """How many mails a source holds (for the progress bar), or ``None`` for one file."""
    if os.path.isdir(path) and all(os.path.isdir(os.path.join(path, s)) for s in ("cur", "new")):
        return sum(len([n for n in os.listdir(os.path.join(path, s)) if not n.startswith(".")]) for s in ("cur", "new"))
    return None


# -- reading one mail ------------------------------------------------------------------


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def message_ids(text):
    """Message-IDs in a header value, tolerating broken ones (no angle brackets, junk)."""
    if not text:
        return []
    found = MESSAGE_ID.findall(str(text))
    return [f"<{m}>" for m in found]


_FOLD = re.compile(r"\r?\n[ \t]+")
#: Headers read as decoded text (RFC 2047 words); the others are tokens and ids.
_ENCODED = ("subject", "from")


def _clean(text):
    """Text safe to store: raw 8-bit bytes the parser kept as surrogates are read
    as UTF-8 (or Latin-1 when they are not), NUL bytes dropped."""
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        data = text.encode("utf-8", "surrogateescape")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    return text.replace("\x00", "")


def header(msg, name):
    """A header's first value as text, read from the raw header once per mail.

    Going around the policy's header classes is deliberate: they parse every
    header in full (the import's largest cost), and a malformed one raises;
    here a header is its unfolded text, with encoded words decoded for
    Subject and From."""
    cache = getattr(msg, "_crm_headers", None)
    if cache is None:
        cache = {}
        for key, value in msg.raw_items():
            cache.setdefault(key.lower(), value)
        msg._crm_headers = cache
    name = name.lower()
    value = cache.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    value = _clean(_FOLD.sub(" ", value)).strip()
    if name in _ENCODED and "=?" in value:
        from email.header import decode_header, make_header

        try:
            value = _clean(str(make_header(decode_header(value))))
        except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
            pass
    return value


def own_message_id(msg, raw):
    ids = message_ids(header(msg, "Message-ID"))
    return ids[0] if ids else f"<sha256-{hashlib.sha256(raw).hexdigest()[:40]}@crm.invalid>"


def is_auto_reply(msg):
    auto = header(msg, "Auto-Submitted").strip().lower()
    if auto and auto != "no":
        return True
    if header(msg, "X-Autoreply") or header(msg, "X-Autorespond"):
        return True
    return header(msg, "Precedence").strip().lower() in AUTO_PRECEDENCE


def is_bounce(msg):
    if "report" not in header(msg, "Content-Type").lower():  # cheap: most mails are not reports
        return False
    return msg.get_content_type() == "multipart/report" and msg.get_param("report-type", "").lower() == "delivery-status"


def bounce_details(msg):
    """``[{email, status, action, diagnostic}]`` of each failed recipient of a DSN."""
    found = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if isinstance(blocks, str):  # some parsers leave it as text: read the fields line by line
            blocks = [email.message_from_string(b, policy=email.policy.compat32) for b in re.split(r"\n\s*\n", blocks)]
        for block in blocks[1:] if len(blocks) > 1 else blocks:
            recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
            address = recipient.split(";", 1)[-1].strip().strip("<>")
            if not address:
                continue
            found.append({"email": address.lower(), "status": str(block.get("Status") or "").strip(),
                          "action": str(block.get("Action") or "").strip().lower(),
                          "diagnostic": " ".join(str(block.get("Diagnostic-Code") or "").split())[:500]})
    return found


def sender(msg):
    """``(address, display name)`` of the From header, or ``(None, "")``."""
    try:
        pairs = getaddresses([header(msg, "From")])
    except Exception:
        return None, ""
    for name, address in pairs:
        if address and "@" in address:
            return address, name
    return None, ""


def mail_time(msg):
    """The Date header as a stored UTC timestamp (now when missing, broken or in the future)."""
    now = normalize.now()
    try:
        parsed = parsedate_to_datetime(header(msg, "Date"))
        stamp = normalize.timestamp(parsed)
    except (TypeError, ValueError, IndexError, OverflowError):
        return now
    return min(stamp, now)


class _TextOf:
    """HTML to readable text with the standard library's parser."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table"}

    def __init__(self):
        from html.parser import HTMLParser

        outer = self

        class Parser(HTMLParser):
            def handle_starttag(self, tag, attrs):
                if tag in ("script", "style"):
                    outer.skip += 1
                elif tag in outer.BLOCKS:
                    outer.out.append("\n")

            def handle_endtag(self, tag):
                if tag in ("script", "style"):
                    outer.skip = max(0, outer.skip - 1)
                elif tag in outer.BLOCKS:
                    outer.out.append("\n")

            def handle_data(self, data):
                if not outer.skip:
                    outer.out.append(data)

        self.out, self.skip = [], 0
        self.parser = Parser(convert_charrefs=True)

    def __call__(self, html):
        self.parser.feed(html)
        self.parser.close()
        text = "".join(self.out)
        lines = [" ".join(line.split()) for line in text.splitlines()]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html):
    return _TextOf()(html)


def _decoded_text(part):
    try:
        return part.get_content()
    except (LookupError, UnicodeError, AssertionError, KeyError):  # an unknown or lying charset
        data = part.get_payload(decode=True) or b""
        return data.decode("latin-1", errors="replace")


def body_text(msg):
    """The readable text of a mail: its plain-text part, or its HTML part as text."""
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
    if part is None:
        if msg.get_content_maintype() == "text":
            part = msg
        else:
            return ""
    text = _decoded_text(part)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return _clean(text.replace("\r\n", "\n"))


def attachments(msg):
    """``[(filename, content_type, bytes)]`` of a mail's attachments (a forwarded
    mail attached as message/rfc822 is kept as an .eml file)."""
    found = []
    for n, part in enumerate(msg.iter_attachments(), start=1):
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) else inner
            data = inner.as_bytes(policy=email.policy.default.clone(linesep="\n")) if hasattr(inner, "as_bytes") else bytes(str(inner), "utf-8")
            name = part.get_filename() or f"forwarded-{n}.eml"
        else:
            data = part.get_payload(decode=True) or b""
            name = part.get_filename() or f"attachment-{n}"
        found.append((name, kind, data))
    return found


# -- importing ------------------------------------------------------------------------


def import_mail(crm, path, progress=None):
    """Import every mail of an .eml file, mbox file or Maildir; returns counts
    ``{"mails", "new cases", "replies", "duplicates", "auto-replies", "bounces", "skipped"}``."""
    if not os.path.exists(path):
        raise CRMError(f"{path} does not exist")
    return import_raw(crm, read_source(path), progress=progress, where=path)


def import_raw(crm, raws, progress=None, where="mail"):
    """Import raw mails (an iterable of bytes); the counts of ``import_mail``."""
    counts = {"mails": 0, "new cases": 0, "replies": 0, "duplicates": 0, "auto-replies": 0, "bounces": 0, "skipped": 0}
    sla = sla_module.get_sla(crm)
    batch = []
    for raw in raws:
        batch.append(raw)
        if len(batch) >= BATCH:
            _import_batch(crm, batch, counts, sla, where)
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        _import_batch(crm, batch, counts, sla, where)
        if progress:
            progress(len(batch))
    return counts


def _known(crm, ids):
    if not ids:
        return set()
    marks = ", ".join("?" * len(ids))
    rows = crm.store.query(f"SELECT message_id FROM service_messages WHERE message_id IN ({marks}) "
                           f"UNION SELECT message_id FROM service_bounces WHERE message_id IN ({marks})", [*ids, *ids])
    return {r["message_id"] for r in rows}


def _import_batch(crm, raws, counts, sla, where):
    parsed = []
    for raw in raws:
        msg = parse(raw)
        msg._crm_time = mail_time(msg)
        parsed.append((msg._crm_time, raw, msg, own_message_id(msg, raw)))
    # A Maildir has no order: oldest first, so an original opens its case before the replies to it arrive.
    parsed.sort(key=lambda item: item[0])
    parsed = [item[1:] for item in parsed]
    known = _known(crm, [mid for _, _, mid in parsed])
    bounces = []
    with crm.store.transaction():
        for raw, msg, mid in parsed:
            counts["mails"] += 1
            if mid in known:
                counts["duplicates"] += 1
                continue
            known.add(mid)
            if is_bounce(msg):
                counts["bounces"] += 1
                bounces += _record_bounce(crm, msg, mid)
                continue
            if is_auto_reply(msg):
                counts["auto-replies"] += 1
                continue
            address, name = sender(msg)
            try:
                contact = contact_for(crm, address, name=name, source="email") if address else None
            except CRMError:
                contact = None
            if contact is None:
                counts["skipped"] += 1
                continue
            try:
                kind = _import_one(crm, msg, mid, contact, sla)
            except (ValueError, LookupError, UnicodeError, email.errors.MessageError) as exc:
                # The batch rolls back; the batches before it stay, and a re-run skips them as duplicates.
                raise CRMError(f"{where}: cannot read the mail {mid} (mail {counts['mails']}): {exc}") from None
            counts[kind] += 1
        if bounces:
            crm.emit("crm_mail_bounced", crm=crm, bounces=bounces)


def _thread_case(crm, msg):
    """The case a reply belongs to: by In-Reply-To/References, then by a [#ID] subject tag."""
    ids = message_ids(header(msg, "In-Reply-To")) + list(reversed(message_ids(header(msg, "References"))))
    if ids:
        ids = ids[:50]
        rows = crm.store.query(
            f"SELECT message_id, case_id FROM service_messages WHERE message_id IN ({', '.join('?' * len(ids))})", ids)
        by_id = {r["message_id"]: r["case_id"] for r in rows}
        for i in ids:
            if i in by_id:
                return crm.get("service_cases", by_id[i])
    tag = TAG.search(header(msg, "Subject"))
    if tag:
        return crm.get("service_cases", int(tag.group(1)))
    return None


def _import_one(crm, msg, mid, contact, sla):
    at = msg._crm_time
    subject = normalize.text(header(msg, "Subject")) or "(no subject)"
    body = body_text(msg)
    in_reply_to = " ".join(message_ids(header(msg, "In-Reply-To")))[:500]
    refs = " ".join(message_ids(header(msg, "References"))[-20:])
    case = _thread_case(crm, msg)
    if case is not None and case["status"] != "closed":
        message = record_inbound(crm, case, body, author=contact["email"], subject=subject, message_id=mid,
                                 in_reply_to=in_reply_to, refs=refs, at=at, sla=sla)
        kind, case_id = "replies", case["id"]
    else:
        clean = TAG.sub("", subject).strip() or subject
        case_id = open_case(crm, contact, clean, channel="email", at=at, sla=sla)
        message = add_message(crm, case_id, "inbound", body, author=contact["email"], subject=subject, message_id=mid,
                              in_reply_to=in_reply_to, refs=refs, at=at)
        kind = "new cases"
    rows = []
    for n, (name, kind_, data) in enumerate(attachments(msg), start=1):
        relative = files.save(crm, case_id, message, n, name, data)
        rows.append(Attachment(message_id=message, filename=normalize.text(name)[:200], path=relative,
                               content_type=kind_, size=len(data)))
    if rows:
        crm.add_many(rows)
    return kind


def _record_bounce(crm, msg, mid):
    at = mail_time(msg)
    details = bounce_details(msg)
    made = []
    for n, d in enumerate(details):
        try:
            address = normalize.email(d["email"])
        except ValueError:
            address = d["email"]
        contact_id = crm.store.query_value("SELECT id FROM contacts WHERE email = ?", (address,))
        row = Bounce(email=address, contact_id=contact_id, status=d["status"], action=d["action"] or "failed",
                     diagnostic=d["diagnostic"], message_id=mid if n == 0 else f"{mid[:-1]}#{n}>", at=at)
        crm.add(row)
        made.append({"email": address, "contact_id": contact_id, "status": d["status"], "action": row.action,
                     "diagnostic": d["diagnostic"], "at": at})
    if not details:  # a report we cannot read: keep its id so a re-import skips it
        crm.add(Bounce(email="", status="", action="unreadable", message_id=mid, at=at))
    return made


# -- IMAP ------------------------------------------------------------------------------


def parse_imap_url(url):
    """``{"host", "port", "user", "password", "mailbox", "tls"}`` of imap(s)://user:pass@host[:port]/MAILBOX."""
    from urllib.parse import unquote, urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise CRMError("the IMAP URL is not valid: use imaps://user:password@host/INBOX") from None
    if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
        raise CRMError("the IMAP URL must look like imaps://user:password@host/INBOX (or imap:// for STARTTLS)")
    tls = parts.scheme == "imaps"
    return {"host": parts.hostname, "port": port or (993 if tls else 143), "user": unquote(parts.username),
            "password": unquote(parts.password or ""), "mailbox": unquote(parts.path.lstrip("/")) or "INBOX", "tls": tls}


def fetch(crm, url, imap=None, progress=None):
    """Import the unseen mails of an IMAP mailbox and mark them seen; the counts of ``import_mail``.

    ``imap`` is the ``imaplib`` module (tests pass a stand-in). A mail is
    marked seen only after its batch committed; one left unseen by a crash is
    imported again next time and skipped as a duplicate."""
    import imaplib
    import ssl

    imap = imap or imaplib
    settings = parse_imap_url(url)
    where = f"{'imaps' if settings['tls'] else 'imap'}://{settings['user']}@{settings['host']}:{settings['port']}/{settings['mailbox']}"
    try:
        if settings["tls"]:
            conn = imap.IMAP4_SSL(settings["host"], settings["port"], ssl_context=ssl.create_default_context())
        else:
            conn = imap.IMAP4(settings["host"], settings["port"])
            if "STARTTLS" in getattr(conn, "capabilities", ()):
                conn.starttls(ssl_context=ssl.create_default_context())
        conn.login(settings["user"], settings["password"])
        status, _ = conn.select(_quote_mailbox(settings["mailbox"]))
        if status != "OK":
            raise CRMError(f"{where}: no mailbox {settings['mailbox']!r}")
        status, data = conn.uid("SEARCH", None, "UNSEEN")
        uids = data[0].split() if status == "OK" and data and data[0] else []
        counts = {"mails": 0, "new cases": 0, "replies": 0, "duplicates": 0, "auto-replies": 0, "bounces": 0, "skipped": 0}
        for i in range(0, len(uids), BATCH):
            chunk = uids[i:i + BATCH]
            status, parts = conn.uid("FETCH", b",".join(chunk), "(BODY.PEEK[])")  # one round trip per batch
            if status != "OK":
                raise CRMError(f"{where}: the server would not hand out the mails: {parts}")
            raws = [p[1] for p in parts if isinstance(p, tuple) and len(p) > 1]
            got = import_raw(crm, raws, where=where)
            for k, v in got.items():
                counts[k] += v
            conn.uid("STORE", b",".join(chunk), "+FLAGS", "(\\Seen)")
            if progress:
                progress(len(chunk))
        try:
            conn.logout()
        except Exception:
            pass
        return counts
    except imap.IMAP4.error as exc:
        raise CRMError(f"{where}: the server said: {exc}") from None
    except (OSError, ssl.SSLError) as exc:
        raise CRMError(f"cannot reach the IMAP server {where}: {exc.strerror or exc}") from None


def _quote_mailbox(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
