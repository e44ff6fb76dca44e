"""The cohorts report and the dashboard's retention and lifetime-value lines."""

import datetime as dt
import re

import pytest

import crm_segments
from crm_segments import analytics_reports, clv, cohorts
from crmcore import CRMError
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


def test_retention_curve_by_hand(crm):
    rows = cohorts.cohorts(crm, as_of=dt.date(2025, 3, 20))
    # Only January's first month after is complete: ada of ada and bo. March is partial.
    assert cohorts.retention_curve(rows) == [{"period": 1, "cohorts": 1, "customers": 2, "active": 1, "rate": 0.5}]
    rows = cohorts.cohorts(crm, as_of=dt.date(2025, 3, 31))
    # One month after: ada (Jan -> Feb) and cy (Feb -> Mar) of ada, bo, cy; two months: bo of ada and bo.
    assert cohorts.retention_curve(rows) == [{"period": 1, "cohorts": 2, "customers": 3, "active": 2, "rate": 0.6667},
                                             {"period": 2, "cohorts": 1, "customers": 2, "active": 1, "rate": 0.5}]


def test_dashboard_shows_kept_retention_and_lifetime_value(crm, run_cli):
    dash = _text(render(crm, "dashboard"))
    assert "No retention yet: crm segments cohorts" in dash and "Customer lifetime value" not in dash
    cohorts.save_summary(crm, "month", dt.date(2025, 3, 20), cohorts.cohorts(crm, as_of=dt.date(2025, 3, 20)))
    clv.compute(crm, dt.date(2025, 3, 31), horizon_days=60)
    dash = _text(render(crm, "dashboard"))
    assert "Of 3 customers grouped by the month of their first order" in dash
    assert "orders up to 2025-03-20" in dash and "2025-03 runs past 2025-03-20: it is partial and left out" in dash
    assert re.search(r"Months since Cohorts Customers Still buying Retention 1 1 2 1 50.0%", dash)
    assert "Customer lifetime value" in dash and "Fitted to orders up to 2025-03-31" in dash
    html = render(crm, "cohorts", {"as_of": "2025-03-31"})
    assert "Customer lifetime value" in html and "o&#39;cy@example.com" in html and "o'cy@" not in html


def test_cohorts_command_keeps_the_summary_only_for_all_customers(run_cli, tmp_path):
    def ok(*args):
        result = run_cli(list(args), plugins="segments")
        assert result.exit_code == 0, result.output
        return result.output

    ok("init")
    ok("contacts", "add", "--email", "ada@example.com")
    path = tmp_path / "orders.csv"
    path.write_text("ref,email,ordered_at,total\nA1,ada@example.com,2025-01-05,100\nA2,ada@example.com,2025-02-06,40\n")
    ok("orders", "import", str(path))
    ok("segments", "create", "all", "--rule", "orders_count > 0")
    ok("segments", "cohorts", "--segment", "all", "--as-of", "2025-02-28")
    ok("segments", "cohorts", "--metric", "revenue", "--as-of", "2025-02-28")
    from crmcore import CRM

    with CRM(run_cli.db) as crm:
        assert cohorts.stored_summary(crm) is None
    ok("segments", "cohorts", "--as-of", "2025-02-28")
    with CRM(run_cli.db) as crm:
        kept = cohorts.stored_summary(crm)
    assert (kept["as_of"], kept["customers"], kept["curve"]) == (
        "2025-02-28", 1, [{"period": 1, "cohorts": 1, "customers": 1, "active": 1, "rate": 1.0}])
