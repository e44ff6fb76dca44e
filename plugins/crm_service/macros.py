"""Saved replies with Jinja2 placeholders, rendered in Jinja2's sandbox.

A macro sees ``case`` (id, subject, status, priority, sku, assignee),
``contact`` (first_name, last_name, name, email, company) and ``agent`` (the
CRM user). A placeholder the macro names but the data lacks is an error, so a
reply never goes out with a hole in it."""

from crmcore import CRMError, normalize

from .records import Macro

CASE_KEYS = ("id", "subject", "status", "priority", "sku", "assignee", "channel")
CONTACT_KEYS = ("first_name", "last_name", "email", "company")


def _environment():
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


def check(name, body):
    """Compile a macro's text; ``CRMError`` naming the line of a syntax error."""
    from jinja2 import TemplateSyntaxError

    try:
        _environment().from_string(body)
    except TemplateSyntaxError as exc:
        raise CRMError(f"macro {name!r} line {exc.lineno}: {exc.message}") from None


def save(crm, name, body):
    """Create or replace a macro; returns its id."""
    name = normalize.text(name)
    body = normalize.long_text(body)
    if not name or not body:
        raise CRMError("a macro needs a name and a text")
    check(name, body)
    found = crm.store.query_value("SELECT id FROM service_macros WHERE name = ?", (name,))
    if found is not None:
        crm.update("service_macros", found, {"body": body})
        return found
    return crm.add(Macro(name=name, body=body))


def get(crm, name):
    rows = crm.store.query("SELECT * FROM service_macros WHERE name = ?", (normalize.text(name),))
    if not rows:
        names = [r["name"] for r in crm.store.query("SELECT name FROM service_macros ORDER BY name")]
        raise CRMError(f"no macro named {name!r} (macros: {', '.join(names) or 'none yet; crm service macros add'})")
    return rows[0]


def list_macros(crm):
    return crm.store.query("SELECT id, name, body, updated_at FROM service_macros ORDER BY name")


def delete(crm, name):
    crm.delete("service_macros", [get(crm, name)["id"]])


def render(crm, name, case, contact, agent=None, **extra):
    """The macro's text filled in for this case and contact."""
    from jinja2 import TemplateError
    from jinja2.exceptions import SecurityError, UndefinedError

    macro = get(crm, name)
    contact = contact or {}
    data = {
        "case": {k: case.get(k) for k in CASE_KEYS},
        "contact": {**{k: contact.get(k) or "" for k in CONTACT_KEYS},
                    "name": f"{contact.get('first_name') or ''} {contact.get('last_name') or ''}".strip() or (contact.get("email") or "")},
        "agent": agent or crm.user,
        **extra,
    }
    try:
        return _environment().from_string(macro["body"]).render(**data)
    except SecurityError as exc:
        raise CRMError(f"macro {name!r} tried something the sandbox forbids: {exc}") from None
    except UndefinedError as exc:
        raise CRMError(f"macro {name!r}: {exc.message}") from None
    except TemplateError as exc:
        raise CRMError(f"macro {name!r}: {exc}") from None
