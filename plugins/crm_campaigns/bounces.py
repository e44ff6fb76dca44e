"""Bounces that come back as mail: delivery status notifications (RFC 3464)
read from an mbox file or a Maildir folder.

A DSN names the recipient (``Final-Recipient``), what happened (``Action``,
``Status``) and usually carries the original message or its headers, whose
``Message-ID`` finds the outbox row it answers (else the address's latest
sent row). A hard bounce (``Action: failed``, status ``5.x.x``) marks the row
``bounced`` with the status and the server's diagnostic; an address with
``suppress_after`` hard bounces over all campaigns goes on the suppression
list for good. Soft bounces (``4.x.x``, ``delayed``) are counted, nothing
more. Importing the same mailbox again changes nothing.
"""

import email
import email.policy
import os

from crmcore import CRMError, normalize

HARD = "bounced"


def _messages(path):
    import mailbox

    if os.path.isdir(path):
        if not os.path.isdir(os.path.join(path, "cur")) and not os.path.isdir(os.path.join(path, "new")):
            raise CRMError(f"{path}: a folder must be a Maildir (with cur/ and new/)")
        box = mailbox.Maildir(path, factory=None, create=False)
    elif os.path.isfile(path):
        box = mailbox.mbox(path, create=False)
    else:
        raise CRMError(f"no mailbox {path} (an mbox file or a Maildir folder)")
    try:
        for key in box.keys():
            yield email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
    except (OSError, UnicodeError) as exc:
        raise CRMError(f"{path}: cannot read the mailbox: {exc}") from None


def _field(block, name):
    value = block.get(name)
    return str(value).strip() if value is not None else ""


def _address(value):
    """``rfc822; user@example.com`` -> ``user@example.com`` (canonical), or ``None``."""
    value = value.split(";", 1)[1] if ";" in value else value
    try:
        return normalize.email(value.strip().strip("<>"))
    except ValueError:
        return None


def parse_dsn(message):
    """``[{recipient, action, status, diagnostic, message_id}]`` of a delivery
    status notification; ``[]`` for any other message."""
    if message.get_content_type() != "multipart/report":
        return []
    status_blocks, original_id = [], None
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            payload = part.get_payload()
            status_blocks = payload if isinstance(payload, list) else []
        elif kind == "message/rfc822" and original_id is None:
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if hasattr(inner, "get"):
                original_id = _field(inner, "Message-ID") or None
        elif kind == "text/rfc822-headers" and original_id is None:
            headers = email.message_from_string(part.get_content(), policy=email.policy.default)
            original_id = _field(headers, "Message-ID") or None
    found = []
    for block in status_blocks[1:]:  # the first block is about the message, the others one recipient each
        recipient = _address(_field(block, "Final-Recipient") or _field(block, "Original-Recipient"))
        if recipient is None:
            continue
        diagnostic = _field(block, "Diagnostic-Code")
        diagnostic = diagnostic.split(";", 1)[1].strip() if ";" in diagnostic else diagnostic
        found.append({"recipient": recipient, "action": _field(block, "Action").lower(), "status": _field(block, "Status"),
                      "diagnostic": " ".join(diagnostic.split())[:500], "message_id": original_id})
    return found


def is_hard(report):
    return report["action"] == "failed" and report["status"].startswith("5")


def import_bounces(crm, path, suppress_after=1):
    """Read ``path`` and record its bounces; returns the counts and the addresses suppressed."""
    if suppress_after < 1:
        raise CRMError("--suppress-after must be 1 or more")
    counts = {"messages": 0}
    reports = []
    for message in _messages(path):
        counts["messages"] += 1
        reports.extend(parse_dsn(message))
    return {**counts, **record_bounces(crm, reports, suppress_after)}


def record_bounces(crm, reports, suppress_after=1):
    """Mark the outbox rows that bounced (``reports`` as ``parse_dsn`` gives
    them), and suppress an address with ``suppress_after`` hard bounces.
    Returns the counts and the addresses suppressed."""
    counts = {"reports": 0, "hard": 0, "soft": 0, "unmatched": 0, "already": 0}
    hard_addresses = set()
    store = crm.store
    with store.transaction():
        for report in reports:
            counts["reports"] += 1
            if not is_hard(report):
                counts["soft"] += 1
                continue
            row = None
            if report.get("message_id"):
                rows = store.query("SELECT id, email, status FROM campaign_outbox WHERE message_id = ?", (report["message_id"],))
                row = rows[0] if rows else None
            if row is None:
                rows = store.query("SELECT id, email, status FROM campaign_outbox WHERE email = ? AND status IN ('sent', 'bounced') "
                                   "ORDER BY sent_at DESC, id DESC LIMIT 1", (report["recipient"],))
                row = rows[0] if rows else None
            if row is None:
                counts["unmatched"] += 1
                continue
            if row["status"] == HARD:
                counts["already"] += 1
            else:
                store.execute("UPDATE campaign_outbox SET status = ?, error = ? WHERE id = ?",
                              (HARD, f"{report['status']} {report['diagnostic']}".strip()[:1000], row["id"]))
                counts["hard"] += 1
            hard_addresses.add(row["email"])
        suppressed = []
        for address in sorted(hard_addresses):
            bounces = store.query_value("SELECT count(*) FROM campaign_outbox WHERE email = ? AND status = ?", (address, HARD))
            if bounces >= suppress_after and not crm.is_suppressed(address):
                crm.suppress(address, reason=f"bounced ({bounces} hard bounces)")
                suppressed.append(address)
    return {**counts, "suppressed": suppressed}
