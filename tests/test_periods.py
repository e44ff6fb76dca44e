"""The one "last 12 months" every report uses: the 12 full months before the
current month plus the current month so far, marked partial (crmcore.periods)."""

import datetime as dt

import pytest

from crmcore import periods
from crmcore.periods import add_months, last_12_months, months_to

D = dt.date


def test_mid_month_is_twelve_full_months_plus_the_partial_one():
    p = last_12_months(D(2026, 12, 5))
    assert p.keys == ["2025-12"] + [f"2026-{m:02d}" for m in range(1, 13)]
    assert [m.partial for m in p.months] == [False] * 12 + [True]
    assert p.partial.key == "2026-12" and p.partial.start == D(2026, 12, 1) and p.partial.end == D(2026, 12, 5)
    assert p.partial_label == "Dec 2026"
    assert (p.since, p.until) == ("2025-12-01", "2026-12-06")
    assert p.months[0].label == "Dec 2025" and p.months[0].end == D(2025, 12, 31)
    assert p.description == "Last 12 months: Dec 2025 – Nov 2026 in full, plus Dec 2026 so far (partial month, to 5 Dec 2026)"
    assert p.span == "Dec 2025 – 5 Dec 2026"


def test_last_day_of_a_month_has_no_partial_month():
    p = last_12_months(D(2026, 11, 30))
    assert p.keys[0] == "2025-12" and p.keys[-1] == "2026-11" and len(p.months) == 12
    assert p.partial is None and p.partial_label is None
    assert p.description == "Last 12 months: Dec 2025 – Nov 2026 in full (data up to 30 Nov 2026)"
    assert p.span == "Dec 2025 – Nov 2026"
    assert p.phrase == "the last 12 months: Dec 2025 – Nov 2026 in full (data up to 30 Nov 2026)"
    assert (p.since, p.until) == ("2025-12-01", "2026-12-01")


def test_first_day_of_a_month_is_one_day_of_a_partial_month():
    p = last_12_months(D(2026, 12, 1))
    assert len(p.months) == 13 and p.partial.end == D(2026, 12, 1)
    assert p.until == "2026-12-02"


def test_january_reaches_back_into_the_year_before():
    p = last_12_months(D(2027, 1, 15))
    assert p.keys[0] == "2026-01" and p.keys[-2] == "2026-12" and p.keys[-1] == "2027-01"
    p = last_12_months(D(2027, 1, 31))
    assert p.keys[0] == "2026-02" and p.keys[-1] == "2027-01" and p.partial is None


def test_leap_years():
    assert last_12_months(D(2028, 2, 29)).partial is None  # the last day of a leap February
    p = last_12_months(D(2027, 2, 28))
    assert p.partial is None and p.keys[-1] == "2027-02"
    p = last_12_months(D(2028, 2, 28))  # not the last day in a leap year
    assert p.partial.key == "2028-02" and p.partial.end == D(2028, 2, 28)
    assert [m.end for m in last_12_months(D(2028, 3, 10)).months if m.key == "2028-02"] == [D(2028, 2, 29)]


def test_previous_year_covers_the_same_span():
    p = last_12_months(D(2026, 12, 5)).previous()
    assert (p.since, p.until) == ("2024-12-01", "2025-12-06") and p.partial.key == "2025-12"
    # a full period's previous one is full too, even where February is shorter
    p = last_12_months(D(2028, 2, 29)).previous()
    assert p.as_of == D(2027, 2, 28) and p.partial is None
    p = last_12_months(D(2029, 2, 28)).previous()
    assert p.as_of == D(2028, 2, 29) and p.partial is None


def test_other_lengths_and_series():
    p = months_to(D(2026, 5, 20), 3)
    assert p.keys == ["2026-02", "2026-03", "2026-04", "2026-05"]
    assert p.series({"2026-03": 7, "2026-05": 2}) == [("Feb 2026", 0), ("Mar 2026", 7), ("Apr 2026", 0), ("May 2026", 2)]
    assert months_to("2026-05-31T10:00:00", 1).keys == ["2026-05"]
    assert months_to(D(2026, 5, 3), 1).description == "Last month: Apr 2026 in full, plus May 2026 so far (partial month, to 3 May 2026)"
    assert add_months(D(2026, 3, 31), -1) == D(2026, 2, 28) and add_months(D(2026, 1, 31), 13) == D(2027, 2, 28)
    with pytest.raises(ValueError):
        months_to(D(2026, 5, 3), 0)


def test_report_period_uses_the_newest_date_in_the_data(make_crm):
    from crmcore import CRMError, Order, report_period

    crm = make_crm()
    crm.add(Order(ordered_at="2026-07-14", total=10))
    assert report_period(crm).as_of == D(2026, 7, 14)
    assert report_period(crm, "2026-06-30").partial is None
    with pytest.raises(CRMError, match="as_of"):
        report_period(crm, "14/07/2026")
    assert periods.report_period is report_period
