"""The survey report's NPS per month: the core's last 12 months up to the newest
answer, each month with its margin of error, and months with too few answers
not drawn."""

import pytest
from crm_surveys.answers import record_response
from crm_surveys.report import context

from crmcore import CRMError, reports
from crmcore.entities import Contact


def _answer(crm, survey, contact_id, nps_value, csat_value, when):
    return record_response(crm, survey, {"nps": nps_value, "csat": csat_value, "comment": ""}, contact_id=contact_id,
                           channel="web", submitted_at=when)


@pytest.fixture
def answered(scrm, survey):
    people = scrm.add_many([Contact(email=f"p{i}@example.com", created_at="2024-01-01T09:00:00") for i in range(6)])
    # March 2025: 10, 10, 6 -> promoters 2/3, detractors 1/3: NPS 33.3, margin 1.96 * sqrt((2/3 + 1/3 - 1/9) / 3) * 100 = 106.7
    for who, value, day in zip(people, (10, 10, 6), ("03", "10", "20")):
        _answer(scrm, survey, who, value, 5, f"2025-03-{day}T10:00:00")
    # April 2025, up to the 15th (partial): one answer
    _answer(scrm, survey, people[3], 9, 5, "2025-04-15T10:00:00")
    # a year and more before: outside the last 12 months
    _answer(scrm, survey, people[4], 0, 1, "2024-02-01T10:00:00")
    return scrm


def test_trend_is_the_last_12_months_with_margins(answered):
    ctx = context(answered, {"min_answers": "2"})
    assert ctx["period"].description == "Last 12 months: Apr 2024 – Mar 2025 in full, plus Apr 2025 so far (partial month, to 15 Apr 2025)"
    points = {label: (score, margin, n) for label, score, margin, n in ctx["trend"]}
    assert len(ctx["trend"]) == 13 and "Feb 2024" not in points
    assert points["Mar 2025"] == (33.3, 106.7, 3)
    assert points["Apr 2025"] == (100.0, None, 1) and points["Jan 2025"] == (None, None, 0)
    html = reports.render(answered, "survey", {"min_answers": "2"})
    assert "NPS per month, Apr 2024 – 15 Apr 2025" in html
    assert html.count("<g class='score'>") == 1  # March; April has one answer, under the minimum of 2
    assert "Apr 2025 (partial)" in html and "not drawn" in html


def test_months_under_the_minimum_are_not_drawn(answered):
    html = reports.render(answered, "survey")  # the default minimum is 30 answers
    assert "<g class='score" not in html and "No period has 30 answers or more yet" in html
    with pytest.raises(CRMError, match="min_answers"):
        context(answered, {"min_answers": "none"})
