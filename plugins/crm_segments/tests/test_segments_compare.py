"""Segments and territories compared on the same metrics, by hand."""

import datetime as dt
import json

import pytest

import crm_products
import crm_segments
import crm_surveys
from crm_segments import compare, rfm, territories
from crm_segments import segments as seg
from crmcore import CRMError
from crmcore.entities import Contact, Deal, Order, OrderLine

AS_OF = dt.date(2025, 6, 30)


@pytest.fixture
def crm(make_crm):
    crm = make_crm(plugins=[crm_segments])
    ada, bo, cy, di = crm.ids = crm.add_many([
        Contact(email="ada@example.com", country="DE", region="Berlin"),
        Contact(email="bo@example.com", country="DE", region="Bayern"),
        Contact(email="cy@example.com", country="AT", region="Wien"),
        Contact(email="di@example.com", country="US"),
    ])
    orders = crm.add_many([
        Order(contact_id=ada, ordered_at="2023-09-01", total=100),   # the 12 months before the last 12 (Jul 2023 - Jun 2024)
        Order(contact_id=ada, ordered_at="2025-01-10", total=300),   # ... and again in the last 12 months (Jul 2024 - Jun 2025)
        Order(contact_id=bo, ordered_at="2024-03-01", total=50),     # the 12 months before the last 12, not again
        Order(contact_id=cy, ordered_at="2025-05-05", total=200),
        Order(contact_id=cy, ordered_at="2025-07-01", total=999),    # after the as-of date
    ])
    crm.add_many([OrderLine(order_id=orders[1], sku="A", quantity=3, unit_price=100),
                  OrderLine(order_id=orders[3], sku="B", quantity=2, unit_price=100)])
    crm.add_many([
        Deal(title="open", contact_id=ada, amount=1000, stage="proposal"),
        Deal(title="won", contact_id=ada, amount=10, stage="won", status="won", closed_at="2025-02-01"),
        Deal(title="lost", contact_id=bo, amount=10, stage="lost", status="lost", closed_at="2025-03-01"),
        Deal(title="won later", contact_id=bo, amount=10, stage="won", status="won", closed_at="2025-08-01"),
        Deal(title="us", contact_id=di, amount=500, stage="lead"),
    ])
    territories.add(crm, "DACH", "alice", ["DE", "AT"])
    territories.add(crm, "Bavaria", "bob", ["DE"], regions=["Bayern"])
    seg.create_segment(crm, "germans", 'country == "DE"')
    return crm


def test_compare_by_hand(crm):
    dach, bavaria, germans = compare.compare(crm, ["DACH", "Bavaria", "germans"], AS_OF)
    assert dach == {
        "name": "DACH", "kind": "territory", "contacts": 2, "customers": 2,    # ada and cy; bo is Bavaria's
        "revenue": 600.0, "orders": 3, "average_order_value": 200.0, "margin": None, "margin_pct": None,
        "rfm_mix": None, "nps": None, "nps_margin": None, "nps_responses": None,
        "open_pipeline": 1000.0, "weighted_pipeline": 500.0,
        "win_rate": 1.0, "retention": 1.0, "clv": None,
    }
    assert (bavaria["contacts"], bavaria["revenue"], bavaria["win_rate"], bavaria["retention"], bavaria["open_pipeline"]) == \
        (1, 50.0, 0.0, 0.0, 0.0)
    # Germans: ada and bo; ada stayed, bo did not: retention 1/2; one deal won, one lost (the later win is after the as-of date).
    assert (germans["kind"], germans["contacts"], germans["revenue"], germans["orders"], germans["average_order_value"]) == \
        ("segment", 2, 450.0, 3, 150.0)
    assert (germans["win_rate"], germans["retention"]) == (0.5, 0.5)


def test_rfm_mix_and_names_in_both_registers(crm):
    rfm.score(crm, AS_OF)
    (row,) = compare.compare(crm, ["germans"], AS_OF)
    assert sum(row["rfm_mix"].values()) == 2
    seg.create_segment(crm, "DACH", 'country == "AT"')
    with pytest.raises(CRMError, match="both a segment and a territory: write segment:DACH or territory:DACH"):
        compare.compare(crm, ["DACH"], AS_OF)
    a, b = compare.compare(crm, ["segment:DACH", "territory:DACH"], AS_OF)
    assert (a["kind"], a["contacts"], b["kind"], b["contacts"]) == ("segment", 1, "territory", 2)
    with pytest.raises(CRMError, match="no segment or territory named 'nope'"):
        compare.compare(crm, ["nope"], AS_OF)
    with pytest.raises(CRMError, match="given twice"):
        compare.compare(crm, ["germans", "germans"], AS_OF)


def test_margin_and_nps_from_the_products_and_surveys_plugins(make_crm):
    from crm_products import catalogue
    from crm_surveys.answers import record_response
    from crm_surveys.definitions import create_survey, get_survey

    crm = make_crm(plugins=[crm_segments, crm_products, crm_surveys])
    ada, bo, cy = crm.add_many([Contact(email=f"{n}@example.com", country="DE") for n in ("ada", "bo", "cy")])
    catalogue.add(crm, {"sku": "A", "name": "A", "price": 100, "cost": 60})
    catalogue.add(crm, {"sku": "B", "name": "B", "price": 50})   # no cost
    order = crm.add(Order(contact_id=ada, ordered_at="2025-01-10", total=200))
    crm.add(OrderLine(order_id=order, sku="A", quantity=2, unit_price=100))
    create_survey(crm, "feedback", "", [{"key": "nps", "type": "nps", "text": "Recommend us?"}], "")
    survey = get_survey(crm, "feedback")
    for cid, score in ((ada, 10), (bo, 9), (cy, 3)):
        record_response(crm, survey, {"nps": score}, contact_id=cid)
    seg.create_segment(crm, "de", 'country == "DE"')
    (row,) = compare.compare(crm, ["de"], AS_OF)
    # 2 x (100 - 60) = 80 of 200; NPS 2/3 - 1/3 = 33.3, margin 100 * 1.96 * sqrt((1 - 1/9) / 3) = 106.7
    assert (row["margin"], row["margin_pct"], row["nps"], row["nps_margin"], row["nps_responses"]) == (80.0, 40.0, 33.3, 106.7, 3)
    order = crm.add(Order(contact_id=bo, ordered_at="2025-01-11", total=50))
    crm.add(OrderLine(order_id=order, sku="B", quantity=1, unit_price=50))
    assert compare.compare(crm, ["de"], AS_OF)[0]["margin"] is None   # a line without a cost: no margin rather than a wrong one


def test_compare_and_territory_pipeline_commands(run_cli):
    def ok(*args):
        result = run_cli(list(args), plugins="segments")
        assert result.exit_code == 0, result.output
        return result.output

    ok("init")
    ok("contacts", "add", "--email", "ada@example.com", "--country", "DE", "--region", "Bayern")
    ok("contacts", "add", "--email", "bo@example.com", "--country", "AT")
    ok("deals", "add", "--title", "Spring", "--contact", "ada@example.com", "--amount", "400", "--stage", "proposal")
    ok("deals", "add", "--title", "Fair", "--contact", "bo@example.com", "--amount", "100", "--stage", "proposal")
    ok("segments", "territories", "add", "DACH", "--country", "DE", "--country", "AT")
    ok("segments", "territories", "add", "Bavaria", "--country", "DE", "--region", "Bayern")
    ok("segments", "create", "everyone", "--rule", 'country is not null')
    rows = json.loads(ok("segments", "compare", "DACH", "Bavaria", "everyone", "--json"))
    assert [(r["name"], r["kind"], r["contacts"], r["open_pipeline"]) for r in rows] == [
        ("DACH", "territory", 1, 100.0), ("Bavaria", "territory", 1, 400.0), ("everyone", "segment", 2, 500.0)]
    assert list(rows[0]) == compare.COMPARE_FIELDS
    assert ok("segments", "compare", "DACH", "--csv").splitlines()[0] == ",".join(compare.COMPARE_FIELDS)
    text = ok("segments", "compare", "DACH", "Bavaria")
    assert text.splitlines()[0].split() == ["metric", "DACH", "Bavaria"]
    pipe = json.loads(ok("segments", "pipeline", "--territory", "Bavaria", "--json"))
    assert pipe["open_amount"] == 400.0
    for args, message in [(["compare", "nope"], "no segment or territory named 'nope'"),
                          (["pipeline", "--territory", "nope"], "no territory named 'nope'"),
                          (["pipeline"], "give a segment NAME or --territory NAME")]:
        bad = run_cli(["segments", *args], plugins="segments")
        assert bad.exit_code != 0 and message in bad.output and "Traceback" not in bad.output, bad.output
