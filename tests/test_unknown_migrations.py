"""Issue 16, item 7: a database written by a newer version (its migrations
table names steps this version does not know) is never written to: every
write is refused in one line naming the step and saying to upgrade; reading
still works; `crm doctor` reports it and exits non-zero; a backup holding such
steps is not restored. Run with --store=postgres as well."""

import pytest

from crmcore.app import CRM


def add_future_step(location, plugin="core", name="m999_from_the_future"):
    with CRM(location) as crm:
        crm.store.execute("INSERT INTO _crm_migrations (plugin, name, applied_at) VALUES (?, ?, '2030-01-01T00:00:00Z')",
                          (plugin, name))


@pytest.fixture
def newer(run_cli):
    assert run_cli(["init"], plugins="segments").exit_code == 0
    assert run_cli(["contacts", "add", "--email", "ada@example.com"], plugins="segments").exit_code == 0
    add_future_step(run_cli.db)
    return run_cli


def contacts(location):
    with CRM(location) as crm:
        return crm.store.count("contacts")


@pytest.mark.parametrize("args", [["contacts", "add", "--email", "bob@example.com"], ["contacts", "import", "{csv}"],
                                  ["contacts", "unsubscribe", "ada@example.com"], ["migrate"], ["segments", "create", "x", "--static"]])
def test_every_write_is_refused_in_one_line_naming_the_step(newer, write_file, args):
    path = write_file("in.csv", "email\nbob@example.com\n")
    result = newer([a.replace("{csv}", path) for a in args], plugins="segments")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "core.m999_from_the_future" in result.output and "upgrade crmcore" in result.output
    assert contacts(newer.db) == 1


def test_reading_still_works(newer):
    result = newer(["contacts", "list", "--json"], plugins="segments")
    assert result.exit_code == 0 and "ada@example.com" in result.output


def test_a_plugins_unknown_step_names_the_plugin(run_cli):
    run_cli(["init"], plugins="segments")
    add_future_step(run_cli.db, "segments", "m050_newer_segments")
    result = run_cli(["contacts", "add", "--email", "bob@example.com"], plugins="segments")
    assert result.exit_code == 1 and "segments.m050_newer_segments" in result.output


@pytest.mark.sqlite_only("crm doctor checks SQLite files")
def test_doctor_reports_it_and_exits_non_zero(newer):
    result = newer(["doctor"], plugins="segments")
    assert result.exit_code == 1
    assert "core.m999_from_the_future" in result.output and "PROBLEM" in result.output


@pytest.mark.sqlite_only("crm restore works on SQLite files")
def test_restore_refuses_a_backup_from_a_newer_version(run_cli, tmp_path):
    backup_db = str(tmp_path / "newer.db")
    assert run_cli(["init"], db=backup_db).exit_code == 0
    add_future_step(backup_db)
    assert run_cli(["init"]).exit_code == 0
    result = run_cli(["restore", backup_db, "--yes"])
    assert result.exit_code == 1
    assert "core.m999_from_the_future" in result.output and "upgrade crmcore" in result.output
    with CRM(run_cli.db) as crm:
        assert crm.store.query_value("SELECT count(*) FROM _crm_migrations WHERE name = 'm999_from_the_future'") == 0
