"""The products pages of `crm serve`: catalogue, product page (specs, stock per
location, buyers the user may see) and the contact page's "Products bought" panel."""

import pytest

pytest.importorskip("httpx")

import crm_products  # noqa: E402
from crm_products import catalogue, stock  # noqa: E402
from crmcore.entities import Contact, Order, OrderLine  # noqa: E402


@pytest.fixture
def shop(make_crm):
    crm = make_crm(plugins=[crm_products])
    catalogue.add(crm, {"sku": "TENT-2", "name": "Tent <b>2p</b>", "category": "camping", "price": 199, "weight": 2.4,
                        "length": 220, "width": 140, "height": 110, "version": "2025", "produced_at": "2025-03-01"})
    catalogue.add(crm, {"sku": "MAT-1", "name": "Sleeping mat", "category": "sleeping", "price": 39})
    stock.receive(crm, "TENT-2", 10, location="Hamburg")
    stock.receive(crm, "TENT-2", 3, location="Berlin")
    mine = crm.add(Contact(first_name="Mia", email="mia@example.com", owner="sales@example.com"))
    other = crm.add(Contact(first_name="Otto", email="otto@example.com", owner="else@example.com"))
    for cid, ref, day in ((mine, "A1", "2025-05-01"), (other, "B1", "2025-06-01")):
        order = crm.add(Order(contact_id=cid, ref=ref, ordered_at=day, total=199))
        crm.add(OrderLine(order_id=order, sku="TENT-2", quantity=1, unit_price=199))
    crm.ids = {"mine": mine, "other": other}
    return crm


def test_catalogue_search_and_category(shop, web_user):
    c = web_user(shop, "manager")
    page = c.get("/products").text
    assert "TENT-2" in page and "MAT-1" in page and "Tent &lt;b&gt;2p&lt;/b&gt;" in page
    assert "MAT-1" not in c.get("/products?q=tent").text
    only = c.get("/products?category=sleeping").text
    assert "MAT-1" in only and "TENT-2" not in only
    assert 'href="/products"' in page  # in the menu


def test_product_page_shows_specs_stock_per_location_and_buyers_in_scope(shop, web_user):
    manager = web_user(shop, "manager")
    page = manager.get("/products/TENT-2").text
    for text in ("2025-03-01", "220", "Hamburg", "Berlin", "Mia", "Otto"):
        assert text in page, text
    import re

    found = {loc: float(n) for loc, n in re.findall(r'"Location">([^<]+)</td><td[^>]*>(-?[\d.]+)', page)}
    assert found["Hamburg"] == 10 and found["Berlin"] == 3  # what was received there (sales book at the sale location)
    sales = web_user(shop, "sales")
    page = sales.get("/products/TENT-2").text
    assert "Mia" in page and "Otto" not in page  # buyers outside the user's scope are not named
    assert sales.get("/products/NOPE").status_code == 404
    assert web_user(shop, "service").get("/products").status_code == 403


def test_contact_page_panel_lists_what_the_customer_bought(shop, web_user):
    c = web_user(shop, "sales")
    page = c.get(f"/contacts/{shop.ids['mine']}").text
    assert "Products bought" in page and 'href="/products/TENT-2"' in page
    assert c.get(f"/contacts/{shop.ids['other']}").status_code == 404
