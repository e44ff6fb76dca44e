"""The business-hours clock: hand-computed cases and hypothesis properties
across weekends, holidays, split days and pauses."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_service.sla import DEFAULT_CONFIG, build, clock, parse_config
from crmcore import CRMError

D = dt.datetime
CONFIG = parse_config({
    "week": {"mon": "09:00-12:00, 13:00-17:00", "tue": "09:00-17:00", "wed": "09:00-17:00", "thu": "09:00-17:00",
             "fri": "09:00-15:00", "sat": "10:00-12:00"},
    "holidays": ["2026-12-24", "2026-12-25", "2026-12-31"],
})
CAL = build(CONFIG).calendar


def test_weekends_holidays_and_lunch_breaks_are_skipped():
    # Friday 14:00 + 3h: 1h Friday, 2h Saturday -> Saturday 12:00.
    assert CAL.add_local(D(2026, 12, 18, 14), 3 * 3600) == D(2026, 12, 19, 12)
    # ... + 4h: Sunday is closed, so the 4th hour is Monday 09:00-10:00.
    assert CAL.add_local(D(2026, 12, 18, 14), 4 * 3600) == D(2026, 12, 21, 10)
    assert CAL.add_local(D(2026, 12, 21, 11), 2 * 3600) == D(2026, 12, 21, 14)   # over lunch
    # Wednesday 23 Dec 16:00 + 2h: 1h Wed, the 24th and 25th are holidays, Saturday 26th 10:00-11:00.
    assert CAL.add_local(D(2026, 12, 23, 16), 2 * 3600) == D(2026, 12, 26, 11)
    assert CAL.between_local(D(2026, 12, 18, 15), D(2026, 12, 21, 9)) == 2 * 3600   # only Saturday
    assert CAL.between_local(D(2026, 12, 24, 0), D(2026, 12, 26, 0)) == 0


def test_a_time_zone_converts_stored_utc_times():
    sla = build(parse_config({"timezone": "Europe/Berlin", "week": {"mon": "09:00-17:00"}}))
    # Monday 2026-11-30 07:00 UTC is 08:00 in Berlin: the day opens at 08:00 UTC; 2h -> 10:00 UTC.
    assert sla.calendar.add("2026-11-30T07:00:00", 2 * 3600) == "2026-11-30T10:00:00"


@pytest.mark.parametrize("data, message", [
    ({"week": {"mon": "9-17"}}, "week.mon: '9-17' is not opening hours"),
    ({"week": {"mon": "17:00-09:00"}}, "must run forwards"),
    ({"week": {"mon": "09:00-12:00, 11:00-13:00"}}, "overlap"),
    ({"week": {"funday": "09:00-17:00"}}, "unknown day"),
    ({"week": {"mon": ""}}, "no opening hours at all"),
    ({"holidays": ["25.12.2026"]}, "holiday '25.12.2026' is not a date"),
    ({"policies": {"urgent": {"first_response": "soon", "resolution": "8h"}}}, "policies.urgent.first_response: 'soon'"),
    ({"policies": {"urgent": {"first_response": "9h", "resolution": "8h"}}}, "longer than the resolution"),
    ({"policies": {"critical": {}}}, "unknown priority critical"),
    ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"weekdays": {}}, "unknown key"),
])
def test_bad_sla_definitions_are_named(data, message):
    with pytest.raises(CRMError, match=message):
        parse_config(data, "sla.yaml")


def test_the_default_config_round_trips():
    assert parse_config(DEFAULT_CONFIG) == DEFAULT_CONFIG


# -- properties ------------------------------------------------------------------------

moments = st.datetimes(min_value=D(2026, 12, 1), max_value=D(2027, 1, 15)).map(lambda d: d.replace(microsecond=0))
durations = st.integers(min_value=0, max_value=120 * 3600)


def open_now(moment):
    return any(a <= moment <= b for a, b in CAL.windows(moment.date()))


@settings(max_examples=150, deadline=None)
@given(moments, durations)
def test_adding_then_measuring_gives_back_the_duration(start, seconds):
    end = CAL.add_local(start, seconds)
    assert end >= start
    assert CAL.between_local(start, end) == seconds
    if seconds:
        assert open_now(end)  # a due time never falls on a weekend, a holiday or a lunch break


@settings(max_examples=150, deadline=None)
@given(moments, moments, moments)
def test_business_time_adds_up_over_consecutive_spans(a, b, c):
    a, b, c = sorted((a, b, c))
    assert CAL.between_local(a, b) + CAL.between_local(b, c) == CAL.between_local(a, c)
    assert CAL.between_local(a, c) <= int((c - a).total_seconds())


@settings(max_examples=100, deadline=None)
@given(moments, st.integers(min_value=0, max_value=30 * 3600), st.integers(min_value=0, max_value=14 * 86400),
       st.sampled_from(["pending", "on-hold"]))
def test_a_pause_moves_the_due_time_by_exactly_the_business_time_it_held(start, worked, paused, status):
    sla = build(CONFIG)
    target = sla.targets["normal"][1]
    start_s = start.isoformat()
    case = {"status": "open", "priority": "normal", "sla_elapsed": 0, "sla_since": None, "first_response_at": start_s}
    case.update(clock(sla, case, start_s))
    pause_at = CAL.add_local(start, min(worked, target - 1))
    case.update(clock(sla, case, pause_at.isoformat(), status=status))
    case["status"] = status
    assert case["breach_at"] is None and case["sla_since"] is None
    resume_at = pause_at + dt.timedelta(seconds=paused)
    case.update(clock(sla, case, resume_at.isoformat(), status="open"))
    due = D.fromisoformat(case["resolution_due"])
    # The time on the clock before the pause plus the time after it is the whole target.
    assert CAL.between_local(start, pause_at) + CAL.between_local(resume_at, due) == target
    assert case["breach_at"] == case["resolution_due"]


# -- the command -----------------------------------------------------------------------


def test_sla_load_and_show_retime_running_cases(run_cli, write_file):
    import json

    run = lambda *a: run_cli(list(a), plugins="service")  # noqa: E731
    run("init")
    run("service", "open", "ada@example.com", "--subject", "x", "--priority", "urgent")
    before = json.loads(run("service", "list", "--json").output)[0]["resolution_due"]
    path = write_file("sla.yaml", "week:\n  mon: '00:00-24:00'\n  tue: '00:00-24:00'\n  wed: '00:00-24:00'\n  thu: '00:00-24:00'\n"
                                  "  fri: '00:00-24:00'\n  sat: '00:00-24:00'\n  sun: '00:00-24:00'\nholidays: [2026-12-25]\n"
                                  "policies:\n  urgent: {first_response: 30m, resolution: 2h}\n")
    result = run("service", "sla", "load", path)
    assert result.exit_code == 0 and "7 business days a week, 1 holidays" in result.output
    rows = json.loads(run("service", "sla", "show", "--json").output)
    assert rows[0] == {"priority": "urgent", "first_response": "30m", "resolution": "2h"}
    case = json.loads(run("service", "list", "--json").output)[0]
    assert case["resolution_due"] != before
    created = dt.datetime.fromisoformat(case["created_at"])
    assert dt.datetime.fromisoformat(case["resolution_due"]) - created <= dt.timedelta(hours=2, seconds=5)
    assert "2026-12-25" in run("service", "sla", "show").output
    bad = write_file("bad.yaml", "week: [1, 2\n")
    result = run("service", "sla", "load", bad)
    assert result.exit_code == 1 and "not valid YAML" in result.output
