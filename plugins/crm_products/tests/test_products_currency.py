"""Product sales in the base currency: each line at its order's rate, from the
lines and from the sales summaries alike, and again after new rates."""

import pytest

import crm_products
from crm_products import analytics, catalogue, summary
from crmcore import CRMError
from crmcore.currency import load_rates
from crmcore.entities import Contact, Order, OrderLine


@pytest.fixture
def shop(make_crm, write_file):
    crm = make_crm(plugins=[crm_products])
    catalogue.add(crm, {"sku": "A", "name": "Apple box", "category": "Fruit", "price": 10, "cost": 4.0})
    ann = crm.add(Contact(email="ann@example.com"))
    load_rates(crm, write_file("rates.csv", "date,currency,rate\n2026-01-02,GBP,0.8\n"))
    gbp, eur = crm.add_many([Order(ref="g", contact_id=ann, ordered_at="2026-01-05", currency="GBP", total=40.0),
                             Order(ref="e", contact_id=ann, ordered_at="2026-01-06", currency="EUR", total=30.0)])
    crm.add_many([OrderLine(order_id=gbp, sku="A", quantity=4, unit_price=10.0),   # 40 GBP / 0.8 = 50 EUR
                  OrderLine(order_id=eur, sku="A", quantity=3, unit_price=10.0)])  # 30 EUR
    return crm


def revenue(crm, **options):
    (row,) = analytics.sales(crm, "product", **options)
    return row["revenue"], row["margin"]


def test_sales_convert_each_line_at_its_orders_rate(shop):
    assert revenue(shop, since="1900-01-01") == (80.0, 52.0)  # from the lines: 80 EUR revenue, 7 x 4.00 cost
    assert summary.current(shop)
    assert revenue(shop) == (80.0, 52.0)  # from the summaries


def test_the_summaries_sum_again_after_new_rates(shop, write_file):
    assert revenue(shop) == (80.0, 52.0)
    load_rates(shop, write_file("fix.csv", "date,currency,rate\n2026-01-05,GBP,0.5\n"))  # 40 GBP = 80 EUR now
    assert revenue(shop) == (110.0, 82.0)
    assert revenue(shop, since="1900-01-01") == (110.0, 82.0)


def test_costs_in_another_currency_convert_at_the_latest_rate_or_are_refused(shop, write_file):
    catalogue.add(shop, {"sku": "B", "name": "Pear box", "category": "Fruit", "price": 9, "cost": 3.0, "currency": "USD"})
    with pytest.raises(CRMError, match=r"^products cost in USD, which has no exchange rate to EUR: "
                                       r"load rates with crm rates load FILE$"):
        analytics.sales(shop, "product")
    load_rates(shop, write_file("usd.csv", "date,currency,rate\n2025-12-01,USD,1.6\n2026-01-02,USD,1.5\n"))
    ann = shop.store.query_value("SELECT id FROM contacts")
    oid = shop.add(Order(ref="p", contact_id=ann, ordered_at="2026-01-07", currency="EUR", total=9.0))
    shop.add(OrderLine(order_id=oid, sku="B", quantity=1, unit_price=9.0))
    rows = {r["sku"]: (r["revenue"], r["margin"]) for r in analytics.sales(shop, "product")}
    assert rows == {"A": (80.0, 52.0), "B": (9.0, 7.0)}  # 3 USD at 1.5 per euro = 2 EUR
