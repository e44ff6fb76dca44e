"""The plugin system: discovery, enable/disable per database, event hooks."""

import json

import pytest

from crmcore import hookimpl
from crmcore.app import CRM
from crmcore.entities import Contact
from crmcore.plugins import PluginError
from crmcore.testing import write_plugin_dist

THROWAWAY = '''
import attrs, click
from crmcore import hookimpl, record, column
from crmcore.schema import ensure_table

crm_api_version = 1

@record("loyalty_points")
@attrs.define(kw_only=True)
class Points:
    id: int | None = column()
    contact_id: int | None = column(references="contacts")
    points: int = column(0)

def m001_points(store):
    ensure_table(store.db, Points)

@hookimpl
def crm_register_record_types(register):
    register(Points)

@hookimpl
def crm_register_migrations(register):
    register(m001_points)

@hookimpl
def crm_records_saved(crm, table, records):
    if table == "contacts":
        crm.store.executemany("INSERT INTO loyalty_points (contact_id, points) VALUES (?, 10)", [(r["id"],) for r in records])

@hookimpl
def crm_register_commands(cli):
    @cli.command()
    def points():
        "Show loyalty points."
        from crmcore.cli import get_crm
        crm = get_crm()
        click.echo(crm.store.query_value("SELECT sum(points) FROM loyalty_points"))
'''


def test_throwaway_plugin_installed_through_an_entry_point(crm_subprocess, tmp_path, write_file):
    path = write_plugin_dist(tmp_path / "site", "loyalty", "crm_loyalty_test", THROWAWAY)
    run = lambda *args: crm_subprocess(list(args), pythonpath=[path])
    assert run("init").returncode == 0
    listed = json.loads(run("plugins", "list", "--json").stdout)
    mine = next(p for p in listed if p["name"] == "loyalty")
    assert mine["enabled"] and "crm_records_saved" in mine["hooks"] and mine["version"] == "0.1"
    csv_file = write_file("c.csv", "email\na@example.com\nb@example.com\n")
    assert run("contacts", "import", csv_file).returncode == 0
    result = run("points")
    assert result.returncode == 0 and result.stdout.strip() == "20"
    assert "points" in run("--help").stdout

    # Disabled: command hidden, hook silent, table kept.
    assert run("plugins", "disable", "loyalty").returncode == 0
    assert "points" not in run("--help").stdout
    hidden = run("points")
    assert hidden.returncode == 2 and "disabled for this database" in hidden.stderr
    run("contacts", "add", "--email", "c@example.com")
    crm = CRM(str(tmp_path / "sub.db"), plugins=[])
    assert crm.store.query_value("SELECT sum(points) FROM loyalty_points") == 20
    crm.close()
    assert run("plugins", "enable", "loyalty").returncode == 0
    assert run("points").stdout.strip() == "20"


def test_broken_plugin_is_reported_in_one_line_and_the_cli_works(crm_subprocess, tmp_path):
    path = write_plugin_dist(tmp_path / "site", "broken", "crm_broken_test", "raise ImportError('missing dependency frobnicate')\n")
    result = crm_subprocess(["init"], pythonpath=[path])
    assert result.returncode == 0
    lines = [l for l in result.stderr.splitlines() if "broken" in l]
    assert lines == ["crm: warning: plugin 'broken' not loaded: failed to import: ImportError: missing dependency frobnicate"]
    bypass = crm_subprocess(["contacts", "list"], pythonpath=[path], env={"CRM_LOAD_PLUGINS": ""})
    assert bypass.returncode == 0 and "broken" not in bypass.stderr


def test_crm_load_plugins_selects_plugins(crm_subprocess, tmp_path):
    path = write_plugin_dist(tmp_path / "site", "loyalty", "crm_loyalty_sel", THROWAWAY)
    none = crm_subprocess(["plugins", "list", "--json"], pythonpath=[path], env={"CRM_LOAD_PLUGINS": ""})
    assert json.loads(none.stdout) == []
    only = crm_subprocess(["plugins", "list", "--json"], pythonpath=[path], env={"CRM_LOAD_PLUGINS": "loyalty"})
    assert [p["name"] for p in json.loads(only.stdout)] == ["loyalty"]


class Exploding:
    crm_plugin_name = "exploding"

    @hookimpl
    def crm_records_saved(self, crm, table, records):
        raise ValueError("no thanks")


def test_failing_event_hook_rolls_back_the_write_and_names_the_plugin(make_crm, write_file):
    crm = make_crm(plugins=[Exploding()])
    with pytest.raises(PluginError, match="plugin 'exploding' failed in crm_records_saved: ValueError: no thanks"):
        crm.add(Contact(email="a@example.com"))
    from crmcore.importing import import_contacts

    with pytest.raises(PluginError):
        import_contacts(crm, write_file("c.csv", "email\na@example.com\n"))
    assert crm.store.count("contacts") == 0
    crm.set_enabled("exploding", False)
    crm.add(Contact(email="a@example.com"))
    assert crm.store.count("contacts") == 1


class Recorder:
    crm_plugin_name = "recorder"

    def __init__(self):
        self.calls = []

    @hookimpl
    def crm_records_saved(self, table, records):
        self.calls.append((table, len(records)))

    @hookimpl
    def crm_records_deleted(self, table, ids):
        self.calls.append(("deleted", table, list(ids)))

    @hookimpl
    def crm_deal_stage_changed(self, deal, old_stage, new_stage):
        self.calls.append(("stage", deal["id"], old_stage, new_stage))

    @hookimpl
    def crm_contacts_merged(self, keep_id, duplicate_id):
        self.calls.append(("merged", keep_id, duplicate_id))


def test_events_fire_once_per_batch(make_crm, write_file, monkeypatch):
    from crmcore import importing
    from crmcore.entities import Deal

    monkeypatch.setattr(importing, "BATCH_SIZE", 100)
    recorder = Recorder()
    crm = make_crm(plugins=[recorder])
    rows = "".join(f"user{i}@example.com\n" for i in range(250))
    importing.import_contacts(crm, write_file("c.csv", "email\n" + rows))
    assert recorder.calls == [("contacts", 100), ("contacts", 100), ("contacts", 50)]
    recorder.calls.clear()
    deal = crm.add(Deal(title="x", contact_id=1))
    crm.move_deal(deal, "proposal")
    crm.merge_contacts("1", "2")
    crm.delete("deals", [deal])
    assert ("stage", deal, "lead", "proposal") in recorder.calls
    assert ("merged", 1, 2) in recorder.calls
    assert ("deleted", "deals", [deal]) in recorder.calls


class Keeper:
    crm_plugin_name = "keeper"

    def __init__(self):
        self.saved = []

    @hookimpl
    def crm_records_saved(self, crm, table, records):
        self.saved.extend(records)


def test_imported_records_reach_hooks_as_stored(make_crm, write_file):
    """New and updated rows of an import reach crm_records_saved exactly as
    crm.get returns them afterwards: tags, custom attributes and consent
    decoded, ids and time stamps filled in."""
    from crmcore.importing import import_contacts

    keeper = Keeper()
    crm = make_crm(plugins=[keeper])
    path = write_file("c.csv", 'email,first_name,tags,consent,Shoe size\na@example.com,Ada,"vip;b2b",yes,38\nb@example.com,Bo,,no,\n')
    assert import_contacts(crm, path).created == 2
    assert keeper.saved == [crm.get("contacts", r["id"]) for r in keeper.saved]
    assert keeper.saved[0]["tags"] == ["b2b", "vip"] and keeper.saved[0]["custom"] == {"Shoe size": "38"}
    assert (keeper.saved[0]["consent"], keeper.saved[1]["consent"]) == (True, False)
    keeper.saved.clear()
    write_file("c.csv", "email,first_name\na@example.com,Ada Augusta\n")
    assert import_contacts(crm, path).updated == 1
    assert keeper.saved == [crm.get("contacts", 1)] and keeper.saved[0]["first_name"] == "Ada Augusta"


def test_core_cannot_be_disabled_and_unknown_plugin_is_named(crm):
    from crmcore import CRMError

    with pytest.raises(CRMError, match="core cannot be disabled"):
        crm.set_enabled("core", False)
    with pytest.raises(CRMError, match="no plugin named 'nope'"):
        crm.set_enabled("nope", True)


def test_core_never_imports_a_plugin():
    import pathlib
    import re

    core = pathlib.Path(__file__).parent.parent / "crmcore"
    offenders = [p.name for p in core.rglob("*.py") if re.search(r"^\s*(from|import)\s+crm_\w+", p.read_text(), re.M)]
    assert offenders == []
