"""Issue 16, item 15: running unattended. `crm run-due` runs each enabled
plugin's due jobs (registered with crm_register_jobs), one run at a time;
each job's last run and result show in `crm jobs`; a failing job is reported
and the others still run. Run with --store=postgres as well."""

import datetime as dt
import json
import os

import pytest

from crmcore import CRMError, hookimpl
from crmcore.app import CRM
from crmcore.jobs import parse_every, run_due, run_lock


class Chores:
    crm_plugin_name = "chores"

    def __init__(self):
        self.done = []

    @hookimpl
    def crm_register_jobs(self, crm, register):
        register("chores.sweep", self.sweep, "1h", "sweeps")
        register("chores.broken", self.broken, "1h")
        register("chores.refused", self.refused, "1d")

    def sweep(self, crm):
        self.done.append("sweep")
        return "swept 3 rooms"

    def broken(self, crm):
        raise ZeroDivisionError("division by zero")

    def refused(self, crm):
        raise CRMError("the mail server refused the login")


NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def chores():
    return Chores()


@pytest.fixture
def crm(make_crm, chores):
    return make_crm(plugins=[chores])


def test_due_jobs_run_a_failing_one_is_reported_and_the_others_still_run(crm, chores):
    results = run_due(crm, now=NOW)
    assert [(r["name"], r["result"]) for r in results] == [("chores.broken", "failed"), ("chores.refused", "failed"),
                                                           ("chores.sweep", "ok")]
    assert results[0]["message"].startswith("ZeroDivisionError: division by zero (test_jobs.py:")
    assert results[1]["message"] == "the mail server refused the login"
    assert results[2]["message"] == "swept 3 rooms" and chores.done == ["sweep"]


def test_a_job_runs_again_only_when_its_interval_has_passed(crm, chores):
    run_due(crm, now=NOW)
    assert run_due(crm, now=NOW + dt.timedelta(minutes=59)) == []
    assert [r["name"] for r in run_due(crm, now=NOW + dt.timedelta(hours=1))] == ["chores.broken", "chores.sweep"]
    assert [r["name"] for r in run_due(crm, now=NOW + dt.timedelta(hours=2), only=["chores.refused"])] == ["chores.refused"]
    state = {r["name"]: r for r in crm.store.query("SELECT * FROM _crm_jobs")}
    assert (state["chores.sweep"]["runs"], state["chores.sweep"]["failures"]) == (2, 0)
    assert (state["chores.broken"]["runs"], state["chores.broken"]["failures"]) == (2, 2)
    assert chores.done == ["sweep", "sweep"]


def test_one_run_at_a_time(crm, make_crm, chores):
    other = CRM(crm.location, plugins=[chores])  # another process's connection, as far as the lock is concerned
    try:
        with run_lock(other):
            with pytest.raises(CRMError, match="another `crm run-due` is running on this database"):
                run_due(crm, now=NOW)
        assert chores.done == []
        assert len(run_due(crm, now=NOW)) == 3  # released
    finally:
        other.close()


def test_unknown_job_and_bad_interval_are_one_line_errors(crm):
    with pytest.raises(CRMError, match="no job named 'nope' \\(jobs: chores.broken, chores.refused, chores.sweep\\)"):
        run_due(crm, only=["nope"])
    with pytest.raises(CRMError, match="must look like 15m, 6h, 1d or 1w"):
        parse_every("every tuesday")
    assert parse_every("15m") == 900 and parse_every("2w") == 14 * 86400


def test_cli_run_due_and_jobs_with_segment_refreshes_and_backups(run_cli, tmp_path, request):
    run = lambda args: run_cli(args, plugins="segments")  # noqa: E731
    assert run(["init"]).exit_code == 0
    run(["contacts", "add", "--email", "ada@example.com", "--country", "DE"])
    run(["segments", "create", "germans", "--rule", 'country == "DE"'])
    sqlite = request.config.getoption("--store") != "postgres"
    if sqlite:
        folder = tmp_path / "backups"
        folder.mkdir()
        assert run(["settings", "set", "backup.folder", str(folder)]).exit_code == 0
        assert run(["settings", "set", "backup.keep", "2"]).exit_code == 0
    first = run(["run-due"])
    assert first.exit_code == 0, first.output
    assert "segments.refresh: ok: 1 segment refreshed" in first.output
    assert run(["run-due"]).output == "No job is due.\n"
    listed = json.loads(run(["jobs", "--json"]).output)
    assert [(j["name"], j["result"], j["runs"]) for j in listed] == ([("backup", "ok", 1)] if sqlite else []) + [
        ("segments.refresh", "ok", 1)]
    assert set(listed[0]) == {"name", "plugin", "every", "last_run", "result", "message", "next_due", "runs", "failures",
                              "description"}
    if sqlite:
        for _ in range(3):
            assert run(["run-due", "--job", "backup"]).exit_code == 0
        assert len([f for f in os.listdir(folder) if f.endswith(".db")]) == 2  # retention


@pytest.mark.sqlite_only("the backup job is SQLite's")
def test_cli_exits_1_when_a_job_failed(run_cli, tmp_path):
    run_cli(["init"])
    folder = tmp_path / "gone"
    folder.mkdir()
    run_cli(["settings", "set", "backup.folder", str(folder)])
    folder.rmdir()
    result = run_cli(["run-due"])
    assert result.exit_code == 1
    assert "backup: failed: backup folder" in result.output and "does not exist" in result.output
