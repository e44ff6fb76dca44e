"""The core's pages. Each one reads through ``crmcore.access`` (the one place
that knows who may see what) and renders a template; none writes SQL of its
own around the access filter."""

import hmac
import secrets

from .. import access, links, normalize, users
from ..errors import CRMError
from .base import LOGIN_CSRF_COOKIE, REPORT_CSP, SESSION_COOKIE, MenuItem, WebRoute, message, render, set_cookie


def _redirect(url):
    from starlette.responses import RedirectResponse

    return RedirectResponse(url, status_code=303)


def _safe_next(value):
    """Only a path on this site: ``/contacts``, never ``//evil`` or ``https://...``."""
    value = str(value or "")
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


# -- login --------------------------------------------------------------------------


def login(request):
    crm = request.state.crm
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    next_path = _safe_next(request.query_params.get("next") or (request.state.form or {}).get("next"))
    if request.method == "GET":
        if request.state.user is not None:
            return _redirect(next_path)
        response = render(request, "web_login.html", {"login_csrf": token, "next": next_path, "error": None, "email": ""})
        set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
        return response
    form = request.state.form or {}
    given = str(form.get("csrf_token", ""))
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not given or not cookie or not hmac.compare_digest(given, cookie):
        return message(request, "Form expired", "Reload the login page and try again.", 403)
    email = str(form.get("email", ""))[:200]
    try:
        user = users.authenticate(crm, email, str(form.get("password", "")), request.client.host if request.client else "?")
    except users.LoginRefused as exc:
        status = 429 if "too many" in str(exc) else 400
        return render(request, "web_login.html", {"login_csrf": cookie, "next": next_path, "error": str(exc), "email": email},
                      status=status)
    session, _ = users.start_session(crm, user)
    response = _redirect(next_path)
    set_cookie(request, response, SESSION_COOKIE, session)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


def logout(request):
    users.end_session(request.state.crm, request.cookies.get(SESSION_COOKIE, ""))
    response = _redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- pages ------------------------------------------------------------------------


def _own(user):
    return [v for v in (user["email"], user.get("name")) if v]


def home(request):
    """My day: open tasks (overdue first), my open deals, and the pipeline."""
    crm, user = request.state.crm, request.state.user
    own = _own(user)
    marks = ", ".join("?" * len(own))
    today = normalize.now()[:10]
    tasks = deals = []
    if access.can(user, "activities:read"):
        tasks = access.rows(crm, user, "activities", (f"a.kind = 'task' AND a.done_at IS NULL AND a.owner IN ({marks})", own),
                            order="a.due_at, a.id", limit=30)
    if access.can(user, "deals:read"):
        deals = access.rows(crm, user, "deals", (f"d.status = 'open' AND d.owner IN ({marks})", own),
                            order="d.expected_close, d.id", limit=30)
    pipeline = crm.pipeline() if access.can(user, "deals:read") and user["role"] not in access.SCOPED_ROLES else None
    return render(request, "web_home.html", {"tasks": tasks, "deals": deals, "pipeline": pipeline, "today": today})


def _after(request):
    value = request.query_params.get("after", "")
    if value and not value.isdigit():
        raise CRMError("?after= must be a contact id")
    return int(value) if value else None


def contacts(request):
    crm, user = request.state.crm, request.state.user
    from urllib.parse import urlencode

    from ..queries import CONTACT_FILTERS, contact_filter

    q = request.query_params.get("q", "").strip()[:200]
    filters = {k: request.query_params.get(k, "").strip()[:200] for k in CONTACT_FILTERS}
    filters = {k: v for k, v in filters.items() if v}
    error = None
    try:
        where = contact_filter(crm, filters)
    except CRMError as exc:
        where, error = ("1 = 0", []), str(exc)
    next_skip = None
    if q:
        rows, next_after, next_skip = access.search_page(crm, user, q, after=_after(request), skip=request.query_params.get("skip"))
    else:
        rows, next_after = access.page(crm, user, "contacts", after=_after(request), where=where)
    return render(request, "web_contacts.html", {
        "can_add": access.can(user, "contacts:write"), "rows": rows, "q": q, "next_after": next_after, "next_skip": next_skip,
        "request_after": bool(q and request.query_params.get("after")),
        "paged": bool(request.query_params.get("after") or request.query_params.get("skip")), "filters": filters, "filter_error": error,
        "filter_query": urlencode(filters), "segments": _segment_names(crm)})


def _segment_names(crm):
    """Segment names for the filter's list; none when no plugin knows segments."""
    try:
        return crm.segment_names()
    except CRMError:
        return []


def contact(request):
    crm, user = request.state.crm, request.state.user
    c = access.get(crm, user, "contacts", request.path_params["id"])
    cid = c["id"]
    deals = access.rows(crm, user, "deals", ("d.contact_id = ?", [cid]), order="d.id DESC", limit=20) if access.can(user, "deals:read") else []
    activities = (access.rows(crm, user, "activities", ("a.contact_id = ?", [cid]), order="a.created_at DESC, a.id DESC", limit=20)
                  if access.can(user, "activities:read") else [])
    orders = access.rows(crm, user, "orders", ("o.contact_id = ?", [cid]), order="o.ordered_at DESC, o.id DESC", limit=20) \
        if access.can(user, "orders:read") else []
    history = crm.store.query('SELECT at, "user", action, changes FROM _crm_audit WHERE table_name = ? AND record_id = ? '
                              "ORDER BY id DESC LIMIT 20", ("contacts", cid))
    panels = []
    for panel in request.app.state.web.panels:
        if access.can(user, panel.permission, request.app.state.web.permissions):
            try:
                html = request.app.state.web.env.get_template(panel.template).render(ctx=panel.context(crm, user, c), contact=c)
            except Exception as exc:  # a broken panel must not take the contact page down
                import sys

                print(f"crm serve: contact panel {panel.title!r} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                html = '<p class="muted">This panel could not be shown.</p>'
            panels.append({"title": panel.title, "html": html})
    # Every module's events, less those of records the user's role may not read.
    hidden = {"order": "orders:read", "deal": "deals:read", **{k: "activities:read" for k in ("call", "email", "meeting", "note", "task")}}
    timeline = [e for e in crm.timeline(c, limit=60) if e["kind"] not in hidden or access.can(user, hidden[e["kind"]])][:30]
    return render(request, "web_contact.html", {"c": c, "deals": deals, "activities": activities, "orders": orders,
                                                "history": history, "panels": panels, "timeline": timeline,
                                                "can_log": access.can(user, "activities:write"),
                                                "can_edit": access.can(user, "contacts:write"),
                                                "can_deal": access.can(user, "deals:write"), "stages": crm.stages})


def log_activity(request):
    """Log a call, e-mail, meeting or note on a contact the user may see. The
    contact's history records it with the user's e-mail (``crm.user``)."""
    from ..entities import Activity
    from ..schema import FieldError

    crm, user = request.state.crm, request.state.user
    c = access.get(crm, user, "contacts", request.path_params["id"])
    form = request.state.form
    kind = str(form.get("kind", "note"))
    if kind not in ("call", "email", "meeting", "note"):
        raise CRMError(f"kind {kind!r} must be call, email, meeting or note")
    subject, body = str(form.get("subject", "")).strip()[:300], str(form.get("body", ""))[:20000]
    if not subject and not body.strip():
        raise CRMError("write a subject or a note")
    try:
        activity = Activity(contact_id=c["id"], kind=kind, subject=subject, body=body, owner=user["email"], done_at=normalize.now())
    except FieldError as exc:
        raise CRMError(f"invalid {exc.field}: {exc.reason}") from None
    with crm.store.transaction():
        activity_id = crm.add(activity)
        crm.audit("log activity", "contacts", c["id"], {"activity": activity_id, "kind": kind, "subject": subject})
    return _redirect(f"/contacts/{c['id']}")


def companies(request):
    crm, user = request.state.crm, request.state.user
    rows, next_after = access.page(crm, user, "companies", after=_after(request))
    return render(request, "web_companies.html", {"rows": rows, "next_after": next_after, "paged": bool(request.query_params.get("after"))})


def deals(request):
    """The pipeline as a board: one column per open stage, the 50 biggest deals each."""
    crm, user = request.state.crm, request.state.user
    columns = []
    for name, probability in crm.stages:
        if name in ("won", "lost"):
            continue
        rows = access.rows(crm, user, "deals", ("d.status = 'open' AND d.stage = ?", [name]), order="d.amount DESC, d.id", limit=50)
        columns.append({"stage": name, "probability": probability, "deals": rows})
    return render(request, "web_deals.html", {"columns": columns, "stages": crm.stages, "can_move": access.can(user, "deals:write")})


def report_fields(crm, report, given):
    """The form fields of a report's declared parameters: each with the value
    from the address (as typed) or, when the address has none, the default."""
    from ..reports import param_choices, param_default

    out = []
    for p in report.params or ():
        value = next((given[n] for n in (p.name, *p.aliases) if given.get(n, "").strip()), "")
        if not value:
            value = param_default(crm, p)
        choices = param_choices(crm, p) if p.choices is not None else []
        if p.type == "choice" and value and value not in {v for v, _ in choices}:
            choices = [(value, value)] + choices  # an id or a name typed by hand stays selected
        out.append({"name": p.name, "label": p.label or p.name, "type": p.type, "value": value, "choices": choices,
                    "required": p.required, "help": p.help, "min": p.min, "max": p.max})
    return out


def reports(request):
    crm = request.state.crm
    rows = [{"report": r, "fields": report_fields(crm, r, {})} for r in sorted(crm.registry.reports.values(), key=lambda r: r.name)]
    return render(request, "web_reports.html", {"reports": rows})


def report(request):
    """A report rendered live, under a bar with its parameters as a GET form
    (the values stay in the address). A bad value shows the form again with
    the one-line error, status 400; the values go through the same check as
    ``crm report render --param`` (``crmcore.reports.check_params``)."""
    import re

    from starlette.responses import HTMLResponse

    from ..reports import render as render_report

    crm = request.state.crm
    name = request.path_params["name"]
    entry = crm.registry.reports.get(name)
    if entry is None:
        raise access.NotFound(f"no report {name!r}")
    params = {k: v for k, v in request.query_params.items()}
    fields = report_fields(crm, entry, params)
    missing = [p for p in entry.params or () if p.required and not any(params.get(n, "").strip() for n in (p.name, *p.aliases))]
    if missing and not params:  # the first visit of a report that needs a choice: ask for it
        return render(request, "web_report.html", {"report": entry, "fields": fields, "error": None})
    try:
        html = render_report(crm, name, params)
    except CRMError as exc:
        return render(request, "web_report.html", {"report": entry, "fields": fields, "error": str(exc)}, status=400)
    bar = request.app.state.web.env.get_template("web_report_bar.html").render(report=entry, fields=fields)
    found = re.search(r"<body[^>]*>", html)
    html = html[:found.end()] + bar + html[found.end():] if found else bar + html
    return HTMLResponse(html, headers={"Content-Security-Policy": REPORT_CSP})


def admin_users(request):
    """Every user, role, territories and last login (admin only; changes are `crm users ...`)."""
    return render(request, "web_admin_users.html", {"users": users.list_users(request.state.crm)})


def admin_plugins(request):
    """Installed plugins and whether this database enables them (admin only)."""
    return render(request, "web_admin_plugins.html", {"plugins": request.state.crm.plugin_info()})


# -- public: unsubscribe --------------------------------------------------------------


def unsubscribe(request):
    """GET: a confirm page. POST (RFC 8058 one-click, or the page's button):
    body ``List-Unsubscribe=One-Click``; no CSRF token, as the RFC requires."""
    crm = request.state.crm
    token = request.path_params["token"]
    contact, used_at = links.resolve(crm, token, links.UNSUBSCRIBE)
    if contact is None:
        return message(request, "Link not valid", "This unsubscribe link is unknown or no longer valid.", 404)
    if request.method == "GET":
        return render(request, "web_unsubscribe.html", {"done": bool(used_at), "token": token, "email": contact["email"]})
    form = request.state.form or {}
    if form.get("List-Unsubscribe") != "One-Click":
        return message(request, "Not understood", "The request did not ask to unsubscribe (List-Unsubscribe=One-Click).", 400)
    links.unsubscribe(crm, token, "unsubscribe page" if form.get("via") == "page" else "one-click")
    return render(request, "web_unsubscribe.html", {"done": True, "token": token, "email": contact["email"]})


ROUTES = [
    WebRoute("/login", login, "none", ("GET", "POST"), "core"),
    WebRoute("/logout", logout, "login", ("POST",), "core"),
    WebRoute("/", home, "login", ("GET",), "core"),
    WebRoute("/contacts", contacts, "contacts:read", ("GET",), "core"),
    WebRoute("/contacts/{id:int}", contact, "contacts:read", ("GET",), "core"),
    WebRoute("/contacts/{id:int}/activities", log_activity, "activities:write", ("POST",), "core"),
    WebRoute("/companies", companies, "companies:read", ("GET",), "core"),
    WebRoute("/deals", deals, "deals:read", ("GET",), "core"),
    WebRoute("/reports", reports, "reports:read", ("GET",), "core"),
    WebRoute("/reports/{name}", report, "reports:read", ("GET",), "core"),
    WebRoute("/admin/users", admin_users, "users:admin", ("GET",), "core"),
    WebRoute("/admin/plugins", admin_plugins, "plugins:admin", ("GET",), "core"),
    WebRoute("/unsubscribe/{token}", unsubscribe, "public", ("GET", "POST"), "core"),
]

MENU = [
    MenuItem("My day", "/", "login"),
    MenuItem("Contacts", "/contacts", "contacts:read"),
    MenuItem("Companies", "/companies", "companies:read"),
    MenuItem("Deals", "/deals", "deals:read"),
    MenuItem("Reports", "/reports", "reports:read"),
    MenuItem("Users", "/admin/users", "users:admin"),
    MenuItem("Plugins", "/admin/plugins", "plugins:admin"),
]
