"""`crm --help` and every single command import only what they need: command
modules are registered by name and imported when they run, and the line
`crm --help` shows for each is the command's own."""

import json
import subprocess
import sys

import click
import pytest

from crmcore import cli as cli_module
from crmcore.testing import write_plugin_dist

# Modules that `crm --help` must not import: the record classes, storage and
# rendering libraries, and every command module.
HEAVY = ["attrs", "sqlite_utils", "jinja2", "importlib.metadata", "crmcore.app", "crmcore.entities", "crmcore.commands",
         "crmcore.maintenance", "crm_products.commands", "crm_segments.commands", "crm_surveys.commands", "crm_exports.commands"]

PROBE = """
import json, sys
from crmcore.cli import cli
try:
    cli(sys.argv[1:], prog_name="crm")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def imported_by(args, tmp_path, **env):
    """Run ``crm ARGS`` in a fresh interpreter with every installed plugin;
    return its output and the modules it imported."""
    import os

    full_env = {k: v for k, v in os.environ.items() if k not in ("CRM_LOAD_PLUGINS", "CRM_DB")}
    full_env.update(env)
    run = subprocess.run([sys.executable, "-c", PROBE, "--db", str(tmp_path / "probe.db"), *args],
                         capture_output=True, text=True, env=full_env, timeout=120)
    return run.stdout, set(json.loads(run.stderr.splitlines()[-1]))


def test_help_lists_every_command_without_importing_them(tmp_path):
    out, modules = imported_by(["--help"], tmp_path)
    for name in ["contacts", "companies", "deals", "activities", "orders", "plugins", "report", "demo", "quickstart",
                 "backup", "restore", "doctor", "init", "migrate", "products", "segments", "surveys", "export"]:
        assert f"\n  {name} " in out, name
    assert "Product catalogue, stock ledger" in out
    assert sorted(m for m in HEAVY if m in modules) == []


def test_one_command_imports_its_own_module_only(tmp_path):
    out, modules = imported_by(["products", "--help"], tmp_path)
    assert "Usage: crm products" in out and "crm_products.commands" in modules
    assert not {"crm_segments.commands", "crm_surveys.commands", "crm_exports.commands", "crmcore.commands"} & modules


def registered(plugins):
    """``(parent, name, import path, help)`` of every lazily registered command."""
    from crmcore.activation import Activation

    group = cli_module.CRMGroup()
    Activation(plugins).hook.crm_register_commands(cli=group)
    found = [(None, name, path, help) for name, (path, help) in group._lazy.items()]
    found += [(parent, name, path, None) for parent, children in group._children.items() for name, path in children.items()]
    return found


def test_registered_help_is_the_first_sentence_of_each_commands_docstring():
    import crm_exports
    import crm_products
    import crm_segments
    import crm_surveys

    from crmcore.plugins import as_plugin

    found = registered([as_plugin(m) for m in (crm_products, crm_segments, crm_surveys, crm_exports)])
    assert {name for _, name, _, _ in found} >= set(cli_module.CORE_COMMANDS) | {"products", "segments", "surveys", "export", "where-sent"}
    for parent, name, path, help in found:
        command = cli_module._import(path)
        assert isinstance(command, click.Command), path
        if help is not None:
            assert help == command.get_short_help_str(limit=10_000), name


def test_core_group_extended_by_a_plugin_only_while_it_is_loaded(run_cli):
    assert run_cli(["init"], plugins="exports").exit_code == 0
    assert "where-sent" in run_cli(["contacts", "--help"], plugins="exports").output
    assert "where-sent" not in run_cli(["contacts", "--help"], plugins="").output
    assert "where-sent" in run_cli(["contacts", "--help"], plugins="exports").output


def test_lazy_commands_of_a_disabled_plugin_are_hidden_and_refused(run_cli):
    assert run_cli(["init"], plugins="products").exit_code == 0
    assert "\n  products " in run_cli(["--help"], plugins="products").output
    assert run_cli(["plugins", "disable", "products"], plugins="products").exit_code == 0
    assert "\n  products " not in run_cli(["--help"], plugins="products").output
    refused = run_cli(["products", "list"], plugins="products")
    assert refused.exit_code == 2 and "belongs to plugin 'products', which is disabled" in refused.output


BROKEN = '''
from crmcore import hookimpl

@hookimpl
def crm_register_commands(cli):
    cli.add_lazy_command("gadgets", "crm_gadgets_missing.commands:gadgets", "Gadgets that never arrive.")
'''


BROKEN_CHILD = '''
from crmcore import hookimpl

@hookimpl
def crm_register_commands(cli):
    cli.add_lazy_command("gadget", "crm_gadgets_missing:gadget", "A gadget per contact.", parent="contacts")
'''


def test_a_command_added_to_a_core_group_that_fails_to_import_leaves_the_group_working(crm_subprocess, tmp_path):
    site = write_plugin_dist(tmp_path / "site", "gadgets", "crm_gadgets", BROKEN_CHILD)
    result = crm_subprocess(["contacts", "--help"], pythonpath=[site])
    assert result.returncode == 0 and "Usage: crm contacts" in result.stdout
    assert result.stderr.strip() == ("crm: warning: command 'contacts gadget' could not be loaded from crm_gadgets_missing:gadget: "
                                     "ModuleNotFoundError: No module named 'crm_gadgets_missing'")


@pytest.mark.parametrize("args", [["--help"], ["gadgets", "list"]])
def test_a_lazy_command_that_fails_to_import_is_one_line(crm_subprocess, tmp_path, args):
    site = write_plugin_dist(tmp_path / "site", "gadgets", "crm_gadgets", BROKEN)
    result = crm_subprocess(args, pythonpath=[site])
    if args == ["--help"]:
        assert result.returncode == 0 and "Gadgets that never arrive." in result.stdout
    else:
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert result.stderr.strip() == ("Error: command 'gadgets' could not be loaded from crm_gadgets_missing.commands:gadgets: "
                                         "ModuleNotFoundError: No module named 'crm_gadgets_missing'")


def test_entry_point_scan_finds_what_importlib_metadata_finds(tmp_path, monkeypatch):
    import importlib.metadata

    from crmcore.plugins import entry_points

    # The same distribution twice on the path: the first one wins, for both.
    monkeypatch.syspath_prepend(write_plugin_dist(tmp_path / "later", "gadgets_old", "crm_gadgets", BROKEN, version="1.0"))
    monkeypatch.syspath_prepend(write_plugin_dist(tmp_path / "first", "gadgets", "crm_gadgets", BROKEN, version="2.5"))
    for group in ("crm", "console_scripts", "pytest11"):
        ours = sorted((e.name, e.value) for e in entry_points(group))
        assert ours == sorted((e.name, e.value) for e in importlib.metadata.entry_points(group=group)), group
    gadgets = [e for e in entry_points("crm") if e.value == "crm_gadgets"]
    assert [(e.name, e.version) for e in gadgets] == [("gadgets", "2.5")]
    assert {"products", "segments", "surveys", "exports"} <= {e.name for e in entry_points("crm")}
