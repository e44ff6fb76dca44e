"""Finding installed plugins (``activation.py`` decides which of them run).

Plugins are discovered through the entry-point group ``crm`` (the built-in
ones too). ``CRM_LOAD_PLUGINS`` takes control: unset loads every installed
plugin, an empty string loads none, ``a,b`` loads only those. A plugin that
fails to import, or that was written for another hook API version, is left
out with a one-line reason; the rest of the CRM keeps working.
"""

import importlib
import os
import sys
from typing import NamedTuple

from . import hookspecs
from .errors import PluginError  # noqa: F401  (re-exported: crmcore.plugins.PluginError)

ENTRY_POINT_GROUP = "crm"
CORE = "core"


# Named tuples, not attrs classes: this module is on the path of every `crm`
# call, and attrs costs as much to import as click.
class Plugin(NamedTuple):
    name: str
    module: object
    version: str = ""


class PluginFailure(NamedTuple):
    name: str
    reason: str


def check_api_version(name, module):
    """Refuse a plugin declaring a hook API major version other than ours."""
    wanted = getattr(module, "crm_api_version", hookspecs.API_VERSION)
    try:
        wanted = int(str(wanted).split(".")[0])
    except ValueError:
        return f"declares an unreadable crm_api_version {wanted!r}"
    if wanted != hookspecs.API_VERSION:
        return f"needs hook API version {wanted}, this CRM provides version {hookspecs.API_VERSION}"
    return None


class EntryPoint(NamedTuple):
    """One line ``name = module:attribute`` of a distribution's entry points."""

    name: str
    value: str
    path: str  # the distribution's .dist-info or .egg-info folder

    def load(self):
        module, _, attribute = self.value.partition("[")[0].partition(":")
        obj = importlib.import_module(module.strip())
        for part in attribute.strip().split(".") if attribute.strip() else ():
            obj = getattr(obj, part)
        return obj

    @property
    def dist(self):
        """The distribution's normalised name (``crmcore`` from ``crmcore-0.1.0.dist-info``)."""
        return _dist_name(os.path.basename(self.path))

    @property
    def version(self):
        for name in ("METADATA", "PKG-INFO"):
            try:
                with open(os.path.join(self.path, name), encoding="utf-8") as f:
                    for line in f:
                        if line.startswith("Version:"):
                            return line.partition(":")[2].strip()
                        if not line.strip():
                            break
            except OSError:
                continue
        return ""


def _dist_name(folder):
    return folder.rpartition(".")[0].partition("-")[0].lower().replace("-", "_").replace(".", "_")


def entry_points(group):
    """The entry points of ``group`` that ``importlib.metadata`` would find (a
    test compares the two), without importing it: on Python 3.11 that import
    alone costs as much as click. The ``*.dist-info`` and ``*.egg-info``
    folders on ``sys.path`` are read in order; the first of a name wins."""
    found, seen = [], set()
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:  # a missing folder or a zip file
            continue
        for entry in names:
            if not entry.endswith((".dist-info", ".egg-info")):
                continue
            dist = _dist_name(entry)
            if dist in seen:
                continue
            seen.add(dist)
            path = os.path.join(folder or ".", entry)
            try:
                with open(os.path.join(path, "entry_points.txt"), encoding="utf-8") as f:
                    lines = f.read().splitlines()
            except OSError:
                continue
            section = None
            for line in map(str.strip, lines):
                if line.startswith("["):
                    section = line.strip("[]").strip()
                elif section == group and "=" in line and not line.startswith(("#", ";")):
                    name, _, value = line.partition("=")
                    found.append(EntryPoint(name.strip(), value.strip(), path))
    return found


_discovered = None


def discover():
    """Installed plugins as ``(plugins, failures)``, loaded once per process."""
    global _discovered
    if _discovered is not None:
        return _discovered
    wanted = os.environ.get("CRM_LOAD_PLUGINS")
    names = None if wanted is None else {w.strip() for w in wanted.split(",") if w.strip()}
    plugins, failures = [], []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if names is not None and ep.name not in names:
            continue
        try:
            module = ep.load()
        except Exception as exc:  # a broken plugin must not take the CLI down
            failures.append(PluginFailure(ep.name, f"failed to import: {type(exc).__name__}: {exc}"))
            continue
        problem = check_api_version(ep.name, module)
        if problem:
            failures.append(PluginFailure(ep.name, problem))
            continue
        plugins.append(Plugin(ep.name, module, ep.version))
    if names:
        found = {p.name for p in plugins} | {f.name for f in failures}
        failures.extend(PluginFailure(n, "named in CRM_LOAD_PLUGINS but not installed") for n in sorted(names - found))
    _discovered = (plugins, failures)
    return _discovered


def reset_discovery():
    """Forget discovered plugins (tests that install plugins call this)."""
    global _discovered
    _discovered = None


def unsupported_store(module, kind):
    """Why a plugin cannot run on a ``kind`` store, or ``None``.

    A plugin whose SQL works only on some stores lists them in ``crm_stores``
    (no list: every store); it is then left out there, and the CRM still works."""
    stores = getattr(module, "crm_stores", None)
    if stores is None or kind in stores:
        return None
    return f"supports only the {' and '.join(stores)} store, not {kind} (not yet ported)"


def refuse_unsupported(plugins, kind):
    """``(plugins that run on a kind store, failures for the others)``."""
    kept, refused = [], []
    for plugin in plugins:
        reason = unsupported_store(plugin.module, kind)
        if reason:
            refused.append(PluginFailure(plugin.name, reason))
        else:
            kept.append(plugin)
    return kept, refused


def as_plugin(obj):
    """Accept a ``Plugin``, a ``(name, module)`` pair or a module/object."""
    if isinstance(obj, Plugin):
        return obj
    if isinstance(obj, tuple):
        return Plugin(obj[0], obj[1])
    name = getattr(obj, "crm_plugin_name", None) or getattr(obj, "__name__", type(obj).__name__).split(".")[-1]
    return Plugin(name.removeprefix("crm_"), obj, getattr(obj, "__version__", ""))
