"""vCard 4.0 (RFC 6350) writer.

The RFC's rules that address books trip over: CRLF line endings (3.2), lines
folded at 75 octets with a leading space on each continuation and never in
the middle of a UTF-8 character (3.2), backslash, comma, semicolon and newline
escaped in values (3.4), and FN present in every card (6.2.1).
"""

import datetime as dt

from .values import country_name, e164

MAX_OCTETS = 75


def escape(value):
    """Escape a text value (or one component of a structured value)."""
    value = str(value)
    value = value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    return value.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def fold(line):
    """Split a content line into physical lines of at most 75 octets each
    (CRLF not counted), breaking only between characters."""
    encoded = line.encode("utf-8")
    if len(encoded) <= MAX_OCTETS:
        return [line]
    lines, current, size, limit = [], [], 0, MAX_OCTETS
    for ch in line:
        width = len(ch.encode("utf-8"))
        if size + width > limit:
            lines.append("".join(current))
            current, size, limit = [" "], 1, MAX_OCTETS
        current.append(ch)
        size += width
    lines.append("".join(current))
    return lines


def formatted_name(contact):
    """FN is mandatory: the name, else the e-mail, company or phone."""
    name = f"{contact.get('first_name') or ''} {contact.get('last_name') or ''}".strip()
    return name or contact.get("email") or contact.get("company") or contact.get("phone") or f"Contact {contact.get('id')}"


def card_lines(contact):
    """The unfolded content lines of one contact's card."""
    c = contact
    lines = ["BEGIN:VCARD", "VERSION:4.0", "FN:" + escape(formatted_name(c)),
             "N:" + ";".join(escape(c.get(k) or "") for k in ("last_name", "first_name")) + ";;;"]
    if c.get("company"):
        lines.append("ORG:" + escape(c["company"]))
    if c.get("job_title"):
        lines.append("TITLE:" + escape(c["job_title"]))
    if c.get("email"):
        lines.append("EMAIL;TYPE=home:" + escape(c["email"]))
    if c.get("phone"):
        number = e164(c["phone"], c.get("country"))
        lines.append(f"TEL;VALUE=uri;TYPE=voice:tel:{number}" if number else "TEL;VALUE=text:" + escape(c["phone"]))
    parts = [c.get("street"), c.get("city"), c.get("region"), c.get("postal_code"), country_name(c.get("country"))]
    if any(parts):
        lines.append("ADR:;;" + ";".join(escape(p or "") for p in parts))
    birth = c.get("birth_date")
    if birth:
        birth = birth if isinstance(birth, dt.date) else dt.date.fromisoformat(str(birth)[:10])
        lines.append(f"BDAY:{birth:%Y%m%d}")
    if c.get("tags"):
        lines.append("CATEGORIES:" + ",".join(escape(t) for t in c["tags"]))
    if c.get("notes"):
        lines.append("NOTE:" + escape(c["notes"]))
    if c.get("updated_at"):
        lines.append("REV:" + str(c["updated_at"]).replace("-", "").replace(":", "")[:15] + "Z")
    lines.append("END:VCARD")
    return lines


def write_vcards(contacts, fileobj):
    """All cards, one after another, CRLF-terminated and folded."""
    for contact in contacts:
        out = []
        for line in card_lines(contact):
            out.extend(fold(line))
        fileobj.write("\r\n".join(out) + "\r\n")
