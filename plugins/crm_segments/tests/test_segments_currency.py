"""RFM monetary, the purchase fields of rules and the segment report in the
base currency: each order at its date's rate, on hand-computed data."""

import datetime as dt

import pytest

import crm_segments
from crm_segments import rfm
from crm_segments.segments import compile_segment_rule
from crmcore import CRMError
from crmcore.currency import load_rates
from crmcore.entities import Contact, Order

AS_OF = dt.date(2026, 1, 31)


@pytest.fixture
def shop(make_crm, write_file):
    crm = make_crm(plugins=[crm_segments])
    a, b = crm.add_many([Contact(email="a@example.com"), Contact(email="b@example.com")])
    load_rates(crm, write_file("rates.csv", "date,currency,rate\n2026-01-02,GBP,0.8\n2026-01-05,GBP,0.5\n"))
    crm.add_many([
        Order(contact_id=a, ordered_at="2026-01-05", currency="GBP", total=100.0),   # 100 / 0.5 = 200 EUR
        Order(contact_id=a, ordered_at="2026-01-04", currency="GBP", total=40.0),    # Sunday: Friday's 0.8 -> 50 EUR
        Order(contact_id=b, ordered_at="2026-01-06", currency="EUR", total=150.0),
    ])
    crm.ids = (a, b)
    return crm


def test_rfm_monetary_is_in_the_base_currency(shop):
    rfm.score(shop, AS_OF)
    assert {r["email"]: r["monetary"] for r in rfm.rows(shop)} == {"a@example.com": 250.0, "b@example.com": 150.0}
    shop.set_setting("base_currency", "GBP")  # 150 EUR on Jan 6 = 75 GBP
    rfm.score(shop, AS_OF)
    assert {r["email"]: r["monetary"] for r in rfm.rows(shop)} == {"a@example.com": 140.0, "b@example.com": 75.0}


def test_total_spent_in_a_rule_is_converted(shop):
    sql, params = compile_segment_rule(shop, "total_spent > 200", AS_OF)
    assert [r[0] for r in shop.store.execute(sql, params)] == [shop.ids[0]]  # 250 EUR, not 140 "mixed"


def test_a_money_figure_without_rates_is_refused_a_rule_without_money_is_not(shop):
    shop.add(Order(contact_id=shop.ids[1], ordered_at="2026-01-07", currency="CHF", total=10.0))
    message = "orders in CHF have no exchange rate to EUR on or before their dates: load rates with crm rates load FILE"
    with pytest.raises(CRMError, match=message):
        rfm.score(shop, AS_OF)
    with pytest.raises(CRMError, match=message):
        compile_segment_rule(shop, 'email == "a@example.com" and total_spent > 200', AS_OF)
    sql, params = compile_segment_rule(shop, "orders_count >= 2", AS_OF)
    assert [r[0] for r in shop.store.execute(sql, params)] == [shop.ids[0], shop.ids[1]]


def test_the_segment_report_shows_converted_revenue_with_the_base_symbol(shop, run_cli):
    from crm_segments.segments import create_segment

    from crmcore.reports import render

    create_segment(shop, "all", rule='email != ""')
    html = render(shop, "segments")
    assert "€400.00" in html  # 250 + 150 EUR
    shop.set_setting("base_currency", "GBP")
    assert "£215.00" in render(shop, "segments")  # 140 + 75 GBP
