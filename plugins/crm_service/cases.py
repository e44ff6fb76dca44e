"""Cases and their conversations: the library every command (and later every page) calls.

Writes go through ``crm.add`` / ``crm.update`` (validated, audited, with the
``crm_records_saved`` event) inside one transaction; a status change also
fires the plugin's ``crm_case_status_changed`` event in that transaction.
"""

import re

from crmcore import Contact, CRMError, FieldError, normalize

from . import sla as sla_module
from .records import PRIORITIES, STATUSES, Case, Message

LIST_FIELDS = ["id", "status", "priority", "subject", "contact_id", "email", "assignee", "channel", "sku", "tags",
               "created_at", "first_response_at", "solved_at", "first_response_due", "resolution_due", "breach_at"]
TAG = re.compile(r"\[#(\d{1,18})\]")


def _field_error(exc, where="case"):
    return CRMError(f"{where}: invalid {exc.field}: {exc.reason}")


def get_case(crm, case_id):
    """One case row (a decoded dict); ``CRMError`` when there is none."""
    try:
        case_id = int(str(case_id).lstrip("#"))
    except ValueError:
        raise CRMError(f"{case_id!r} is not a case number") from None
    row = crm.get("service_cases", case_id)
    if row is None:
        raise CRMError(f"no case #{case_id}")
    return row


def contact_for(crm, ref, name="", create=True, source="service"):
    """The contact row for an id or e-mail; a new contact for an unknown e-mail
    (``create``), named from ``name`` ("Ada Lovelace")."""
    ref = str(ref).strip()
    try:
        return crm.find_contact(ref)
    except CRMError:
        if ref.isdigit() or not create:
            raise
    first, _, last = normalize.text(name).partition(" ")
    try:
        cid = crm.add(Contact(email=ref, first_name=first, last_name=last, source=source))
    except (FieldError, ValueError):
        raise CRMError(f"{ref!r} is neither a contact id nor a valid e-mail address") from None
    return crm.get("contacts", cid)


def check_sku(crm, sku):
    """A known product SKU, or ``CRMError``. Needs the products plugin."""
    if not sku:
        return ""
    if not crm.is_enabled("products") or not crm.store.table_exists("products"):
        raise CRMError("--sku needs the products plugin: crm plugins enable products")
    sku = normalize.text(sku)
    if crm.store.query_value("SELECT 1 FROM products WHERE sku = ?", (sku,)) is None:
        raise CRMError(f"no product with SKU {sku!r} (see crm products list)")
    return sku


def open_case(crm, contact, subject, priority="normal", channel="email", sku="", description="", assignee="",
              tags=(), at=None, sla=None):
    """Open a case for ``contact`` (an id, e-mail or contact row); returns the case id.

    A description becomes the case's first inbound message too, so the
    conversation starts with what the customer said."""
    at = at or normalize.now()
    sla = sla or sla_module.get_sla(crm)
    contact = contact if isinstance(contact, dict) else contact_for(crm, contact)
    sku = check_sku(crm, sku)
    try:
        case = Case(contact_id=contact["id"], company_id=contact.get("company_id"), subject=subject, description=description,
                    channel=channel, status="new", priority=priority, assignee=assignee, tags=list(tags), sku=sku,
                    created_at=at, updated_at=at)
    except FieldError as exc:
        raise _field_error(exc) from None
    except ValueError as exc:
        raise CRMError(f"case: {exc}") from None
    clock = sla_module.clock(sla, {"status": "new", "priority": case.priority, "sla_elapsed": 0, "sla_since": None}, at)
    for key, value in clock.items():
        setattr(case, key, value)
    with crm.store.transaction():
        case_id = crm.add(case)
        if description:
            add_message(crm, case_id, "inbound", description, author=contact.get("email") or "", subject=case.subject, at=at)
    return case_id


def add_message(crm, case_id, direction, body, author="", subject="", message_id=None, in_reply_to="", refs="",
                at=None, delivery=""):
    """Append a message to a case's conversation; returns its id."""
    at = at or normalize.now()
    return crm.add(Message(case_id=case_id, direction=direction, author=author, subject=subject, body=body,
                           message_id=message_id, in_reply_to=in_reply_to, refs=refs, delivery=delivery, at=at,
                           created_at=at, updated_at=at))


def transition(crm, case, status=None, priority=None, at=None, responded=False, sla=None, extra=None):
    """Apply a status and/or priority change (and the first response) to one case,
    restarting its SLA clock. Returns ``(saved_row, status_change or None)``."""
    at = at or normalize.now()
    sla = sla or sla_module.get_sla(crm)
    new_status = status or case["status"]
    changes = sla_module.clock(sla, case, at, status=new_status, priority=priority, responded=responded)
    if priority:
        changes["priority"] = priority
    if new_status != case["status"]:
        changes["status"] = new_status
        if new_status == "solved":
            changes["solved_at"] = at
        elif new_status == "closed":
            changes["closed_at"] = at
            changes["solved_at"] = case["solved_at"] or at
        else:
            changes["solved_at"] = changes["closed_at"] = None
    changes.update(extra or {})
    try:
        saved = crm.update("service_cases", case["id"], changes)
    except FieldError as exc:
        raise _field_error(exc, f"case #{case['id']}") from None
    change = None
    if new_status != case["status"]:
        change = {"case": saved, "old_status": case["status"], "new_status": new_status, "at": at}
    return saved, change


def emit_status_changes(crm, changes):
    if changes:
        crm.emit("crm_case_status_changed", crm=crm, changes=changes)


def set_status(crm, case_ids, status, at=None):
    """Move cases to ``status`` in one transaction; returns the saved rows.

    Fires ``crm_case_status_changed`` once with every case that changed."""
    status = normalize.text(status).lower()
    if status not in STATUSES:
        raise CRMError(f"unknown status {status!r} (use {', '.join(STATUSES)})")
    cases = [get_case(crm, i) for i in (case_ids if isinstance(case_ids, (list, tuple)) else [case_ids])]
    sla = sla_module.get_sla(crm)
    saved, changes = [], []
    with crm.store.transaction():
        for case in cases:
            row, change = transition(crm, case, status=status, at=at, sla=sla)
            saved.append(row)
            if change:
                changes.append(change)
        emit_status_changes(crm, changes)
    return saved


def solve(crm, case_id, at=None):
    return set_status(crm, [case_id], "solved", at=at)[0]


def set_priority(crm, case_id, priority, at=None):
    priority = normalize.text(priority).lower()
    if priority not in PRIORITIES:
        raise CRMError(f"unknown priority {priority!r} (use {', '.join(PRIORITIES)})")
    case = get_case(crm, case_id)
    with crm.store.transaction():
        saved, _ = transition(crm, case, priority=priority, at=at)
    return saved


def assign(crm, case_id, user):
    user = normalize.text(user)
    if not user:
        raise CRMError("assign: give the agent's e-mail or name")
    case = get_case(crm, case_id)
    return crm.update("service_cases", case["id"], {"assignee": user})


def set_tags(crm, case_id, tags):
    case = get_case(crm, case_id)
    return crm.update("service_cases", case["id"], {"tags": tags})


def add_internal_note(crm, case_id, body, author=None):
    case = get_case(crm, case_id)
    body = normalize.long_text(body)
    if not body:
        raise CRMError("a note needs a body")
    with crm.store.transaction():
        mid = add_message(crm, case["id"], "internal", body, author=author or crm.user)
        crm.update("service_cases", case["id"], {})
    return mid


def record_inbound(crm, case, body, author, subject="", message_id=None, in_reply_to="", refs="", at=None, sla=None):
    """The customer wrote again: the message joins the case, and a case waiting
    on them (pending, on-hold) or solved is open again."""
    at = at or normalize.now()
    mid = add_message(crm, case["id"], "inbound", body, author=author, subject=subject, message_id=message_id,
                      in_reply_to=in_reply_to, refs=refs, at=at)
    changes = []
    if case["status"] in ("pending", "on-hold", "solved"):
        _, change = transition(crm, case, status="open", at=at, sla=sla)
        changes.append(change)
    else:
        crm.update("service_cases", case["id"], {})
    emit_status_changes(crm, [c for c in changes if c])
    return mid


# -- listing, showing, searching ---------------------------------------------------


def list_cases(crm, status=None, assignee=None, priority=None, breached=False, at=None, contact_id=None, limit=None):
    """Cases, newest first, with the contact's e-mail. ``breached``: cases whose
    running first-response or resolution target has run out at ``at`` (now)."""
    where, params = [], []
    if breached:
        where.append("c.breach_at < ?")
        params.append(at or normalize.now())
    if status:
        where.append("c.status = ?")
        params.append(status)
    if assignee is not None:
        where.append("c.assignee = ?")
        params.append(assignee)
    if priority:
        where.append("c.priority = ?")
        params.append(priority)
    if contact_id is not None:
        where.append("c.contact_id = ?")
        params.append(contact_id)
    sql = ("SELECT c.*, p.email FROM service_cases c LEFT JOIN contacts p ON p.id = c.contact_id"
           + (" WHERE " + " AND ".join(where) if where else "")
           + (" ORDER BY c.breach_at, c.id" if breached else " ORDER BY c.id DESC"))
    if limit:
        sql += " LIMIT ?"
        params.append(int(limit))
    return [_decode(r) for r in crm.store.query(sql, params)]


def _decode(row):
    import json

    if isinstance(row.get("tags"), str):
        row["tags"] = json.loads(row["tags"] or "[]")
    return row


def conversation(crm, case_id):
    """The case with its contact, messages (oldest first) and each message's attachments."""
    case = get_case(crm, case_id)
    contact = crm.get("contacts", case["contact_id"]) if case["contact_id"] else None
    messages = crm.store.query("SELECT * FROM service_messages WHERE case_id = ? ORDER BY at, id", (case["id"],))
    attachments = crm.store.query(
        "SELECT a.* FROM service_attachments a JOIN service_messages m ON m.id = a.message_id WHERE m.case_id = ? ORDER BY a.id",
        (case["id"],))
    by_message = {}
    for a in attachments:
        by_message.setdefault(a["message_id"], []).append(a)
    for m in messages:
        m["attachments"] = by_message.get(m["id"], [])
    return {"case": case, "contact": contact, "messages": messages, "csat": csat_of_case(crm, case)}


def csat_of_case(crm, case):
    """The CSAT answer (1-5) the customer gave for this case, if any."""
    if not case.get("csat_invitation_id") or not crm.store.table_exists("survey_responses"):
        return None
    return crm.store.query_value(
        "SELECT a.number FROM survey_responses r JOIN survey_answers a ON a.response_id = r.id "
        "JOIN survey_questions q ON q.id = a.question_id WHERE r.invitation_id = ? AND q.type = 'csat' "
        "ORDER BY r.submitted_at DESC, r.id DESC LIMIT 1", (case["csat_invitation_id"],))


def search(crm, text, limit=20):
    """Cases whose subject, description or any message matches every word (prefixes)."""
    words = [w for w in normalize.text(text).replace('"', " ").split(" ") if w]
    if not words:
        return []
    found = {r["id"] for r in crm.store.search("service_cases", ["subject", "description"], words, limit)}
    found |= {r["case_id"] for r in crm.store.search("service_messages", ["body"], words, limit)}
    if not found:
        return []
    ids = sorted(found, reverse=True)[:limit]
    rows = crm.store.query(
        f"SELECT c.*, p.email FROM service_cases c LEFT JOIN contacts p ON p.id = c.contact_id "
        f"WHERE c.id IN ({', '.join('?' * len(ids))}) ORDER BY c.id DESC", ids)
    return [_decode(r) for r in rows]
