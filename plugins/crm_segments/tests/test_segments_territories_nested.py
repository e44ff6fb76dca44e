"""Nested territories: the most specific one wins, everywhere a territory is counted."""

import datetime as dt
import json

import pytest

import crm_segments
from crm_segments import targets, territories
from crmcore.entities import Contact, Order


@pytest.fixture
def crm(make_crm):
    crm = make_crm(plugins=[crm_segments])
    crm.ids = crm.add_many([
        Contact(email="ada@example.com", country="DE", region="Berlin", postal_code="10115"),
        Contact(email="bo@example.com", country="DE", region="Bayern", postal_code="80331"),
        Contact(email="bea@example.com", country="DE", region="Bayern", postal_code="90402"),
        Contact(email="cy@example.com", country="AT", region="Wien", postal_code="1010"),
        Contact(email="di@example.com", country="US", region="TX", postal_code="78701"),
    ])
    ada, bo, bea, cy, _ = crm.ids
    crm.add_many([
        Order(contact_id=ada, ordered_at="2025-02-01", total=100),
        Order(contact_id=bo, ordered_at="2025-02-02", total=20),
        Order(contact_id=bea, ordered_at="2025-02-03", total=3),
        Order(contact_id=cy, ordered_at="2025-02-04", total=1000),
    ])
    territories.add(crm, "DACH", "alice", ["DE", "AT", "CH"])
    territories.add(crm, "Bavaria", "bob", ["DE"], regions=["Bayern"])
    return crm


def test_nested_territories_count_each_contact_once(crm):
    ada, bo, bea, cy, _ = crm.ids
    counts = {t["name"]: (t["contacts"], t["revenue"]) for t in territories.list_with_counts(crm)}
    # Bavaria (a region) is more specific than DACH (countries): bo and bea are Bavaria's only.
    assert counts == {"Bavaria": (2, 23.0), "DACH": (2, 1100.0)}
    assert territories.contact_ids(crm, "DACH") == [ada, cy]
    assert territories.contact_ids(crm, "Bavaria") == [bo, bea]


def test_nested_territory_targets_count_revenue_once(crm):
    targets.set_target(crm, "territory", "DACH", "2025-02", revenue=2000)
    targets.set_target(crm, "territory", "Bavaria", "2025-02", revenue=100)
    actual = {r["name"]: r["actual"] for r in targets.show(crm, as_of=dt.date(2025, 2, 28))}
    assert actual == {"DACH": 1100.0, "Bavaria": 23.0}



def test_territories_cli(run_cli):
    def ok(*args):
        result = run_cli(list(args), plugins="segments")
        assert result.exit_code == 0, result.output
        return result.output

    ok("init")
    ok("contacts", "add", "--email", "bo@example.com", "--country", "DE", "--region", "Bayern")
    ok("contacts", "add", "--email", "ada@example.com", "--country", "DE", "--region", "Berlin")
    ok("segments", "territories", "add", "DACH", "--country", "DE", "--country", "AT")
    ok("segments", "territories", "add", "Bavaria", "--country", "DE", "--region", "Bayern")
    rows = json.loads(ok("segments", "territories", "list", "--json"))
    assert {r["name"]: r["contacts"] for r in rows} == {"Bavaria": 1, "DACH": 1}
