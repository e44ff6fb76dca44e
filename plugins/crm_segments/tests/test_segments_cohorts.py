"""Retention cohorts, by hand and against an independent pure-Python count."""

import datetime as dt
import json
import random

import pytest

import crm_segments
from crm_segments import cohorts
from crm_segments import segments as seg
from crmcore import CRMError
from crmcore.entities import Contact, Order


@pytest.fixture
def crm(make_crm):
    crm = make_crm(plugins=[crm_segments])
    ada, bo, cy, di = crm.ids = crm.add_many([Contact(email=f"{n}@example.com", country=c)
                                              for n, c in [("ada", "DE"), ("bo", "DE"), ("cy", "AT"), ("di", "US")]])
    crm.add_many([
        Order(contact_id=ada, ordered_at="2025-01-05", total=100),
        Order(contact_id=ada, ordered_at="2025-01-20", total=50),    # same month: one active month
        Order(contact_id=ada, ordered_at="2025-03-02", total=30),
        Order(contact_id=bo, ordered_at="2025-01-31", total=10),
        Order(contact_id=bo, ordered_at="2025-02-01", total=20),
        Order(contact_id=cy, ordered_at="2025-02-10", total=200),
        Order(contact_id=cy, ordered_at="2025-03-15", total=60),
        Order(contact_id=di, ordered_at="2025-03-20", total=99),     # after the as-of date below
        Order(contact_id=None, ordered_at="2025-01-10", total=5),    # an erased customer's order
    ])
    return crm


def _cells(rows):
    return [(r["cohort"], r["period"], r["customers"], r["active"], r["rate"], r["revenue"], r["partial"]) for r in rows]


def test_monthly_cohorts_by_hand(crm):
    rows = cohorts.cohorts(crm, "month", as_of=dt.date(2025, 3, 15))
    # January: ada and bo; February: cy. di's order is after the as-of date.
    assert _cells(rows) == [
        ("2025-01", 0, 2, 2, 1.0, 160.0, False),
        ("2025-01", 1, 2, 1, 0.5, 20.0, False),
        ("2025-01", 2, 2, 1, 0.5, 30.0, True),
        ("2025-02", 0, 1, 1, 1.0, 200.0, False),
        ("2025-02", 1, 1, 1, 1.0, 60.0, True),
    ]
    revenue = cohorts.cohorts(crm, "month", "revenue", as_of=dt.date(2025, 3, 31))
    assert [(r["cohort"], r["period"], r["rate"], r["partial"]) for r in revenue] == [
        ("2025-01", 0, 1.0, False), ("2025-01", 1, 0.125, False), ("2025-01", 2, 0.1875, False),
        ("2025-02", 0, 1.0, False), ("2025-02", 1, 0.3, False), ("2025-03", 0, 1.0, False)]


def test_quarterly_cohorts_and_a_segment(crm):
    rows = cohorts.cohorts(crm, "quarter", as_of=dt.date(2025, 4, 1))
    assert _cells(rows) == [("2025-Q1", 0, 4, 4, 1.0, 569.0, False), ("2025-Q1", 1, 4, 0, 0.0, 0.0, True)]
    seg.create_segment(crm, "de", 'country == "DE"')
    rows = cohorts.cohorts(crm, "month", segment="de", as_of=dt.date(2025, 2, 28))
    assert _cells(rows) == [("2025-01", 0, 2, 2, 1.0, 160.0, False), ("2025-01", 1, 2, 1, 0.5, 20.0, False)]


def test_retention_and_churn_per_period_by_hand(crm):
    rows = cohorts.periods(crm, "month", as_of=dt.date(2025, 3, 31))
    assert [(r["period"], r["start"], r["retained"], r["retention_rate"], r["churn_rate"], r["new"], r["active"], r["partial"])
            for r in rows] == [
        ("2025-01", 0, 0, None, None, 2, 2, False),
        ("2025-02", 2, 1, 0.5, 0.5, 1, 2, False),      # of ada and bo, bo bought again
        ("2025-03", 2, 1, 0.5, 0.5, 1, 3, False),      # of bo and cy, cy did; ada came back, di is new
    ]


def test_bad_options(crm):
    with pytest.raises(CRMError, match="--by"):
        cohorts.cohorts(crm, "week")
    with pytest.raises(CRMError, match="no segment named 'nope'"):
        cohorts.cohorts(crm, segment="nope")


def _reference(orders, by, as_of):
    """Cohorts counted one order at a time, with dates parsed by the datetime module."""
    def index(day):
        return day.year * 12 + day.month - 1 if by == "month" else day.year * 4 + (day.month - 1) // 3

    spent = {}
    for contact, day, total in orders:
        if day <= as_of:
            spent.setdefault(contact, {}).setdefault(index(day), 0.0)
            spent[contact][index(day)] += total
    members = {}
    for contact, periods in spent.items():
        members.setdefault(min(periods), []).append(contact)
    out = {}
    for cohort, people in members.items():
        for p in range(cohort, index(as_of) + 1):
            buyers = [c for c in people if p in spent[c]]
            out[(cohort, p - cohort)] = (len(people), len(buyers), round(sum(spent[c][p] for c in buyers), 2))
    return out


@pytest.mark.parametrize("by", ["month", "quarter"])
def test_random_orders_match_an_independent_count(make_crm, by):
    rng = random.Random(7)
    crm = make_crm(plugins=[crm_segments])
    ids = crm.add_many([Contact(email=f"c{i}@example.com") for i in range(60)])
    start = dt.date(2023, 11, 1)
    orders = [(rng.choice(ids), start + dt.timedelta(days=rng.randrange(560)), round(rng.uniform(1, 300), 2)) for _ in range(400)]
    crm.add_many([Order(contact_id=c, ordered_at=d.isoformat(), total=t) for c, d, t in orders])
    as_of = dt.date(2025, 3, 17)
    rows = cohorts.cohorts(crm, by, as_of=as_of)
    got = {(cohorts._parse(r["cohort"], by), r["period"]): (r["customers"], r["active"], r["revenue"]) for r in rows}
    want = _reference(orders, by, as_of)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key][:2] == want[key][:2]
        assert got[key][2] == pytest.approx(want[key][2], abs=0.011)


def test_cohorts_command(run_cli, tmp_path):
    def ok(*args):
        result = run_cli(list(args), plugins="segments")
        assert result.exit_code == 0, result.output
        return result.output

    ok("init")
    assert json.loads(ok("segments", "cohorts", "--as-of", "2025-02-28", "--json")) == []
    ok("contacts", "add", "--email", "ada@example.com")
    ok("contacts", "add", "--email", "bo@example.com")
    path = tmp_path / "orders.csv"
    path.write_text("ref,email,ordered_at,total\nA1,ada@example.com,2025-01-05,100\n"
                    "A2,ada@example.com,2025-02-06,40\nB1,bo@example.com,2025-02-07,70\n")
    ok("orders", "import", str(path))
    rows = json.loads(ok("segments", "cohorts", "--as-of", "2025-02-28", "--json"))
    assert rows == [
        {"cohort": "2025-01", "period": 0, "customers": 1, "active": 1, "rate": 1.0, "revenue": 100.0, "partial": False},
        {"cohort": "2025-01", "period": 1, "customers": 1, "active": 1, "rate": 1.0, "revenue": 40.0, "partial": False},
        {"cohort": "2025-02", "period": 0, "customers": 1, "active": 1, "rate": 1.0, "revenue": 70.0, "partial": False},
    ]
    csv_text = ok("segments", "cohorts", "--as-of", "2025-02-28", "--by", "quarter", "--csv")
    assert csv_text.splitlines() == ["cohort,period,customers,active,rate,revenue,partial", "2025-Q1,0,2,2,1.0,210.0,1"]
    text = ok("segments", "cohorts", "--as-of", "2025-02-27")
    assert "partial: the month of 2025-02-27 is still running" in text
    bad = run_cli(["segments", "cohorts", "--as-of", "2025-13-01"], plugins="segments")
    assert bad.exit_code != 0 and "--as-of" in bad.output and "Traceback" not in bad.output
