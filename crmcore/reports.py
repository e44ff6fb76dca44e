"""HTML reports: the Jinja2 environment, the template search path, rendering.

Search order: the user's folder (``--templates``/``CRM_TEMPLATES``), then the
folders plugins register, then the core templates. Autoescape is always on and
every template runs in Jinja2's sandbox, so a template dropped in by a user
cannot reach Python internals. The same database and parameters give the
same bytes: the time and a content hash are added only when asked.
"""

import datetime as dt
import hashlib
import os
from importlib import resources

from .errors import CRMError
from .output import atomic_write


def core_template_dir():
    """The folder of the core templates (``templates/`` in the source tree)."""
    return str(resources.files("crmcore.templates"))


def environment(crm):
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from . import charts, currency, formatting

    search = []
    if crm.templates:
        if not os.path.isdir(crm.templates):
            raise CRMError(f"template folder {crm.templates} does not exist")
        search.append(crm.templates)
    search.extend(crm.registry.template_dirs)
    search.append(core_template_dir())
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(search),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(charts.TEMPLATE_GLOBALS)
    env.filters.update(formatting.FILTERS)
    env.filters["money"] = formatting.money_in(currency.base_currency(crm))  # figures in the base currency
    return env


def parse_params(pairs):
    """``["key=value", ...]`` -> dict; a pair without ``=`` is a user error."""
    params = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CRMError(f"--param {pair!r} must look like key=value")
        params[key.strip()] = value
    return params


def render(crm, name, params=None, stamp=False):
    """Render report ``name`` to an HTML string."""
    import jinja2

    report = crm.registry.reports.get(name)
    if report is None:
        known = ", ".join(sorted(crm.registry.reports)) or "none"
        raise CRMError(f"no report named {name!r} (reports: {known})")
    crm.require_schema()
    env = environment(crm)
    params = dict(params or {})
    context = report.context(crm, params)
    try:
        template = env.get_template(report.template)
        html = template.render(report=report, params=params, crm_location=os.path.basename(crm.location.split("?")[0]), stamp=None, **context)
    except jinja2.TemplateNotFound as exc:
        raise CRMError(f"report {name!r}: template {exc.name!r} not found") from None
    except jinja2.exceptions.SecurityError as exc:
        raise CRMError(f"report {name!r}: template refused by the sandbox: {exc}") from None
    except jinja2.TemplateError as exc:
        raise CRMError(f"report {name!r}: template error: {exc}") from None
    if stamp:
        digest = hashlib.sha256(html.encode()).hexdigest()[:16]
        when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        html = html.replace("<!--stamp-->", f"Generated {when} · content {digest}", 1)
    return html


def write_report(crm, name, path, params=None, stamp=False):
    """Render ``name`` and write it to ``path`` atomically; returns the path."""
    html = render(crm, name, params, stamp)
    with atomic_write(path, "report") as f:
        f.write(html)
    return path
