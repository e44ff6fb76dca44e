"""The cohorts report and the dashboard's retention and lifetime-value lines."""

import datetime as dt
import re

import pytest

import crm_segments
from crm_segments import analytics_reports, clv
from crmcore.app import CRMError
from crmcore.entities import Contact, Order
from crmcore.reports import render


@pytest.fixture
def crm(make_crm):
    crm = make_crm(plugins=[crm_segments])
    ada, bo, cy = crm.ids = crm.add_many([Contact(email=f"{n}@example.com") for n in ("ada", "bo", "o'cy")])
    crm.add_many([
        Order(contact_id=ada, ordered_at="2025-01-05", total=100), Order(contact_id=ada, ordered_at="2025-02-06", total=50),
        Order(contact_id=bo, ordered_at="2025-01-07", total=80), Order(contact_id=cy, ordered_at="2025-02-08", total=30),
        Order(contact_id=cy, ordered_at="2025-03-09", total=20), Order(contact_id=bo, ordered_at="2025-03-10", total=10),
    ])
    return crm


def _text(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_cohorts_report_states_the_periods_and_marks_the_partial_one(crm):
    html = render(crm, "cohorts", {"as_of": "2025-03-20"})
    text = _text(html)
    assert "the month 2025-03 is still running" in text
    assert "Hatched, italic cells are in 2025-03, which runs past 2025-03-20: partial" in text
    # January: ada and bo (2 customers); February: ada again (50%); March: bo again (50%, partial).
    assert re.search(r"2025-01 2 100% 2 50% 1 50% 1", text)
    assert html.count("partial\" style") == 2          # the two March cells
    assert "2025-03 (partial)" in text
    ctx = analytics_reports.cohorts_context(crm, {"as_of": "2025-03-31"})
    assert not ctx["current_partial"] and [p["label"] for p in ctx["periods"]] == ["2025-01", "2025-02", "2025-03"]
    # Retention in February: of ada and bo, ada bought again; in March, of ada and cy, cy did.
    assert ctx["retention_chart"] == [("2025-02", 50.0), ("2025-03", 50.0)]
    with pytest.raises(CRMError, match="--param by='week'"):
        render(crm, "cohorts", {"by": "week"})


def test_report_and_dashboard_show_lifetime_value_when_computed(crm):
    assert "Customer lifetime value" not in render(crm, "cohorts", {"as_of": "2025-03-31"})
    clv.compute(crm, dt.date(2025, 3, 31), horizon_days=60)
    html = render(crm, "cohorts", {"as_of": "2025-03-31"})
    assert "Customer lifetime value" in html and "o&#39;cy@example.com" in html and "o'cy@" not in html
    dash = _text(render(crm, "dashboard"))
    assert "Retention by month" in dash and "Customer lifetime value" in dash and "fitted to orders up to 2025-03-31".lower() in dash.lower()
