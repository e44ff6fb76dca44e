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

import attrs

from .errors import CRMError
from .output import atomic_write

#: What a declared report parameter can be: the form's input and the check its value passes.
PARAM_TYPES = ("text", "int", "date", "choice")


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


def _known_type(instance, attribute, value):
    if value not in PARAM_TYPES:
        raise ValueError(f"type {value!r} is not one of {', '.join(PARAM_TYPES)}")


@attrs.frozen
class ReportParam:
    """One parameter a report declares: the ``--param NAME=VALUE`` the command
    line takes and the field of the report's form in ``crm serve``.

    ``type`` is ``text``, ``int`` (``min``/``max`` bound it), ``date`` (given as
    YYYY-MM-DD, passed on as YYYY-MM-DD) or ``choice`` (a select).
    ``choices`` is a list of values or ``(value, label)`` pairs, or
    ``choices(crm)`` returning one: a list is the only values allowed; a
    function fills the form's list (names of records), and the report's context
    still finds the record (so an id typed on the command line keeps working).
    ``default`` (a string, or ``default(crm)``) is what the form shows when the
    address leaves the field empty; an empty value is not passed on, so the
    context's own default applies. ``aliases`` are older names still accepted; ``metavar`` stands for
    the value in messages."""

    name: str
    label: str = ""
    type: str = attrs.field(default="text", validator=_known_type)
    default: object = None
    choices: object = None
    required: bool = False
    help: str = ""
    min: object = None
    max: object = None
    aliases: tuple = attrs.field(default=(), converter=tuple)
    #: What stands for the value in messages (``--param sku=SKU``); by type when empty.
    metavar: str = ""


def report_param(spec):
    """A ``ReportParam`` from one (a ``ReportParam`` or a dict of its fields)."""
    if isinstance(spec, ReportParam):
        return spec
    if isinstance(spec, dict):
        try:
            return ReportParam(**spec)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"report parameter {spec.get('name')!r}: {exc}") from None
    raise ValueError(f"a report parameter must be a ReportParam or a dict, not {type(spec).__name__}")


def param_choices(crm, param):
    """``[(value, label), ...]`` of a choice parameter (``[]`` when it has none)."""
    found = param.choices(crm) if callable(param.choices) else (param.choices or ())
    return [(str(c[0]), str(c[1])) if isinstance(c, (tuple, list)) else (str(c), str(c)) for c in found]


def param_default(crm, param):
    """The value the form shows for an empty field ("" when there is none)."""
    value = param.default(crm) if callable(param.default) else param.default
    return "" if value is None else str(value)


def check_params(crm, report, params):
    """Check ``params`` (strings from ``--param`` or the web form's address)
    against the report's declared parameters and return the values its
    context gets: known names only, empty values left out, dates as
    YYYY-MM-DD, numbers checked. A report registered without ``params``
    gets ``params`` unchanged (its context checks them). ``CRMError`` names
    the report, the parameter and what is wrong, in one line."""
    params = {str(k): str(v) for k, v in (params or {}).items()}
    if report.params is None:
        return params
    from . import normalize

    by_name = {}
    for p in report.params:
        by_name[p.name] = p
        for alias in p.aliases:
            by_name.setdefault(alias, p)
    unknown = sorted(set(params) - set(by_name))
    if unknown:
        known = ", ".join(p.name for p in report.params) or "none"
        raise CRMError(f"report {report.name!r}: unknown --param {unknown[0]!r} (known: {known})")
    out = {}
    for p in report.params:
        given = [params[n] for n in (p.name, *p.aliases) if n in params]
        value = given[0].strip() if given else ""
        where = f"report {report.name!r}: --param {p.name}"
        if not value:
            if p.required:
                metavar = p.metavar or {"date": "YYYY-MM-DD", "int": "NUMBER"}.get(p.type, "VALUE")
                raise CRMError(f"report {report.name!r} needs --param {p.name}={metavar}")
            continue
        if len(value) > 200:
            raise CRMError(f"{where}: at most 200 characters")
        if p.type == "int":
            try:
                number = int(value)
            except ValueError:
                raise CRMError(f"{where}={value!r} is not a whole number") from None
            if (p.min is not None and number < p.min) or (p.max is not None and number > p.max):
                bounds = f"{p.min if p.min is not None else '...'}-{p.max if p.max is not None else '...'}"
                raise CRMError(f"{where}={number} is outside {bounds}")
            value = str(number)
        elif p.type == "date":
            try:
                value = normalize.date(value).isoformat()
            except ValueError as exc:
                raise CRMError(f"{where}: {exc}") from None
        elif p.type == "choice" and p.choices is not None and not callable(p.choices):
            allowed = [v for v, _ in param_choices(crm, p)]
            if value not in allowed:
                raise CRMError(f"{where}={value!r}: use one of {', '.join(allowed)}")
        out[p.name] = value
    return out


def render(crm, name, params=None, stamp=False):
    """Render report ``name`` to an HTML string."""
    import jinja2

    report = crm.registry.reports.get(name)
    if report is None:
        known = ", ".join(sorted(crm.registry.reports)) or "none"
        raise CRMError(f"no report named {name!r} (reports: {known})")
    crm.require_schema()
    env = environment(crm)
    params = check_params(crm, report, params)
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
