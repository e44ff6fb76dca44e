"""Which plugins run for one database, and the one plugin manager that calls them.

An ``Activation`` is the single answer to "which plugins run here": the
installed ones (entry-point group ``crm``), narrowed by ``CRM_LOAD_PLUGINS``,
minus those refused (hook API version, store) and, for the hooks a user sees,
minus those disabled in this database. The CLI, the ``CRM`` object, reports
and export formats all ask it; nothing else works this out.

Hooks are called through pluggy (``activation.hook.crm_records_saved(...)``),
so ``@hookimpl(wrapper=True)``, ``firstresult``, ``tryfirst``/``trylast`` and
pluggy's tracing work as pluggy documents them. A disabled plugin is still
registered: its data-lifecycle hooks (erase, merge, delete) run through
``lifecycle_hook``, because the law and referential integrity do not depend
on which modules a business shows; every other hook goes through ``hook``,
which leaves the disabled plugins out (``PluginManager.subset_hook_caller``).
"""

import contextlib
import os
import sys
import time

import pluggy

from . import hookspecs
from .errors import CRMError, PluginError
from .plugins import CORE, as_plugin, discover, refuse_unsupported


#: Hooks that carry a data obligation: called for disabled plugins too.
LIFECYCLE_HOOKS = ("crm_contact_erased", "crm_contacts_merged", "crm_records_deleted")


def make_manager(plugins):
    """A plugin manager with the core's hooks and ``plugins`` registered."""
    from . import core_plugin

    pm = pluggy.PluginManager("crm")
    pm.add_hookspecs(hookspecs)
    pm.register(core_plugin, name=CORE)
    for plugin in plugins:
        extra_specs = getattr(plugin.module, "crm_hookspecs", None)
        if extra_specs is not None:
            pm.add_hookspecs(extra_specs)
        pm.register(plugin.module, name=plugin.name)
    return pm


class _EnabledHooks:
    """``pm.hook`` without the plugins disabled in this database."""

    def __init__(self, pm, disabled_modules):
        self._pm, self._remove, self._callers = pm, disabled_modules, {}

    def __getattr__(self, name):
        try:
            return self._callers[name]
        except KeyError:
            caller = self._pm.subset_hook_caller(name, self._remove) if self._remove else getattr(self._pm.hook, name)
            self._callers[name] = caller
            return caller


class Activation:
    """The plugins of one database: loaded, refused, enabled and disabled.

    ``plugins``: ``None`` for every installed plugin (``CRM_LOAD_PLUGINS``
    applies), else a list of modules, ``(name, module)`` pairs or ``Plugin``s.
    ``disabled``: names of plugins disabled in the database."""

    def __init__(self, plugins=None, store_kind="sqlite", disabled=()):
        if plugins is None:
            found, failures = discover()
        else:
            found, failures = [as_plugin(p) for p in plugins], []
        self.plugins, refused = refuse_unsupported(found, store_kind)
        self.failures = [*failures, *refused]
        self.disabled = {name for name in disabled if name != CORE}
        # Every loaded plugin is registered, refused ones too, so the CLI can
        # say why a command of theirs does not run; no hook of theirs is called.
        self.pm = make_manager(found)
        if os.environ.get("CRM_TRACE_PLUGINS"):
            trace_hook_calls(self.pm)
        refused_modules = [p.module for p in found if p not in self.plugins]
        self.hook = _EnabledHooks(self.pm, refused_modules + [p.module for p in self.plugins if p.name in self.disabled])
        self.lifecycle_hook = _EnabledHooks(self.pm, refused_modules)
        self._refused_modules = refused_modules

    @classmethod
    def for_store(cls, store, plugins=None):
        """The activation of the database open in ``store``."""
        return cls(plugins, store.kind, disabled_in(store))

    @property
    def names(self):
        """Names of the loaded plugins (enabled or not), in load order."""
        return [p.name for p in self.plugins]

    def is_enabled(self, name):
        return name == CORE or (name not in self.disabled and name in self.names)

    def hook_impls(self, hook_name):
        """Implementations of enabled plugins, in pluggy's call order (for
        asking whether anyone listens; call hooks through ``hook``)."""
        caller = getattr(self.hook, hook_name)
        return list(reversed(caller.get_hookimpls()))

    def call(self, hook_name, hook=None, **kwargs):
        """Call ``hook_name`` with ``kwargs`` through pluggy; an exception of a
        plugin becomes a ``PluginError`` naming plugin, hook and source line."""
        caller = getattr(hook or self.hook, hook_name)
        try:
            return caller(**kwargs)
        except (PluginError, CRMError):
            raise
        except Exception as exc:
            raise self.plugin_error(hook_name, exc) from exc

    def call_lifecycle(self, hook_name, savepoint, **kwargs):
        """Call a data-lifecycle hook on every loaded plugin, disabled ones too.

        These hooks carry side effects only (files, export logs, notes); the
        core moves and deletes the rows itself. So a plugin that fails here
        must not block an erasure: its part is rolled back (``savepoint()``
        is a context manager around each attempt) and skipped. Returns
        ``(results, warnings)``, a one-line warning per skipped plugin."""
        results, errors = self.call_skipping_failures(hook_name, self._refused_modules, savepoint, **kwargs)
        return results, [f"warning: {error}; its part of {hook_name} was skipped" for error in errors]

    def call_skipping_failures(self, hook_name, exclude=(), around=contextlib.nullcontext, **kwargs):
        """Call ``hook_name`` on every registered plugin but ``exclude``
        (modules); a plugin that raises is left out and the hook runs again
        without it, each attempt inside ``around()``. Returns ``(results,
        [PluginError per plugin left out])``; re-raises what no plugin caused."""
        skipped, errors = [], []
        while True:
            caller = self.pm.subset_hook_caller(hook_name, [*exclude, *skipped])
            try:
                with around():
                    return caller(**kwargs), errors
            except Exception as exc:
                error = exc if isinstance(exc, PluginError) else self.plugin_error(hook_name, exc)
                plugin = self.pm.get_plugin(error.plugin)
                if plugin is None or plugin in skipped:
                    raise error from exc
                skipped.append(plugin)
                errors.append(error)

    def plugin_error(self, hook_name, exc):
        """A ``PluginError`` for ``exc``, raised inside a call of ``hook_name``:
        the plugin is the one whose hook function is innermost in the traceback."""
        # Keyed by identity: two plugins' identical hook functions have equal code objects.
        impls = {id(impl.function.__code__): impl for impl in getattr(self.pm.hook, hook_name).get_hookimpls()}
        found, where, tb = None, None, exc.__traceback__
        while tb is not None:
            impl = impls.get(id(tb.tb_frame.f_code))
            if impl is not None:
                found = impl
            tb = tb.tb_next
        if found is None:
            return PluginError("unknown", hook_name, exc)
        where = _source_line(exc, found)
        return PluginError(found.plugin_name, hook_name, exc, where)

    def registering_plugin(self, hook_name):
        """The plugin whose ``hook_name`` implementation is running now (a
        ``register`` callback asks, to record who registered what)."""
        impls = {id(impl.function.__code__): impl.plugin_name for impl in getattr(self.pm.hook, hook_name).get_hookimpls()}
        frame = sys._getframe(1)
        while frame is not None:
            name = impls.get(id(frame.f_code))
            if name is not None:
                return name
            frame = frame.f_back
        return "unknown"


def _source_line(exc, impl):
    """``file:line`` of the innermost traceback frame in the plugin's own
    source folder (else in its hook function), relative to that folder's parent."""
    func_file = impl.function.__code__.co_filename
    module_file = getattr(impl.plugin, "__file__", None) or func_file
    folder = os.path.dirname(module_file)
    best, tb = None, exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(folder + os.sep) or filename == func_file:
            best = (filename, tb.tb_lineno)
        tb = tb.tb_next
    if best is None:
        return None
    return f"{os.path.relpath(best[0], os.path.dirname(folder))}:{best[1]}"


def disabled_in(store):
    """Names of the plugins disabled in the database of ``store``."""
    if not store.table_exists("_crm_plugins"):
        return set()
    return {r["name"] for r in store.query("SELECT name FROM _crm_plugins WHERE enabled = 0")}


def disabled_at(location):
    """The same, read without opening a full CRM: cheap enough for ``crm
    --help``. A missing or unreadable database disables nothing (the command
    itself then reports the problem)."""
    if str(location).startswith(("postgresql://", "postgres://")):
        from .store import open_store

        try:
            store = open_store(location)
        except CRMError:
            return set()
        try:
            return disabled_in(store)
        finally:
            store.close()
    if not os.path.isfile(location):
        return set()
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{location}?mode=ro", uri=True)
        try:
            return {r[0] for r in conn.execute("SELECT name FROM _crm_plugins WHERE enabled = 0")}
        finally:
            conn.close()
    except sqlite3.Error:
        return set()


def trace_hook_calls(pm, write=None):
    """Print each hook call, the plugins it ran and its time, to stderr
    (``CRM_TRACE_PLUGINS=1``), through pluggy's hook-call monitoring."""
    write = write or (lambda line: print(line, file=sys.stderr, flush=True))
    started = []

    def before(hook_name, impls, kwargs):
        started.append(time.perf_counter())
        names = ", ".join(impl.plugin_name for impl in reversed(impls)) or "no plugin"
        write(f"crm: hook {hook_name} -> {names}")

    def after(outcome, hook_name, impls, kwargs):
        took = time.perf_counter() - started.pop()
        failed = f" FAILED: {type(outcome.exception).__name__}" if outcome.exception else ""
        write(f"crm: hook {hook_name} done in {took * 1000:.1f} ms{failed}")

    return pm.add_hookcall_monitoring(before, after)
