"""The web app's writes: add and edit a contact, create a deal, move a deal.

Each one reads the record through ``crmcore.access`` (so a record outside the
user's scope answers 404), writes through the CRM object (validation, hooks,
the audit trail) and adds an entry to the contact's history under the user's
e-mail (``crm.user`` is set for the request by the app). A form with a bad
value comes back with the values as typed and the error next to the field.
"""

from .. import access, normalize
from ..entities import Contact, Deal
from ..errors import CRMError, FieldError
from ..schema import build
from .base import WebRoute, render

#: Fields of the contact form, in order: (name, label, input type).
CONTACT_FIELDS = (
    ("first_name", "First name", "text"),
    ("last_name", "Last name", "text"),
    ("email", "E-mail", "email"),
    ("phone", "Phone", "tel"),
    ("company", "Company", "text"),
    ("job_title", "Job title", "text"),
    ("street", "Street", "text"),
    ("postal_code", "Postal code", "text"),
    ("city", "City", "text"),
    ("region", "Region", "text"),
    ("country", "Country", "text"),
    ("birth_date", "Birth date", "date"),
    ("tags", "Tags (comma-separated)", "text"),
    ("owner", "Owner", "text"),
)
MAX_VALUE = 2000


def _redirect(url):
    from starlette.responses import RedirectResponse

    return RedirectResponse(url, status_code=303)


def _clean(value, limit=MAX_VALUE):
    return str(value if value is not None else "")[:limit]


def contact_changes(form, user, old=None):
    """The contact fields a form sets, as typed (the record class validates them).

    A sales user cannot hand a contact to someone else: the owner stays (a new
    contact is theirs). Marketing consent changed on the form is dated and its
    source is the web form and the user."""
    values = {name: _clean(form.get(name, "")).strip() for name, _, _ in CONTACT_FIELDS}
    values["notes"] = _clean(form.get("notes", ""), 20000)
    values["tags"] = normalize.tags(values["tags"])
    for name in ("email", "phone", "country", "birth_date"):
        values[name] = values[name] or None
    if user["role"] in access.SCOPED_ROLES:
        values["owner"] = old["owner"] if old else user["email"]
    consent = bool(form.get("consent"))
    values["consent"] = consent
    if old is None or bool(old["consent"]) != consent:
        values["consent_at"] = normalize.now() if consent else None
        values["consent_source"] = f"web form ({user['email']})" if consent else ""
    return values


def _form_page(request, title, action, values, error=None, status=200, contact_id=None):
    user = request.state.user
    owners = [u["email"] for u in _active_users(request.state.crm)]
    return render(request, "web_contact_form.html", {
        "title": title, "action": action, "fields": CONTACT_FIELDS, "v": values, "error": error,
        "owner_locked": user["role"] in access.SCOPED_ROLES, "owners": owners, "contact_id": contact_id,
    }, status=status)


def _active_users(crm):
    from ..users import list_users

    return [u for u in list_users(crm) if u["active"]]


def _as_form_values(record):
    values = {k: ("" if v is None else v) for k, v in record.items()}
    values["tags"] = ", ".join(record.get("tags") or [])
    return values


def _field_error(exc):
    """``(field name, message)`` for the form: the message names the field by its label."""
    if not isinstance(exc, FieldError):
        return None, str(exc)
    labels = {name: label for name, label, _ in CONTACT_FIELDS}
    return exc.field, f"{labels.get(exc.field, exc.field)}: {exc.reason}"


def new_contact(request):
    crm, user = request.state.crm, request.state.user
    if request.method == "GET":
        values = {name: "" for name, _, _ in CONTACT_FIELDS}
        values.update(notes="", consent=False, owner=user["email"])
        return _form_page(request, "New contact", "/contacts/new", values)
    form = request.state.form
    try:
        values = contact_changes(form, user)
        record = build(Contact, values)
        with crm.store.transaction():
            cid = crm.add(record)
            crm.audit("add", "contacts", cid, {k: v for k, v in values.items() if v not in ("", None, [], False)})
    except CRMError as exc:
        typed = {k: _clean(form.get(k, "")) for k, _, _ in CONTACT_FIELDS}
        typed.update(notes=_clean(form.get("notes", "")), consent=bool(form.get("consent")))
        return _form_page(request, "New contact", "/contacts/new", typed, _field_error(exc), 400)
    return _redirect(f"/contacts/{cid}")


def edit_contact(request):
    """Edit a contact the user may see; ``crm.update`` records the change in its history."""
    crm, user = request.state.crm, request.state.user
    old = access.get(crm, user, "contacts", request.path_params["id"])
    action = f"/contacts/{old['id']}/edit"
    if request.method == "GET":
        return _form_page(request, "Edit contact", action, _as_form_values(old), contact_id=old["id"])
    form = request.state.form
    try:
        crm.update("contacts", old["id"], contact_changes(form, user, old))
    except CRMError as exc:
        typed = {k: _clean(form.get(k, "")) for k, _, _ in CONTACT_FIELDS}
        typed.update(notes=_clean(form.get("notes", "")), consent=bool(form.get("consent")))
        return _form_page(request, "Edit contact", action, typed, _field_error(exc), 400, contact_id=old["id"])
    return _redirect(f"/contacts/{old['id']}")


def _back(form, fallback):
    """Where a form returns to: a local path it names, else ``fallback``."""
    target = str(form.get("back", "") or "")
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


def new_deal(request):
    """Create a deal for a contact the user may see (owned by the user); from
    the contact page or the board."""
    crm, user = request.state.crm, request.state.user
    form = request.state.form
    contact = access.get(crm, user, "contacts", form.get("contact_id", ""))
    title = _clean(form.get("title", ""), 300).strip()
    if not title:
        raise CRMError("a deal needs a title")
    try:
        deal = build(Deal, dict(title=title, contact_id=contact["id"], company_id=contact.get("company_id"),
                    amount=_clean(form.get("amount", "") or "0", 40), currency=_clean(form.get("currency", "") or "EUR", 3),
                    stage=_clean(form.get("stage", "") or crm.stages[0][0], 60), owner=user["email"],
                    expected_close=_clean(form.get("expected_close", ""), 40) or None))
        with crm.store.transaction():
            deal_id = crm.add(deal)
            crm.audit("add deal", "contacts", contact["id"], {"deal": deal_id, "title": title, "stage": deal.stage,
                                                             "amount": deal.amount})
    except FieldError as exc:
        raise CRMError(f"invalid {exc.field}: {exc.reason}") from None
    return _redirect(_back(form, f"/contacts/{contact['id']}"))


def move_deal(request):
    """Move a deal the user may see to another stage (a form per card on the board)."""
    crm, user = request.state.crm, request.state.user
    deal = access.get(crm, user, "deals", request.path_params["id"])
    form = request.state.form
    stage = _clean(form.get("stage", ""), 60).strip().lower()
    if stage not in [s for s, _ in crm.stages]:
        raise CRMError(f"unknown stage {stage!r} (stages: {', '.join(s for s, _ in crm.stages)})")
    if stage != deal["stage"]:
        with crm.store.transaction():
            crm.move_deal(deal["id"], stage)
            if deal["contact_id"] is not None:
                crm.audit("move deal", "contacts", deal["contact_id"], {"deal": deal["id"], "title": deal["title"],
                                                                         "stage": [deal["stage"], stage]})
    return _redirect(_back(form, "/deals"))


ROUTES = [
    WebRoute("/contacts/new", new_contact, "contacts:write", ("GET", "POST"), "core"),
    WebRoute("/contacts/{id:int}/edit", edit_contact, "contacts:write", ("GET", "POST"), "core"),
    WebRoute("/deals/new", new_deal, "deals:write", ("POST",), "core"),
    WebRoute("/deals/{id:int}/move", move_deal, "deals:write", ("POST",), "core"),
]
