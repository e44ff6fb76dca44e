"""The service desk in ``crm serve``: the agent's queue, the case page and the
contact page's "Cases" panel, registered through the core's web hooks.

Who sees which case follows the case's contact through ``crmcore.access``
(``contact_scope``): a sales user sees the cases of the contacts in their
territories and of those they own, everyone else every case, and a case
outside the user's scope answers 404 like one that does not exist. Working a
case (reply, note, status, priority, assign, solve) takes the permission
``cases:work``, which the plugin declares for managers and service agents
(admins hold every permission); sales and viewers read cases. Every write
goes through the plugin's library (``cases``, ``replies``) and is recorded in
the contact's history under the user's e-mail (``crm.user`` is set per request).
"""

import os
import re
from urllib.parse import urlencode

from crmcore import CRMError, access, normalize, render_page as render

from .records import DONE, PRIORITIES, STATUSES

#: The permission to answer, change and solve cases (declared in ``__init__.py``
#: for managers and service agents; admins hold every permission). Reading a
#: case needs only to see its contact.
WORK = "cases:work"
PAGE_SIZE = 50
#: ``?status=`` of the queue: the statuses still needing the team (the default), every status, or one.
OPEN = tuple(s for s in STATUSES if s not in DONE)
STATUS_FILTERS = ("open", "all", *STATUSES)
DIRECTION_LABELS = {"inbound": "Customer", "outbound": "Reply", "internal": "Internal note"}


def can_work(request):
    return access.can(request.state.user, WORK, request.app.state.web.permissions)


# -- queries: every one through the user's contact scope ------------------------------

CASE_COLUMNS = ("s.id, s.subject, s.status, s.priority, s.assignee, s.channel, s.sku, s.breach_at, s.created_at, "
                "s.updated_at, s.solved_at, s.contact_id, c.first_name, c.last_name, c.email")


def _scope(crm, user):
    """``(sql, params)`` over cases ``s`` joined to their contact ``c``: the cases ``user`` may see."""
    sql, params = access.contact_scope(crm, user)
    return sql, params


def visible_case(crm, user, case_id):
    """The id of a case ``user`` may see; ``access.NotFound`` otherwise (also for a case that does not exist)."""
    try:
        case_id = int(case_id)
    except (TypeError, ValueError):
        raise access.NotFound(f"no case {case_id!r}") from None
    sql, params = _scope(crm, user)
    found = crm.store.query_value(
        f"SELECT s.id FROM service_cases s LEFT JOIN contacts c ON c.id = s.contact_id WHERE s.id = ? AND {sql}",
        [case_id, *params])
    if found is None:
        raise access.NotFound(f"no case #{case_id}")
    return case_id


def queue(crm, user, status="open", priority="", assignee="", breached=False, after=None, limit=PAGE_SIZE, now=None):
    """One page of the queue: the running SLA deadline first (breached cases
    lead, paused ones come last), then by id; keyset-paged on ``(breach_at, id)``.

    ``after``: ``(breach_at or None, id)`` of the previous page's last case.
    ``assignee``: an agent, ``"mine"`` (the user's e-mail) or ``"unassigned"``.
    Returns ``(rows, next_after)``; ``next_after`` is ``None`` on the last page."""
    now = now or normalize.now()
    sql, params = _scope(crm, user)
    where, values = [sql], list(params)
    if status == "open":
        where.append(f"s.status IN ({', '.join('?' * len(OPEN))})")
        values.extend(OPEN)
    elif status and status != "all":
        where.append("s.status = ?")
        values.append(status)
    if priority:
        where.append("s.priority = ?")
        values.append(priority)
    if assignee:
        where.append("s.assignee = ?")
        values.append({"mine": user["email"], "unassigned": ""}.get(assignee, assignee))
    if breached:
        where.append("s.breach_at < ?")
        values.append(now)

    def part(condition, extra, order, n):
        return crm.store.query(
            f"SELECT {CASE_COLUMNS} FROM service_cases s LEFT JOIN contacts c ON c.id = s.contact_id "
            f"WHERE {' AND '.join([*where, condition])} ORDER BY {order} LIMIT ?", [*values, *extra, n])

    # Two index-friendly parts instead of one sort over every case: the running
    # deadlines by (breach_at, id), then the cases without one by id.
    due, last_id = after if after is not None else (None, None)
    rows = []
    if after is None or due is not None:
        if after is None:
            rows = part("s.breach_at IS NOT NULL", [], "s.breach_at, s.id", limit + 1)
        else:
            rows = part("s.breach_at >= ? AND (s.breach_at > ? OR s.id > ?)", [due, due, last_id], "s.breach_at, s.id", limit + 1)
    if len(rows) <= limit and not breached:
        if due is None and last_id is not None:
            rows += part("s.breach_at IS NULL AND s.id > ?", [last_id], "s.id", limit + 1 - len(rows))
        else:
            rows += part("s.breach_at IS NULL", [], "s.id", limit + 1 - len(rows))
    more = len(rows) > limit
    rows = rows[:limit]
    for r in rows:
        r["breached"] = bool(r["breach_at"]) and r["breach_at"] < now
        r["contact_name"] = _name(r)
    return rows, ((rows[-1]["breach_at"], rows[-1]["id"]) if more and rows else None)


def assignees(crm, user):
    """The agents of the cases still open that ``user`` may see (the queue's filter)."""
    sql, params = _scope(crm, user)
    rows = crm.store.query(
        f"SELECT DISTINCT s.assignee FROM service_cases s LEFT JOIN contacts c ON c.id = s.contact_id "
        f"WHERE s.assignee <> '' AND s.status IN ({', '.join('?' * len(OPEN))}) AND {sql} ORDER BY s.assignee LIMIT 200",
        [*OPEN, *params])
    return [r["assignee"] for r in rows]


def contact_cases(crm, contact_id, limit=10):
    """A contact's latest cases (the contact page shows the panel only for a contact the user may see)."""
    rows = crm.store.query(
        "SELECT id, subject, status, priority, assignee, breach_at, created_at FROM service_cases WHERE contact_id = ? "
        "ORDER BY id DESC LIMIT ?", (contact_id, limit + 1))
    now = normalize.now()
    for r in rows:
        r["breached"] = bool(r["breach_at"]) and r["breach_at"] < now
    return rows[:limit], len(rows) > limit


def _bare_subject(subject):
    from .cases import TAG

    subject = TAG.sub("", subject or "")
    return re.sub(r"^\s*((re|aw|fwd?|wg)\s*:\s*)+", "", subject, flags=re.IGNORECASE).strip().lower()


def _name(contact):
    if not contact:
        return ""
    name = f"{contact.get('first_name') or ''} {contact.get('last_name') or ''}".strip()
    return name or contact.get("email") or f"contact {contact.get('contact_id') or contact.get('id')}"


# -- pages -------------------------------------------------------------------------


def _redirect(url):
    from starlette.responses import RedirectResponse

    return RedirectResponse(url, status_code=303)


def _choice(value, allowed, what):
    value = str(value or "").strip()
    if value and value not in allowed:
        raise CRMError(f"{what} {value!r} must be one of {', '.join(allowed)}")
    return value


def _cursor(params):
    """``(breach_at or None, id)`` from ``?after=ID&due=TIME`` (``due`` empty: the paused cases' part)."""
    after = params.get("after", "")
    if not after:
        return None
    if not after.isdigit():
        raise CRMError("?after= must be a case number")
    due = params.get("due", "")
    if due:
        try:
            due = normalize.timestamp(due)
        except ValueError as exc:
            raise CRMError(f"?due=: {exc}") from None
    return (due or None, int(after))


def queue_page(request):
    """``/service``: the cases needing the team, most urgent deadline first."""
    crm, user = request.state.crm, request.state.user
    q = request.query_params
    filters = {
        "status": _choice(q.get("status", "open"), STATUS_FILTERS, "status") or "open",
        "priority": _choice(q.get("priority"), PRIORITIES, "priority"),
        "assignee": str(q.get("assignee", "")).strip()[:200],
        "breached": "1" if q.get("breached") else "",
    }
    rows, next_after = queue(crm, user, status=filters["status"], priority=filters["priority"], assignee=filters["assignee"],
                             breached=bool(filters["breached"]), after=_cursor(q), limit=PAGE_SIZE)
    kept = {k: v for k, v in filters.items() if v and not (k == "status" and v == "open")}
    next_url = None
    if next_after:
        next_url = "/service?" + urlencode({**kept, "due": next_after[0] or "", "after": next_after[1]})
    return render(request, "service_queue.html", {
        "rows": rows, "filters": filters, "statuses": STATUS_FILTERS, "priorities": PRIORITIES,
        "assignees": assignees(crm, user), "next_url": next_url,
        "first_url": ("/service?" + urlencode(kept)) if kept else "/service",
        "paged": bool(q.get("after")), "filtered": bool(kept), "can_work": can_work(request)})


def case_page(request):
    """``/service/cases/{id}``: the case, its conversation and, for those who work cases, the reply box and forms."""
    from . import mailer
    from .cases import conversation
    from .macros import list_macros

    crm, user = request.state.crm, request.state.user
    case_id = visible_case(crm, user, request.path_params["id"])
    data = conversation(crm, case_id)
    case, contact = data["case"], data["contact"]
    if contact is not None:
        contact = access.get(crm, user, "contacts", contact["id"])  # the same rule as the contact page
    working = can_work(request)
    draft, draft_error, macro = "", None, ""
    if working and request.query_params.get("macro"):
        from .macros import render as render_macro

        macro = str(request.query_params["macro"])[:200]
        try:
            draft = render_macro(crm, macro, case, contact, agent=user.get("name") or user["email"])
        except CRMError as exc:
            draft_error = str(exc)
    for m in data["messages"]:  # a subject worth showing: not just the case's, re-tagged or "Re:"-prefixed
        m["own_subject"] = _bare_subject(m["subject"]) not in ("", _bare_subject(case["subject"]))
    now = normalize.now()
    return render(request, "service_case.html", {
        "case": case, "contact": contact, "contact_name": _name(contact), "messages": data["messages"], "csat": data["csat"],
        "labels": DIRECTION_LABELS, "breached": bool(case["breach_at"]) and case["breach_at"] < now,
        "can_work": working, "statuses": STATUSES, "priorities": PRIORITIES,
        "macros": [m["name"] for m in list_macros(crm)] if working else [],
        "draft": draft, "draft_error": draft_error, "macro": macro,
        "has_sender": bool(_sender(crm)),
        "has_smtp": bool(mailer.smtp_url()),
        "can_email": bool(contact and contact.get("email")),
    })


SENDER_HINT = ("e-mail replies need a sender address: crm service sender help@your-shop.example "
               "(or CRM_SERVICE_FROM); add an internal note meanwhile")


def _sender(crm):
    from .replies import FROM_ENV, FROM_SETTING

    return os.environ.get(FROM_ENV) or crm.get_setting(FROM_SETTING)


def _case_for_write(request):
    from .cases import get_case

    crm, user = request.state.crm, request.state.user  # the route requires cases:work

    return crm, user, get_case(crm, visible_case(crm, user, request.path_params["id"]))


def _history(crm, case, action, changes):
    """The contact's history: what the user did to one of their cases."""
    if case["contact_id"] is not None:
        crm.audit(action, "contacts", case["contact_id"], {"case": case["id"], **changes})


def reply_post(request):
    """Reply to the customer by e-mail (queued when no SMTP server is set), or add an internal note."""
    from .replies import NotSent, reply

    crm, user, case = _case_for_write(request)
    form = request.state.form
    kind = _choice(form.get("kind", "email"), ("email", "internal"), "kind") or "email"
    body = str(form.get("body", ""))[:100_000]
    internal = kind == "internal"
    if not normalize.long_text(body):  # the library's message names the command's options
        raise CRMError("write the reply or the note first")
    if not internal and not _sender(crm):
        raise CRMError(SENDER_HINT)
    if not internal and not crm.store.query_value("SELECT email FROM contacts WHERE id = ?", (case["contact_id"],)):
        raise CRMError("the customer has no e-mail address: add an internal note instead")
    if internal:
        with crm.store.transaction():
            mid = reply(crm, case["id"], body, internal=True)
            _history(crm, case, "service note", {"message": mid})
    else:  # the reply is committed as queued before the SMTP server is asked, so no transaction around it
        try:
            mid = reply(crm, case["id"], body, queue_without_smtp=True)
        except NotSent as exc:  # saved as failed: the page shows why, send-queued tries again
            mid = exc.message_id
        _history(crm, case, "service reply", {"message": mid})
    return _redirect(f"/service/cases/{case['id']}#m{mid}")


def status_post(request):
    from .cases import set_status

    crm, user, case = _case_for_write(request)
    status = _choice(request.state.form.get("status"), STATUSES, "status")
    if not status:
        raise CRMError("choose a status")
    return _status_change(crm, case, status, set_status)


def solve_post(request):
    from .cases import set_status

    crm, user, case = _case_for_write(request)
    return _status_change(crm, case, "solved", set_status)


def _status_change(crm, case, status, set_status):
    """Move the case (a solved one invites to the CSAT survey, as ``crm service solve``), then
    send the invitation e-mail at once when an SMTP server is set."""
    from . import mailer
    from .replies import send_queued

    with crm.store.transaction():
        set_status(crm, [case["id"]], status)
        if status != case["status"]:
            _history(crm, case, "case status", {"status": [case["status"], status]})
    if status == "solved" and mailer.smtp_url():
        try:
            send_queued(crm, case_id=case["id"])
        except CRMError:
            pass  # the message stays failed on the page; send-queued tries again
    return _redirect(f"/service/cases/{case['id']}")


def priority_post(request):
    from .cases import set_priority

    crm, user, case = _case_for_write(request)
    priority = _choice(request.state.form.get("priority"), PRIORITIES, "priority")
    if not priority:
        raise CRMError("choose a priority")
    with crm.store.transaction():
        set_priority(crm, case["id"], priority)
        if priority != case["priority"]:
            _history(crm, case, "case priority", {"priority": [case["priority"], priority]})
    return _redirect(f"/service/cases/{case['id']}")


def assign_post(request):
    from .cases import assign

    crm, user, case = _case_for_write(request)
    form = request.state.form
    agent = user["email"] if form.get("me") else normalize.text(str(form.get("assignee", "")))[:200]
    with crm.store.transaction():
        assign(crm, case["id"], agent)
        if agent != case["assignee"]:
            _history(crm, case, "case assigned", {"assignee": [case["assignee"], agent]})
    return _redirect(f"/service/cases/{case['id']}")


def contact_panel(crm, user, contact):
    """The contact page's "Cases" panel: their latest cases with links."""
    rows, more = contact_cases(crm, contact["id"])
    return {"cases": rows, "more": more}


ROUTES = [
    ("/service", queue_page, "contacts:read", ("GET",)),
    ("/service/cases/{id:int}", case_page, "contacts:read", ("GET",)),
    ("/service/cases/{id:int}/reply", reply_post, WORK, ("POST",)),
    ("/service/cases/{id:int}/status", status_post, WORK, ("POST",)),
    ("/service/cases/{id:int}/solve", solve_post, WORK, ("POST",)),
    ("/service/cases/{id:int}/priority", priority_post, WORK, ("POST",)),
    ("/service/cases/{id:int}/assign", assign_post, WORK, ("POST",)),
]
