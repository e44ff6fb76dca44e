"""The ``crm`` command. Commands parse options and call library functions.

Plugins add commands through ``crm_register_commands(cli)``; a command gets
the open CRM with ``get_crm()``. Commands of a plugin disabled in the
database are hidden. User mistakes end in one line and a non-zero exit.
"""

import os
import sys

import click


class State:
    """Per-invocation state: the options of the root group and the open CRM."""

    def __init__(self, db=None, templates=None):
        self.db, self.templates, self._crm = db, templates, None

    def crm(self):
        if self._crm is None:
            from .app import CRM

            self._crm = CRM(self.db, templates=self.templates)
            for failure in self._crm.plugin_failures:
                click.echo(f"crm: warning: plugin {failure.name!r} not loaded: {failure.reason}", err=True)
        return self._crm

    def close(self):
        if self._crm is not None:
            self._crm.close()


def get_crm(migrate=True):
    """The CRM of the running command, opened on first use.

    With ``migrate`` (the default) the database must be initialised, and
    pending migrations of newly installed plugins are applied."""
    state = click.get_current_context().find_object(State)
    if state is None:
        state = State()
    if migrate and state._crm is None:
        _refuse_missing_file(state.db)
    crm = state.crm()
    if migrate:
        crm.require_schema()
    return crm


def _refuse_missing_file(db):
    """A mistyped ``--db`` must not leave an empty database file behind."""
    from .errors import CRMError
    from .location import resolve_location

    location = resolve_location(db)
    if "://" in location or location == ":memory:" or location.startswith("file:") or os.path.exists(location):
        return
    raise CRMError(f"{location} does not exist, so it is not initialised: run `crm --db {location} init` "
                   "(or check --db / CRM_DB for a typo)")


def crm_for_listing():
    """The CRM of the running command if its database exists, else an
    in-memory one with every installed plugin: for listing what plugins offer
    (export formats in ``--help``, say) without creating a database file."""
    from .location import resolve_location

    ctx = click.get_current_context()
    location = resolve_location(ctx.find_root().params.get("db"))
    if os.path.isfile(location) or location.startswith(("postgresql://", "postgres://")):
        return get_crm(migrate=False)
    from .app import CRM

    memory = CRM(":memory:")
    ctx.call_on_close(memory.close)
    return memory


def debugging():
    """``CRM_DEBUG=1`` or ``crm --traceback``: show the full traceback of any error."""
    ctx = click.get_current_context(silent=True)
    flag = ctx.find_root().params.get("traceback") if ctx is not None else False
    return bool(flag or os.environ.get("CRM_DEBUG"))


_activations = {}


def activation_for(ctx):
    """The activation of the database of ``--db``, without opening a full CRM
    (cheap enough for ``crm --help``): installed and loaded plugins, refusals
    for this store, and the plugins disabled in the database."""
    from .activation import Activation, disabled_at
    from .location import resolve_location
    from .plugins import discover

    location = resolve_location(ctx.find_root().params.get("db"))
    kind = "postgres" if location.startswith(("postgresql://", "postgres://")) else "sqlite"
    disabled = disabled_at(location)
    found, failures = discover()  # once per process; tests that install plugins reset it
    key = (kind, tuple(sorted(disabled)), tuple((p.name, id(p.module)) for p in found), tuple(failures))
    if key not in _activations:
        _activations.clear()
        _activations[key] = Activation(None, kind, disabled)
    return _activations[key]


def _import(path):
    """The object named by ``"package.module:attribute"``."""
    import importlib

    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


# The core's commands outside this module: name -> (where it lives, its line in
# `crm --help`). Imported only when run, so `crm --help` and `crm init` stay
# fast; a test checks each line against the command's own docstring.
CORE_COMMANDS = {
    "contacts": ("crmcore.commands:contacts", "People: add, list, search, import, export, merge."),
    "companies": ("crmcore.commands:companies", "Companies (accounts)."),
    "deals": ("crmcore.commands:deals", "Deals and the sales pipeline."),
    "activities": ("crmcore.commands:activities", "Calls, e-mails, meetings, notes and tasks."),
    "orders": ("crmcore.commands:orders", "Purchase history: orders and their lines."),
    "tasks": ("crmcore.commands:tasks", "My open tasks, soonest due first (a shortcut for `crm activities list --kind task --open --owner ME`)."),
    "plugins": ("crmcore.commands:plugins", "Installed plugins and which are enabled for this database."),
    "report": ("crmcore.commands:report", "HTML reports: self-contained files that open in any browser and print well."),
    "demo": ("crmcore.commands:demo", "Fill the database with realistic sample data (contacts in several countries, companies, "
             "deals, activities, three years of orders, and data for every enabled plugin)."),
    "quickstart": ("crmcore.commands:quickstart", "Create a demo CRM with every plugin enabled and write its dashboard."),
    "backup": ("crmcore.maintenance:backup_command", "Write a consistent copy of the database to FILE, while others keep working."),
    "restore": ("crmcore.maintenance:restore_command", "Replace the database with the backup FILE."),
    "doctor": ("crmcore.maintenance:doctor_command", "Check the database: integrity, migrations, plugins, orphaned records "
               "and file permissions, with what to do about each problem."),
    "import-profiles": ("crmcore.import_commands:import_profiles_command",
                        "Export formats the importer recognises from their headers (--profile NAME forces one)."),
    "run-due": ("crmcore.jobs:run_due_command", "Run the jobs that are due (for cron or a systemd timer; see docs/operations.md)."),
    "jobs": ("crmcore.jobs:jobs_command", "The jobs `crm run-due` runs: interval, last run, its result and when each is next due."),
    "migrate-store": ("crmcore.migrate_store:migrate_store_command",
                      "Copy a whole CRM (every core and plugin table, ids and history) to another store."),
    "serve": ("crmcore.web.commands:serve", "Serve the CRM as a web application for the team (and customers' public links)."),
    "users": ("crmcore.web.commands:users", "People who log in to `crm serve`: roles admin, manager, sales, service, viewer."),
    "tokens": ("crmcore.web.commands:tokens", "Bearer tokens for the JSON API of `crm serve` (/api/...), each acting as one user."),
    "rates": ("crmcore.rates_commands:rates", "Exchange rates: every revenue figure is converted to the base currency at the order date's rate."),
    "settings": ("crmcore.web.commands:settings", "Settings of this database (e.g. base_url, the public address of links)."),
    "unsubscribe-link": ("crmcore.web.commands:unsubscribe_link", "Print a contact's personal unsubscribe link (CONTACT: id or e-mail)."),
}


class CRMGroup(click.Group):
    """The root group: lazily adds plugin commands, hides disabled ones and
    turns user errors into one-line messages.

    Commands registered with ``add_lazy_command`` are imported only when they
    run; ``crm --help`` lists them from their registered line of help."""

    _plugin_of = None
    _loaded_for = None
    _activation = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lazy, self._children, self._attached = dict(CORE_COMMANDS), {}, []

    def add_lazy_command(self, name, import_path, help, parent=None):
        """Register command ``name`` as ``"package.module:attribute"``, imported
        only when it runs. ``help`` is its line in ``crm --help``. ``parent``
        adds it to an existing group instead (e.g. ``"contacts"``), imported
        when that group runs."""
        if parent is not None:
            self._children.setdefault(parent, {})[name] = import_path
        else:
            self.commands.pop(name, None)
            self._lazy[name] = (import_path, help)
            self._claim(name)

    def _load_plugin_commands(self, ctx):
        """Let every loaded plugin add its commands (disabled ones too, so that
        running one can say it is disabled); remember whose each command is."""
        activation = activation_for(ctx)
        key = (tuple(activation.names), id(activation.pm))
        if self._loaded_for == key:
            return
        for name in list((self._plugin_of or {})):
            self.commands.pop(name, None)
        self._detach_children()
        self._lazy = dict(CORE_COMMANDS)
        self._children = {}
        self._plugin_of = {}
        self._activation = activation
        # A broken plugin must not take the CLI down: warn and go on without it.
        _, errors = activation.call_skipping_failures("crm_register_commands", cli=self)
        for error in errors:
            click.echo(f"crm: warning: plugin {error.plugin!r} failed to add commands: {error.original}", err=True)
        self._activation = None
        self._loaded_for = key

    def _claim(self, name):
        """Record which plugin is adding command ``name`` (during crm_register_commands)."""
        if self._activation is not None:
            plugin = self._activation.registering_plugin("crm_register_commands")
            if plugin != "unknown":
                self._plugin_of[name] = plugin

    def add_command(self, cmd, name=None):
        super().add_command(cmd, name)
        self._claim(name or cmd.name)

    def _detach_children(self):
        """Take commands that plugins added to other groups off those groups
        (the set of plugins changed, as it may between in-process runs)."""
        for group, name in self._attached:
            group.commands.pop(name, None)
        self._attached = []

    def _resolve(self, name):
        if name not in self.commands and name in self._lazy:
            import_path, _ = self._lazy[name]
            try:
                cmd = _import(import_path)
            except Exception as exc:  # a broken plugin must not take the CLI down
                raise click.ClickException(f"command {name!r} could not be loaded from {import_path}: {type(exc).__name__}: {exc}") from None
            self.add_command(cmd, name)
        cmd = self.commands.get(name)
        children = self._children.pop(name, None)
        if cmd is not None and children:
            for child, import_path in children.items():
                try:
                    cmd.add_command(_import(import_path), child)
                except Exception as exc:  # nor the group it extends
                    click.echo(f"crm: warning: command '{name} {child}' could not be loaded from {import_path}: "
                               f"{type(exc).__name__}: {exc}", err=True)
                    continue
                self._attached.append((cmd, child))
        return cmd

    def list_commands(self, ctx):
        self._load_plugin_commands(ctx)
        disabled = activation_for(ctx).disabled
        return sorted(n for n in set(self.commands) | set(self._lazy) if self._plugin_of.get(n) not in disabled)

    def get_command(self, ctx, name):
        self._load_plugin_commands(ctx)
        plugin = self._plugin_of.get(name)
        activation = activation_for(ctx)
        if plugin and plugin in activation.disabled:
            raise click.UsageError(f"'{name}' belongs to plugin {plugin!r}, which is disabled for this database: crm plugins enable {plugin}")
        if plugin and plugin not in activation.names:  # refused here (store, API version) after it was loaded
            reason = next((f.reason for f in activation.failures if f.name == plugin), "is not loaded")
            raise click.UsageError(f"'{name}' belongs to plugin {plugin!r}, which {reason}")
        return self._resolve(name)

    def resolve_command(self, ctx, args):
        """Like click's, but a typo gets a suggestion among every command,
        the lazily registered ones included (`crm deal` -> did you mean `deals`?)."""
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:
            if exc.possibilities:
                raise
            raise click.exceptions.NoSuchCommand(str(args[0]), possibilities=self.list_commands(ctx), ctx=ctx) from None

    def format_commands(self, ctx, formatter):
        """Like click's, but a command not imported yet shows its registered help."""
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.commands.get(name) or click.Command(name, help=self._lazy[name][1])
            if not cmd.hidden:
                rows.append((name, cmd))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in rows])

    def invoke(self, ctx):
        from .errors import CRMError

        try:
            return super().invoke(ctx)
        except CRMError as exc:
            if debugging():
                raise
            raise click.ClickException(str(exc)) from None
        except Exception as exc:
            # A damaged file fails wherever a query first reads the bad page.
            import sqlite3

            from .store.sqlite import _friendly

            if debugging() or not isinstance(exc, sqlite3.DatabaseError) or _friendly(exc) is None:
                raise
            raise click.ClickException(str(_friendly(exc))) from None


# --db is eager so that `crm --db X --help` already knows the database whose
# disabled plugins' commands it must hide.
@click.group(cls=CRMGroup)
@click.version_option(package_name="crmcore", prog_name="crm")
@click.option("--db", envvar="CRM_DB", metavar="PATH", is_eager=True, help="SQLite database file or postgresql:// URL (default: CRM_DB or ./crm.db).")
@click.option("--templates", envvar="CRM_TEMPLATES", metavar="DIR", type=click.Path(file_okay=False), help="Folder of report templates that override the built-in ones.")
@click.option("--traceback", is_flag=True, help="Show the full traceback of an error (also CRM_DEBUG=1).")
@click.pass_context
def cli(ctx, db, templates, traceback):
    """A small, scriptable CRM: contacts, companies, deals, activities and
    orders, extended by plugins. Start with `crm quickstart`."""
    ctx.obj = State(db, templates)
    ctx.call_on_close(ctx.obj.close)


def _is_utf8(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def main():
    try:
        cli(prog_name="crm")
    except UnicodeEncodeError as exc:
        # Bytes on the command line that are not UTF-8 reach us as lone surrogates;
        # whatever tried to store or search them has rolled back by now.
        bad = next((a for a in sys.argv[1:] if not _is_utf8(a)), exc.object if isinstance(exc.object, str) else "")
        click.echo(f"Error: {bad[:60]!r} is not valid UTF-8 text; give command-line values in UTF-8", err=True)
        sys.exit(1)


# -- shared helpers -------------------------------------------------------------


def progress_bar(path, label):
    """A progress callback for a file import: a bar on a terminal, silent otherwise."""
    from .output import progress

    size = os.path.getsize(path) if os.path.isfile(path) else 0
    return progress(size, label, sys.stderr.isatty() and size > 0)


def record_options(table, exclude=(), required=()):
    """Click options generated from a record class: ``--first-name`` etc.

    Reference fields take a friendlier form: ``--contact`` (id or e-mail),
    ``--company`` (id or name), ``--deal`` (id)."""
    from .entities import CORE_RECORD_TYPES
    from .schema import field_kind, fields, table_of

    cls = next(c for c in CORE_RECORD_TYPES if table_of(c) == table)
    skip = {"id", "created_at", "updated_at", "custom", *exclude}

    def decorate(fn):
        for f in reversed(fields(cls)):
            if f.name in skip:
                continue
            desc = f.metadata.get("description", "")
            if f.metadata.get("references"):
                name = f.name.removesuffix("_id")
                how = {"contact": "contact id or e-mail", "company": "company id or name", "deal": "deal id"}[name]
                fn = click.option(f"--{name}", f.name, help=how, required=f.name in required)(fn)
            elif field_kind(f) is bool:
                fn = click.option(f"--{f.name.replace('_', '-')}/--no-{f.name.replace('_', '-')}", f.name, default=None, help=desc or None)(fn)
            else:
                fn = click.option(f"--{f.name.replace('_', '-')}", f.name, help=desc or None, required=f.name in required)(fn)
        fn = click.option("--set", "extra", multiple=True, metavar="KEY=VALUE", help="Set a custom attribute (repeatable).")(fn) if "custom" in {f.name for f in fields(cls)} and "custom" not in exclude else fn
        return fn

    return decorate


def given(values):
    """Options the user actually passed."""
    return {k: v for k, v in values.items() if v is not None and k != "extra"}


def custom_from(extra, base=None):
    from .errors import CRMError

    custom = dict(base or {})
    for pair in extra or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CRMError(f"--set {pair!r} must look like key=value")
        custom[key] = value
    return custom


def build_or_fail(cls, data):
    from .errors import CRMError
    from .schema import FieldError, build

    try:
        return build(cls, data)
    except FieldError as exc:
        raise CRMError(f"invalid {exc.field}: {exc.reason}") from None


def update_or_fail(crm, table, id, changes):
    from .errors import CRMError
    from .schema import FieldError

    try:
        return crm.update(table, id, changes)
    except FieldError as exc:
        raise CRMError(f"invalid {exc.field}: {exc.reason}") from None


def add_or_fail(crm, rec):
    from .errors import CRMError
    from .schema import FieldError

    try:
        return crm.add(rec)
    except FieldError as exc:
        raise CRMError(f"invalid {exc.field}: {exc.reason}") from None


# -- init / migrate -------------------------------------------------------------


@cli.command()
def init():
    """Create the database (or bring it up to date).

    The path comes from --db, then CRM_DB, then ./crm.db. The file is
    created readable by its owner only (it holds personal data)."""
    crm = get_crm(migrate=False)
    applied = crm.migrate()
    from .store import redact

    click.echo(f"Initialised {redact(crm.location)}" + (f" ({len(applied)} migrations applied)" if applied else " (already up to date)"))


@cli.command()
def migrate():
    """Apply pending schema migrations of the core and enabled plugins, then
    check that every record class has its columns (a field without a column
    means a plugin lacks a migration: the command then fails naming it)."""
    from .errors import CRMError

    crm = get_crm(migrate=False)
    applied = crm.migrate()
    for name in applied:
        click.echo(f"applied {name}")
    if not applied:
        click.echo("Nothing to migrate.")
    drift = crm.schema_drift()
    if drift:
        raise CRMError("; ".join(drift))

