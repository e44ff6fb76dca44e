"""``crm plugins new NAME``: a new plugin package that installs and works at once.

The package has a pyproject with the entry point in the group ``crm``, hook
implementations (a command, a report, an event hook, a page of ``crm serve``
with its stylesheet), a report template and passing tests. It is what docs/plugin-guide.md walks through.
"""

import pathlib
import re
import string

import click

from .hookspecs import API_VERSION

NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")

FILES = {
    "pyproject.toml": '''\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "A CRM plugin: $name"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["crmcore"]

[project.optional-dependencies]
test = ["pytest>=7.4"]

# The entry point in the group "crm" is what makes this package a CRM plugin.
[project.entry-points.crm]
$name = "$pkg"

[tool.setuptools]
packages = ["$pkg"]

[tool.setuptools.package-data]
$pkg = ["templates/*.html", "static/*"]
''',
    "README.md": '''\
# $dist

A plugin for the CRM. Install it next to crmcore and it is loaded by every `crm` command:

    pip install -e .
    crm plugins list
    crm $name hello
    crm report render $name -o $name.html
    crm serve            # the page /$name, in the menu; its stylesheet is static/$name.css

Test it with `pip install -e '.[test]'` and `pytest`. The fixtures `make_crm`,
`run_cli` and `write_file` come with crmcore.
''',
    "$pkg/__init__.py": '''\
"""$dist: hook implementations. Keep imports here light: every `crm` call imports this module."""

import pathlib

from crmcore import hookimpl

#: The hook API this plugin was written for; a CRM with another major version refuses it.
crm_api_version = $api


@hookimpl
def crm_register_commands(cli):
    # Imported only when `crm $name ...` runs; the line shows in `crm --help`.
    cli.add_lazy_command("$name", "$pkg.commands:group", "Commands of the $name plugin.")


@hookimpl
def crm_register_template_dirs(register):
    register(pathlib.Path(__file__).parent / "templates")


@hookimpl
def crm_register_reports(register):
    from .report import context

    register("$name", "$name.html", "Contacts per country ($name plugin)", context)


@hookimpl
def crm_register_routes(register):
    # A page of `crm serve` at /$name for any logged-in user (web.py).
    from .web import page

    register("/$name", page, "login")


@hookimpl
def crm_register_menu_items(register):
    register("$name", "/$name", "login")


@hookimpl
def crm_register_static(register):
    # static/$name.css is served at /static/plugins/$name/$name.css: the CSP allows only this site's files.
    register(pathlib.Path(__file__).parent / "static")


@hookimpl
def crm_records_saved(crm, table, records):
    """Runs inside the write's transaction: raising here rolls the write back."""
    if table == "contacts":
        seen = crm.get_setting("$name.contacts_seen", 0)
        crm.set_setting("$name.contacts_seen", seen + len(records))
''',
    "$pkg/commands.py": '''\
"""`crm $name ...`: thin commands over library functions."""

import click

from crmcore.cli import get_crm


@click.group(name="$name")
def group():
    """Commands of the $name plugin."""


@group.command()
def hello():
    """Say how many contacts the CRM holds."""
    from .report import contact_count

    crm = get_crm()
    click.echo(f"Hello from $name: {contact_count(crm)} contacts, {crm.get_setting('$name.contacts_seen', 0)} seen")
''',
    "$pkg/report.py": '''\
"""Library code behind the `$name` report."""


def contact_count(crm):
    return crm.store.count("contacts")


def context(crm, params):
    """Template variables of the report; `params` holds --param key=value pairs."""
    rows = crm.store.query(
        "SELECT coalesce(country, '-') AS country, count(*) AS contacts FROM contacts GROUP BY 1 ORDER BY 2 DESC, 1")
    return {"total": contact_count(crm), "by_country": [(r["country"], r["contacts"]) for r in rows]}
''',
    "$pkg/web.py": '''\
"""The $name plugin's page in `crm serve`."""

from crmcore import render_page


def page(request):
    from .report import contact_count

    return render_page(request, "web_$name.html", {"total": contact_count(request.state.crm)})
''',
    "$pkg/templates/web_$name.html": '''\
{% extends "web_layout.html" %}
{% block title %}$name{% endblock %}
{% block head %}<link rel="stylesheet" href="/static/plugins/$name/$name.css">{% endblock %}
{% block content %}
<h1 class="$name-title">$name</h1>
<p>{{ total }} contacts.</p>
{% endblock %}
''',
    "$pkg/static/$name.css": '''\
/* The $name plugin's styles, after the core's crm.css. */
.$name-title { letter-spacing: .02em; }
''',
    "$pkg/templates/$name.html": '''\
{% extends "base.html" %}
{% import "macros.html" as m %}
{% block heading %}$name{% endblock %}
{% block content %}
<div class="kpis">{{ m.kpi("Contacts", total | number) }}</div>
{% call m.card("Contacts per country") %}
{{ bar_chart(by_country, "Contacts per country", "country", "contacts") }}
{% endcall %}
{% endblock %}
''',
    "tests/test_${name}_plugin.py": '''\
"""Tests of the $name plugin, using the fixtures crmcore gives plugin authors."""

import $pkg
from $pkg.report import context
from crmcore.entities import Contact
from crmcore.reports import render


def test_report_counts_contacts_per_country(make_crm):
    crm = make_crm(plugins=[$pkg])
    crm.add_many([Contact(email="a@example.com", country="DE"), Contact(email="b@example.com", country="DE"),
                  Contact(email="c@example.com", country="FR")])
    assert context(crm, {})["by_country"] == [("DE", 2), ("FR", 1)]
    html = render(crm, "$name")
    assert "Contacts per country" in html and "<svg" in html


def test_page_and_its_stylesheet(make_crm, web_user):
    crm = make_crm(plugins=[$pkg])
    client = web_user(crm, "viewer")
    page = client.get("/$name")
    assert page.status_code == 200 and "0 contacts." in page.text
    assert 'href="/static/plugins/$name/$name.css"' in page.text
    css = client.get("/static/plugins/$name/$name.css")
    assert css.status_code == 200 and ".$name-title" in css.text


def test_hook_counts_saved_contacts_and_command_reports_it(run_cli):
    assert run_cli(["init"], plugins="$name").exit_code == 0
    assert run_cli(["contacts", "add", "--email", "ada@example.com"], plugins="$name").exit_code == 0
    result = run_cli(["$name", "hello"], plugins="$name")
    assert result.exit_code == 0
    assert result.output.strip() == "Hello from $name: 1 contacts, 1 seen"
''',
}


def create(name, folder):
    """Write the package for plugin ``name`` into ``folder/crm-NAME``; returns the new folder."""
    from .errors import CRMError

    if not NAME.match(name):
        raise CRMError(f"plugin name {name!r} must start with a lowercase letter and hold only a-z, 0-9, '_' or '-' (at most 40)")
    plain = name.replace("-", "_")
    values = {"name": plain, "pkg": f"crm_{plain}", "dist": f"crm-{plain.replace('_', '-')}", "api": API_VERSION}
    target = pathlib.Path(folder) / values["dist"]
    if target.exists():
        raise CRMError(f"{target} already exists; choose another name or --dir")
    for path, text in FILES.items():
        dest = target / string.Template(path).substitute(values)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(string.Template(text).substitute(values), encoding="utf-8")
    return target


@click.command("new")
@click.argument("name")
@click.option("--dir", "folder", default=".", show_default=True, type=click.Path(file_okay=False), help="Where to create the package folder.")
def plugins_new(name, folder):
    """Create a new plugin package NAME (crm-NAME/) ready for `pip install -e`."""
    target = create(name, folder)
    click.echo(f"Created {target}")
    click.echo(f"Next: pip install -e {target} && crm plugins list && pytest {target}")
