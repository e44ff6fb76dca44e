"""The hook API as a versioned public contract: a plugin written for another
major version is refused at load with one line, and the generated hook
reference in docs/ matches the hookspecs."""

import json
import types

import pytest

from crmcore import docgen, hookspecs
from crmcore.plugins import check_api_version
from crmcore.testing import write_plugin_dist

FUTURE = '''
import click
from crmcore import hookimpl

crm_api_version = 2  # written for a CRM that does not exist yet

@hookimpl
def crm_register_commands(cli):
    @cli.command()
    def hovercraft():
        "Needs hook API 2."
'''

CURRENT = '''
import click
from crmcore import hookimpl

crm_api_version = "1.4"  # minor versions are compatible

@hookimpl
def crm_register_commands(cli):
    @cli.command()
    def hello():
        "Say hello."
        click.echo("hello from a compatible plugin")
'''


def test_incompatible_plugin_is_refused_in_one_line_and_the_cli_still_works(crm_subprocess, tmp_path):
    site = tmp_path / "site"
    write_plugin_dist(site, "future", "crm_future_api", FUTURE)
    write_plugin_dist(site, "hello", "crm_hello_api", CURRENT)
    run = lambda *args: crm_subprocess(list(args), pythonpath=[str(site)], env={"CRM_LOAD_PLUGINS": "future,hello"})

    init = run("init")
    assert init.returncode == 0, init.stderr
    assert init.stderr.splitlines() == [
        "crm: warning: plugin 'future' not loaded: needs hook API version 2, this CRM provides version 1"]

    hello = run("hello")
    assert hello.returncode == 0 and hello.stdout.strip() == "hello from a compatible plugin"

    refused = run("hovercraft")
    assert refused.returncode == 2 and "No such command 'hovercraft'" in refused.stderr
    assert "Traceback" not in refused.stderr

    listed = run("plugins", "list", "--json")
    rows = {p["name"]: p for p in json.loads(listed.stdout)}
    assert rows["hello"]["enabled"] is True
    assert rows["future"] == {"name": "future", "version": "", "enabled": False, "hooks": [],
                              "error": "needs hook API version 2, this CRM provides version 1"}
    plain = run("plugins", "list")
    assert "not loaded: future: needs hook API version 2, this CRM provides version 1" in plain.stdout


@pytest.mark.parametrize("declared, problem", [
    (None, None),                      # not declared: assumed current
    (1, None),
    ("1.9", None),
    (2, "needs hook API version 2, this CRM provides version 1"),
    (0, "needs hook API version 0, this CRM provides version 1"),
    ("one", "declares an unreadable crm_api_version 'one'"),
])
def test_check_api_version(declared, problem):
    module = types.ModuleType("crm_x")
    if declared is not None:
        module.crm_api_version = declared
    assert check_api_version("x", module) == problem


def test_hook_reference_in_docs_is_generated_and_up_to_date():
    assert docgen.DOCS.read_text(encoding="utf-8") == docgen.render(), "run `python -m crmcore.docgen` and commit docs/hooks.md"
    assert docgen.main(["--check"]) == 0


def test_hook_reference_includes_the_hooks_the_built_in_plugins_declare():
    import crm_segments.hookspecs
    import crm_surveys.hookspecs

    text = docgen.render()
    for module in (crm_segments.hookspecs, crm_surveys.hookspecs):
        for name, fn in vars(module).items():
            if name.startswith("crm_") and callable(fn):
                assert f"### `{name}(" in text, name


def test_hook_reference_lists_every_hook_with_its_arguments_and_contract():
    text = docgen.render()
    specs = [n for n in vars(hookspecs) if n.startswith("crm_")]
    assert len(specs) >= 16
    for name in specs:
        fn = getattr(hookspecs, name)
        assert f"### `{name}(" in text
        assert fn.__doc__.strip().splitlines()[0].strip() in text
    assert "*first non-`None` result wins*" in text.split("crm_segment_contact_ids(crm, name)`")[1].split("###")[0]
    assert text.index("## Registration hooks") < text.index("crm_register_record_types(register)") < text.index("## Event hooks")


def test_docgen_check_fails_when_the_reference_drifts(monkeypatch, tmp_path, capsys):
    stale = tmp_path / "hooks.md"
    stale.write_text(docgen.render().replace("crm_records_saved", "crm_records_stored"), encoding="utf-8")
    monkeypatch.setattr(docgen, "DOCS", stale)
    assert docgen.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().err


GUIDE = docgen.DOCS.parent / "plugin-guide.md"


def test_plugin_guide_links_resolve_and_it_covers_every_helper():
    import re

    from crmcore import charts, formatting, testing

    text = GUIDE.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if not target.startswith("http"):
            assert (GUIDE.parent / target).exists(), f"broken link {target}"
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^## (.+)$", text, re.M)}
    for anchor in re.findall(r"\]\(#([^)]+)\)", text):
        assert anchor in anchors, f"broken anchor #{anchor}"
    for name in charts.TEMPLATE_GLOBALS:
        assert f"`{name}(" in text, f"chart helper {name} is not documented"
    for name in formatting.FILTERS:
        assert f"`{name}`" in text
    fixtures = [n for n, v in vars(testing).items() if hasattr(v, "_pytestfixturefunction") or type(v).__name__ == "FixtureFunctionDefinition"]
    assert fixtures, "no fixtures found in crmcore.testing"
    for name in fixtures:
        assert f"`{name}" in text, f"fixture {name} is not documented"
    for hook in (n for n in vars(hookspecs) if n.startswith("crm_register_")):
        assert hook in text, f"{hook} has no section in the guide"
