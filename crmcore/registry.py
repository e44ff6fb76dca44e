"""What the enabled plugins registered: record types, migrations, reports,
template folders, dashboard sections, import aliases, segment fields and
export formats, collected once per CRM through the registration hooks.

Each registration hook is called once, through pluggy, with a ``register``
callback; the callback records which plugin registered what by asking the
activation whose hook function is running.
"""

import re

import attrs

from . import schema
from .errors import PluginError
from .plugins import CORE


@attrs.frozen
class Report:
    name: str
    template: str
    description: str
    context: object
    plugin: str
    #: Declared parameters (``crmcore.ReportParam``), or ``None`` for a report registered without them.
    params: object = None

    @property
    def summary(self):
        """The description in a reader's words, for the page under the report's heading: without
        the command-line hints that ``crm report list`` shows (``(--param sku=...)``)."""
        return _PARAM_HINT.sub("", self.description).strip()


# "(--param sku=...)", "(--param by=month|quarter, as_of=DATE)": for the command line, not the page
_PARAM_HINT = re.compile(r"\s*\([^()]*--param[^()]*\)")


@attrs.frozen
class DashboardSection:
    title: str
    template: str
    context: object
    plugin: str


@attrs.frozen
class SegmentField:
    name: str
    sql: str
    type: str
    description: str
    plugin: str


@attrs.frozen
class ExportFormat:
    name: str
    writer: object
    description: str
    plugin: str


@attrs.frozen
class Migration:
    plugin: str
    name: str
    apply: object


@attrs.define
class Registry:
    """Everything the enabled plugins registered, collected once per CRM."""

    record_types: dict = attrs.Factory(dict)
    record_plugins: dict = attrs.Factory(dict)
    migrations: list = attrs.Factory(list)
    reports: dict = attrs.Factory(dict)
    template_dirs: list = attrs.Factory(list)
    dashboard_sections: list = attrs.Factory(list)
    import_aliases: dict = attrs.Factory(dict)
    segment_fields: dict = attrs.Factory(dict)
    export_formats: dict = attrs.Factory(dict)


def normalise_set_sql(sql):
    """The SQL of a set-valued segment field as a bare ``SELECT ...``.

    Plugins may register ``"SELECT ..."`` or ``"(SELECT ...)"``; the rule
    compiler wraps it in ``IN (...)``, and ``IN ((SELECT ...))`` is a scalar
    sub-select that silently compares with its first row only. Redundant
    outer parentheses are taken off, so both spellings mean the same."""
    text = sql.strip()
    while text.startswith("(") and text.endswith(")") and _encloses(text):
        text = text[1:-1].strip()
    return text


def _encloses(text):
    """Whether the first ``(`` of ``text`` closes at its last character
    (quotes respected)."""
    depth, quote = 0, None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i == len(text) - 1
    return False


def build_registry(activation, store):
    """Call every registration hook of the enabled plugins once; return a ``Registry``.

    Registrations are applied in plugin load order, the core first (plugin
    migrations may reference core tables; a later plugin's report or alias
    of the same name wins), whatever order pluggy called the hooks in."""
    reg = Registry()
    pending = []

    def deferred(hook, apply):
        def register(*args, **kwargs):
            pending.append((activation.registering_plugin(hook), len(pending), hook, apply, args, kwargs))
        return register

    def record_type(plugin, cls):
        table = schema.table_of(cls)
        reg.record_types[table] = cls
        reg.record_plugins[table] = plugin

    def migration(plugin, fn, name=None):
        reg.migrations.append(Migration(plugin, name or fn.__name__, fn))

    def report(plugin, name, template, description="", context=None, params=None):
        if params is not None:
            from .reports import report_param

            params = tuple(report_param(p) for p in params)
        reg.reports[name] = Report(name, template, description, context or (lambda crm, params: {}), plugin, params)

    def template_dir(plugin, path):
        reg.template_dirs.append(str(path))

    def section(plugin, title, template, context=None):
        reg.dashboard_sections.append(DashboardSection(title, template, context or (lambda crm: {}), plugin))

    def aliases(plugin, table, mapping):
        reg.import_aliases.setdefault(table, {}).update(mapping)

    def segment_field(plugin, name, sql, type="text", description=""):
        if not all(part.isidentifier() for part in name.split(".")):
            raise ValueError(f"segment field name {name!r} is not an identifier (or dotted identifiers, e.g. company.orders)")
        if type == "set":
            sql = normalise_set_sql(sql)
        reg.segment_fields[name] = SegmentField(name, sql, type, description, plugin)

    def export_format(plugin, name, writer, description=""):
        reg.export_formats[name] = ExportFormat(name, writer, description, plugin)

    for hook, apply, extra in (
        ("crm_register_record_types", record_type, {}),
        ("crm_register_migrations", migration, {}),
        ("crm_register_reports", report, {}),
        ("crm_register_template_dirs", template_dir, {}),
        ("crm_register_dashboard_sections", section, {}),
        ("crm_register_import_aliases", aliases, {}),
        ("crm_register_segment_fields", segment_field, {"store": store}),
        ("crm_register_export_formats", export_format, {}),
    ):
        activation.call(hook, register=deferred(hook, apply), **extra)
    order = {name: i for i, name in enumerate([CORE, *activation.names])}
    for plugin, _, hook, apply, args, kwargs in sorted(pending, key=lambda p: (order.get(p[0], len(order)), p[1])):
        try:
            apply(plugin, *args, **kwargs)
        except (TypeError, ValueError) as exc:
            raise PluginError(plugin, hook, exc) from None
    return reg
