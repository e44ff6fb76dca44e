"""Periods, target arithmetic, territories and the pipeline per segment."""

import datetime as dt

import pytest

import crm_segments
from crm_segments import segments as seg
from crm_segments import targets, territories
from crmcore import CRMError
from crmcore.entities import Contact, Deal, Order, OrderLine


@pytest.mark.parametrize("text, label, start, end, days", [
    ("2024", "2024", "2024-01-01", "2024-12-31", 366),
    ("2024-q1", "2024-Q1", "2024-01-01", "2024-03-31", 91),
    ("2025-Q4", "2025-Q4", "2025-10-01", "2025-12-31", 92),
    ("2025-2", "2025-02", "2025-02-01", "2025-02-28", 28),
])
def test_periods(text, label, start, end, days):
    p = targets.parse_period(text)
    assert (p.label, p.start.isoformat(), p.end.isoformat(), p.days) == (label, start, end, days)


@pytest.mark.parametrize("text", ["2025-13", "2025-Q5", "Q1", "", "25-01"])
def test_bad_periods(text):
    with pytest.raises(ValueError, match="period"):
        targets.parse_period(text)


@pytest.fixture
def crm(make_crm):
    crm = make_crm(plugins=[crm_segments])
    ids = crm.add_many([
        Contact(email="ada@example.com", country="DE", region="Berlin", postal_code="10115", owner="zoe"),
        Contact(email="bo@example.com", country="DE", region="Bayern", postal_code="80331", owner=""),
        Contact(email="cy@example.com", country="AT", region="Wien", postal_code="1010", owner="alice"),
        Contact(email="di@example.com", country="US", region="TX", postal_code="78701", owner="zoe"),
    ])
    crm.ids = ids
    seg.create_segment(crm, "de", 'country == "DE"')
    seg.refresh(crm, ["de"], dt.date(2025, 5, 15))
    return crm


def test_target_arithmetic_by_hand(crm):
    ada, bo, cy, _ = crm.ids
    order_ids = crm.add_many([
        Order(contact_id=ada, ordered_at="2025-04-02", total=300),
        Order(contact_id=bo, ordered_at="2025-05-15", total=150),
        Order(contact_id=ada, ordered_at="2025-05-20", total=1000),   # after the as-of date
        Order(contact_id=ada, ordered_at="2025-03-31", total=1000),   # before the period
        Order(contact_id=cy, ordered_at="2025-04-10", total=1000),    # not in the segment
    ])
    crm.add_many([OrderLine(order_id=order_ids[0], sku="A", quantity=2, unit_price=150),
                  OrderLine(order_id=order_ids[1], sku="B", quantity=3, unit_price=50)])
    targets.set_target(crm, "segment", "de", "2025-q2", revenue=1000, units=20)
    rows = targets.show(crm, as_of=dt.date(2025, 5, 15))
    # Q2 has 91 days; 1 April to 15 May is 45 of them.
    assert rows == [
        {"scope": "segment", "name": "de", "period": "2025-Q2", "metric": "revenue", "target": 1000.0, "actual": 450.0,
         "gap": 550.0, "attainment": 45.0, "forecast": 910.0, "start": "2025-04-01", "end": "2025-06-30"},
        {"scope": "segment", "name": "de", "period": "2025-Q2", "metric": "units", "target": 20.0, "actual": 5.0,
         "gap": 15.0, "attainment": 25.0, "forecast": 10.11, "start": "2025-04-01", "end": "2025-06-30"},
    ]
    after = targets.show(crm, as_of=dt.date(2025, 7, 31))[0]
    assert (after["actual"], after["forecast"], after["gap"]) == (1450.0, 1450.0, -450.0)   # finished: forecast = actual
    before = targets.show(crm, as_of=dt.date(2025, 3, 31))[0]
    assert (before["actual"], before["forecast"]) == (0, 0.0)


def test_setting_a_target_again_replaces_it(crm):
    targets.set_target(crm, "segment", "de", "2025", revenue=100)
    targets.set_target(crm, "segment", "de", "2025", revenue=200)
    assert [r["target"] for r in targets.show(crm, as_of=dt.date(2025, 1, 1))] == [200.0]


@pytest.mark.parametrize("kwargs, message", [
    ({"scope": "segment", "name": "nope", "period": "2025"}, "no segment named 'nope'"),
    ({"scope": "territory", "name": "nope", "period": "2025"}, "no territory named 'nope'"),
    ({"scope": "segment", "name": "de", "period": "2025-Q9"}, "invalid period"),
    ({"scope": "segment", "name": "de", "period": "2025"}, "give a revenue and/or a units target"),
    ({"scope": "segment", "name": "de", "period": "2025", "revenue": -1}, "revenue: must not be negative"),
])
def test_bad_targets(crm, kwargs, message):
    with pytest.raises(CRMError, match=message):
        targets.set_target(crm, **kwargs)


def test_territories_assign_owners_most_specific_first(crm):
    ada, bo, cy, di = crm.ids
    territories.add(crm, "DACH", "alice", ["DE", "AT", "Switzerland"])
    territories.add(crm, "Bavaria", "bob", ["DE"], regions=["Bayern"])
    territories.add(crm, "Berlin-10", "carla", ["DE"], postal_prefixes=["10"])
    assert territories.require(crm, "DACH")["countries"] == ["AT", "CH", "DE"]
    assert territories.assign(crm, dry_run=True) == {"Bavaria": 1, "Berlin-10": 1}
    assert crm.get("contacts", ada)["owner"] == "zoe"
    assert territories.assign(crm) == {"Bavaria": 1, "Berlin-10": 1}
    owners = {r["email"]: r["owner"] for r in crm.store.query("SELECT email, owner FROM contacts")}
    assert owners == {"ada@example.com": "carla", "bo@example.com": "bob", "cy@example.com": "alice", "di@example.com": "zoe"}
    assert territories.assign(crm) == {}
    audit = crm.store.query("SELECT record_id, changes FROM _crm_audit WHERE table_name = 'contacts' AND action = 'update' ORDER BY record_id")
    assert [a["record_id"] for a in audit] == [ada, bo]
    # The most specific territory wins: DACH keeps only the contacts no narrower territory holds.
    assert territories.contact_ids(crm, "DACH") == [cy]
    assert territories.contact_ids(crm, "Bavaria") == [bo]


def test_territory_targets_count_the_territory_contacts(crm):
    cy = crm.ids[2]
    crm.add(Order(contact_id=cy, ordered_at="2025-01-05", total=80))
    territories.add(crm, "Austria", "alice", ["AT"])
    targets.set_target(crm, "territory", "Austria", "2025-01", revenue=100)
    row = targets.show(crm, as_of=dt.date(2025, 1, 31))[0]
    assert (row["actual"], row["attainment"], row["gap"]) == (80.0, 80.0, 20.0)


def test_territories_need_a_country_and_a_unique_name(crm):
    with pytest.raises(CRMError, match="at least one country"):
        territories.add(crm, "Nowhere", "x", [])
    with pytest.raises(CRMError, match="unknown country"):
        territories.add(crm, "Atlantis", "x", ["Atlantis"])
    territories.add(crm, "DE", "x", ["DE"])
    with pytest.raises(CRMError, match="exists already"):
        territories.add(crm, "DE", "y", ["DE"])
    territories.add(crm, "DE", "y", ["DE"], replace=True)
    assert territories.require(crm, "DE")["owner"] == "y"


def test_pipeline_of_a_segment(crm):
    ada, bo, cy, _ = crm.ids
    crm.add_many([
        Deal(title="a", contact_id=ada, amount=1000, stage="lead"),                      # 10% -> 100
        Deal(title="b", contact_id=bo, amount=2000, stage="proposal", probability=80),   # own 80% -> 1600
        Deal(title="c", contact_id=bo, amount=500, stage="proposal"),                     # 50% -> 250
        Deal(title="d", contact_id=cy, amount=9999, stage="lead"),                        # not in the segment
        Deal(title="e", contact_id=ada, amount=300, stage="won", status="won", closed_at="2025-05-02"),
        Deal(title="f", contact_id=ada, amount=700, stage="lost", status="lost", closed_at="2025-01-02"),  # other quarter
    ])
    result = targets.pipeline(crm, crm.segment_contact_ids("de"), as_of=dt.date(2025, 5, 15))
    stages = {s["stage"]: (s["deals"], s["amount"], s["weighted"]) for s in result["stages"]}
    assert stages == {"lead": (1, 1000.0, 100.0), "qualified": (0, 0.0, 0.0), "proposal": (2, 2500.0, 1850.0), "negotiation": (0, 0.0, 0.0)}
    assert (result["period"], result["open_amount"], result["open_weighted"]) == ("2025-Q2", 3500.0, 1950.0)
    assert result["won"] == {"deals": 1, "amount": 300.0}
    assert result["lost"] == {"deals": 0, "amount": 0.0}
