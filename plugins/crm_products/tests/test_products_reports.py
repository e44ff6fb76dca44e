import json

import pytest

import crm_products
from crm_products import catalogue, stock
from crmcore import CRMError
from crmcore.entities import Contact, Order, OrderLine
from crmcore.reports import render


@pytest.fixture
def shop(make_crm):
    crm = make_crm(plugins=[crm_products])
    catalogue.add(crm, {"sku": "A-1", "name": "<b>Apple</b>", "category": "Fruit & Co", "price": 2, "cost": 1,
                        "custom": {"origin": "<script>x</script>"}})
    catalogue.add(crm, {"sku": "B-1", "name": "Bean", "category": "Veg", "price": 3})
    stock.receive(crm, "A-1", 5)
    stock.set_reorder(crm, "A-1", 10, 20)
    cid = crm.add(Contact(email="ann@example.com", first_name="Ann"))
    oid = crm.add(Order(contact_id=cid, ordered_at="2024-05-01"))
    crm.add_many([OrderLine(order_id=oid, sku="A-1", quantity=2, unit_price=2), OrderLine(order_id=oid, sku="B-1", quantity=1, unit_price=3)])
    # An order of something else, so that A-1 and B-1 go together more often than chance (lift 2).
    other = crm.add(Order(contact_id=cid, ordered_at="2024-05-02"))
    crm.add(OrderLine(order_id=other, sku="C-1", quantity=1, unit_price=1))
    return crm


def test_products_report_escapes_user_data(shop):
    html = render(shop, "products")
    assert "&lt;b&gt;Apple&lt;/b&gt;" in html and "<b>Apple</b>" not in html
    assert "Fruit &amp; Co" in html
    assert "Revenue by category" in html and "<svg" in html
    assert "Low stock" in html and "A-1" in html


def test_product_report(shop):
    html = render(shop, "product", {"sku": "A-1"})
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>x" not in html
    assert "ann@example.com" in html          # top customers
    assert "B-1" in html                      # bought together
    assert "Units per month" in html
    with pytest.raises(CRMError, match="needs --param sku"):
        render(shop, "product", {})
    with pytest.raises(CRMError, match="no product with SKU 'Z'"):
        render(shop, "product", {"sku": "Z"})


def test_dashboard_section(shop):
    html = render(shop, "dashboard")
    assert 'data-plugin="products"' in html and "Top products by revenue" in html


def test_demo_builds_a_catalogue_that_the_orders_use(run_cli, tmp_path):
    run_cli(["init"], plugins="products")
    r = run_cli(["demo", "--contacts", "120"], plugins="products")
    assert r.exit_code == 0, r.output
    products = json.loads(run_cli(["products", "list", "--json"], plugins="products").output)
    assert len(products) == 21 and {p["category"] for p in products} == {"Garden", "Kitchen", "Outdoor", "Home"}
    assert json.loads(run_cli(["products", "unknown-skus", "--json"], plugins="products").output) == []
    levels = json.loads(run_cli(["products", "stock", "levels", "--json"], plugins="products").output)
    assert levels and all(x["stock"] >= 0 for x in levels)
    ledger = json.loads(run_cli(["products", "stock", "ledger", "--limit", "0", "--json"], plugins="products").output)
    sold = -sum(m["quantity"] for m in ledger if m["kind"] == "sale")
    sales = json.loads(run_cli(["products", "sales", "--json"], plugins="products").output)
    assert sold == sum(s["units"] for s in sales) > 0  # every demo order line moved stock
    out = tmp_path / "products.html"
    assert run_cli(["report", "render", "products", "-o", str(out)], plugins="products").exit_code == 0
    assert "Top sellers" in out.read_text()
