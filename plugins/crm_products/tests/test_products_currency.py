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


def test_costs_in_another_currency_are_refused_in_one_line(shop):
    catalogue.add(shop, {"sku": "B", "name": "Pear box", "category": "Fruit", "price": 9, "cost": 3.0, "currency": "USD"})
    with pytest.raises(CRMError, match=r"^products cost in USD, not the base currency EUR: margins and stock value need "
                                       r"catalogue costs in EUR$"):
        analytics.sales(shop, "product")
