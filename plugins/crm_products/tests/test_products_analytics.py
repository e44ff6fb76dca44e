import datetime as dt
import json

import pytest

import crm_products
from crm_products import analytics, catalogue
from crmcore import hookimpl
from crmcore import CRMError
from crmcore.entities import Contact, Order, OrderLine

# Six orders, hand-checked:            n(A)=4  n(B)=4  n(C)=3  n(D)=1  N=6
BASKETS = [
    ("ann", "2024-01-10", [("A", 1, 10.0), ("B", 2, 5.0)]),
    ("ann", "2024-02-11", [("A", 1, 10.0), ("B", 1, 5.0), ("C", 1, 20.0)]),
    ("bob", "2024-02-12", [("A", 2, 10.0), ("C", 1, 20.0)]),
    ("bob", "2024-03-01", [("B", 1, 5.0), ("C", 1, 20.0)]),
    ("cid", "2024-03-02", [("D", 1, 8.0)]),
    ("cid", "2024-03-03", [("A", 1, 10.0), ("A", 1, 10.0), ("B", 1, 5.0)]),  # A twice: still one order
]


@pytest.fixture
def shop(make_crm):
    crm = make_crm(plugins=[crm_products])
    for sku, category, cost in [("A", "Fruit", 6.0), ("B", "Fruit", 2.0), ("C", "Veg", 5.0), ("D", "Veg", None)]:
        catalogue.add(crm, {"sku": sku, "name": f"Product {sku}", "category": category, "price": 1, "cost": cost})
    contacts = {n: crm.add(Contact(email=f"{n}@example.com")) for n in ("ann", "bob", "cid", "dan")}
    for who, day, lines in BASKETS:
        oid = crm.add(Order(contact_id=contacts[who], ordered_at=day))
        crm.add_many([OrderLine(order_id=oid, sku=s, quantity=q, unit_price=p) for s, q, p in lines])
    crm.contacts = contacts
    return crm


def test_bought_together_figures(shop):
    rows = analytics.bought_together(shop, "A", min_lift=0)
    assert rows == [
        # B with A in orders 1, 2, 6: support 3/6, confidence 3/4, lift 3*6/(4*4)
        {"sku": "B", "name": "Product B", "orders_together": 3, "support": 0.5, "confidence": 0.75, "lift": 1.125},
        # C with A in orders 2, 3: support 2/6, confidence 2/4, lift 2*6/(4*3)
        {"sku": "C", "name": "Product C", "orders_together": 2, "support": 0.333333, "confidence": 0.5, "lift": 1.0},
    ]
    # By default only pairs bought together more often than chance: C's lift of exactly 1 is chance.
    assert [r["sku"] for r in analytics.bought_together(shop, "A")] == ["B"]
    assert analytics.bought_together(shop, "A", min_lift=1.2) == []
    assert [r["sku"] for r in analytics.bought_together(shop, "A", min_orders=3)] == ["B"]
    assert analytics.bought_together(shop, "D") == []
    with pytest.raises(CRMError, match="no product with SKU 'Z'"):
        analytics.bought_together(shop, "Z")


@pytest.mark.sqlite_only("SQLite's query plan")
def test_bought_together_uses_the_covering_indexes(shop):
    plan = " | ".join(r["detail"] for r in shop.store.query("EXPLAIN QUERY PLAN " + analytics.BOUGHT_TOGETHER_SQL, ("A", 1, 10)))
    assert "SEARCH a USING COVERING INDEX ix_order_lines_sku_" in plan, plan
    assert "USING COVERING INDEX ix_order_lines_order_sku" in plan, plan
    assert "SCAN" not in plan.replace("SCAN TEMP", "").replace("USE TEMP B-TREE", ""), plan


def test_sales_by_category_month_and_product(shop):
    by_cat = {r["category"]: r for r in analytics.sales(shop, "category")}
    # Fruit: A 6 units * 10 = 60 (cost 36), B 5 units * 5 = 25 (cost 10)
    assert by_cat["Fruit"] == {"category": "Fruit", "units": 11, "revenue": 85.0, "cost": 46.0, "margin": 39.0,
                               "margin_pct": 45.9, "orders": 5, "customers": 3}
    # Veg: C 3 * 20 = 60 (cost 15) and D 8 without a cost: no cost or margin claimed
    assert by_cat["Veg"]["revenue"] == 68.0 and by_cat["Veg"]["cost"] is None and by_cat["Veg"]["margin"] is None
    months = [(r["month"], r["revenue"], r["orders"]) for r in analytics.sales(shop, "month")]
    assert months == [("2024-01", 20.0, 1), ("2024-02", 75.0, 2), ("2024-03", 58.0, 3)]
    since = analytics.sales(shop, "product", since="2024-03-01")
    assert [(r["sku"], r["units"], r["customers"]) for r in since] == [("A", 2, 1), ("C", 1, 1), ("B", 2, 2), ("D", 1, 1)]
    with pytest.raises(CRMError, match="invalid --since"):
        analytics.sales(shop, "product", since="yesterday-ish")


class FakeSegments:
    """Stands in for the segments plugin: answers through the public hook."""

    @hookimpl
    def crm_segment_contact_ids(self, crm, name):
        return {"ab": [crm.contacts["ann"], crm.contacts["bob"]], "nobody": []}.get(name)

    @hookimpl
    def crm_segment_names(self, crm):
        return ["ab", "nobody"]


def test_sales_by_segment(make_crm, shop):
    crm = make_crm(plugins=[crm_products, ("segments", FakeSegments())], name="crm.db")
    crm.contacts = shop.contacts
    rows = analytics.sales_by_segment(crm, ["ab", "nobody"])
    # ann and bob: orders 1-4 = 10+10 + 10+5+20 + 20+20 + 5+20 = 120
    assert [(r["segment"], r["revenue"], r["orders"], r["customers"]) for r in rows] == [("ab", 120.0, 4, 2), ("nobody", 0.0, 0, 0)]
    with pytest.raises(CRMError, match="no segment named 'vip'"):
        analytics.sales_by_segment(crm, ["vip"])
    assert analytics.sales_by_segment(crm, []) == rows  # no names: every segment


def test_suggest_what_goes_with_past_purchases(shop):
    cid = shop.add(Contact(email="eve@example.com"))
    oid = shop.add(Order(contact_id=cid, ordered_at="2024-04-01"))
    shop.add(OrderLine(order_id=oid, sku="C", quantity=1, unit_price=20))
    rows = analytics.suggest(shop, "eve@example.com", min_lift=0)
    # C is in 4 orders now: with A in 2 (0.5), with B in 2 (0.5)
    assert [(r["sku"], r["score"], r["because_of"]) for r in rows] == [("A", 0.5, "C"), ("B", 0.5, "C")]
    # Both pairs are at chance (lift 2*7/(4*4) < 1 for A, 2*7/(4*5) < 1 for B): nothing by default.
    assert analytics.suggest(shop, "eve@example.com") == []
    catalogue.edit(shop, "A", {"lifecycle": "discontinued"})
    assert [r["sku"] for r in analytics.suggest(shop, "eve@example.com", min_lift=0)] == ["B"]
    assert analytics.suggest(shop, "dan@example.com") == []


def test_segment_fields_select_the_contacts_purchases(shop):
    fields = shop.registry.segment_fields
    assert fields["bought_sku"].type == fields["bought_category"].type == "set"
    ann = shop.contacts["ann"]
    skus = [r[0] for r in shop.store.execute(f"SELECT * FROM ({fields['bought_sku'].sql.replace('c.id', '?')}) AS bought", (ann,))]
    assert sorted(set(skus)) == ["A", "B", "C"]
    members = shop.store.query(
        f"SELECT c.id FROM contacts c WHERE 'Veg' IN ({fields['bought_category'].sql}) ORDER BY c.id")
    assert [m["id"] for m in members] == [shop.contacts["ann"], shop.contacts["bob"], shop.contacts["cid"]]


def test_cli_sales_bought_together_suggest(run_cli, write_file):
    run_cli(["init"], plugins="products")
    for name in ("ann", "bob"):
        run_cli(["contacts", "add", "--email", f"{name}@example.com"], plugins="products")
    run_cli(["products", "add", "A", "--name", "Apple", "--category", "Fruit", "--price", "10", "--cost", "4"], plugins="products")
    run_cli(["products", "add", "B", "--name", "Bean", "--category", "Veg", "--price", "5"], plugins="products")
    orders = ("ref,ordered_at,email,sku,quantity,unit_price\nS1,2024-05-01,ann@example.com,A,2,10\nS1,2024-05-01,ann@example.com,B,1,5\n"
              "S2,2024-06-01,bob@example.com,A,1,10\n")
    assert run_cli(["orders", "import", write_file("o.csv", orders)], plugins="products").exit_code == 0
    rows = json.loads(run_cli(["products", "sales", "--by", "category", "--json"], plugins="products").output)
    assert rows[0] == {"category": "Fruit", "units": 3, "revenue": 30.0, "cost": 12.0, "margin": 18.0, "margin_pct": 60.0,
                       "orders": 2, "customers": 2}
    rows = json.loads(run_cli(["products", "sales", "--since", "2024-06-01", "--json"], plugins="products").output)
    assert [(r["sku"], r["units"]) for r in rows] == [("A", 1)]
    r = run_cli(["products", "sales", "--by", "segment", "--segment", "x"], plugins="products")
    assert r.exit_code != 0 and "segments plugin" in r.output
    rows = json.loads(run_cli(["products", "bought-together", "B", "--min-lift", "0", "--json"], plugins="products").output)
    assert rows == [{"sku": "A", "name": "Apple", "orders_together": 1, "support": 0.5, "confidence": 1.0, "lift": 1.0}]
    assert run_cli(["products", "bought-together", "B", "--csv"], plugins="products").output.startswith("sku,name,orders_together")
    rows = json.loads(run_cli(["products", "suggest", "bob@example.com", "--min-lift", "0", "--json"], plugins="products").output)
    assert [(r["sku"], r["score"]) for r in rows] == [("B", 0.5)]
    r = run_cli(["products", "suggest", "nobody@example.com"], plugins="products")
    assert r.exit_code != 0 and "no contact" in r.output


def test_show_reports_the_last_90_days(shop):
    facts = analytics.product_facts(shop, "A", today=dt.date(2024, 4, 15))
    # since 2024-01-16: orders 2, 3, 6 (order 1 is older) -> A units 1 + 2 + 2, revenue 50
    s = facts["sales_90_days"]
    assert (s["since"], s["units"], s["revenue"], s["orders"], s["customers"]) == ("2024-01-16", 5, 50.0, 3, 3)


def test_whole_history_fast_path_agrees_with_the_filtered_query(run_cli, tmp_path):
    """Monthly and segment totals over all orders sum each order first; the
    same figures must come out of the line-by-line query used with --since."""
    from crmcore.app import CRM

    run_cli(["init"], plugins="products")
    run_cli(["demo", "--contacts", "150"], plugins="products")
    crm = CRM(run_cli.db, plugins=[crm_products])
    try:
        fast = analytics.sales(crm, "month")
        slow = analytics.sales(crm, "month", since="1900-01-01")
        assert len(fast) > 12 and fast == slow
        assert analytics.sales(crm, "total") == analytics.sales(crm, "total", since="1900-01-01")
        if crm.store.kind == "sqlite":  # the index pinned for SQLite's planner
            plan = " ".join(r["detail"] for r in crm.store.query("EXPLAIN QUERY PLAN " + analytics._per_order_sales_sql("month", None)))
            assert "SCAN ol USING COVERING INDEX ix_order_lines_order_sku" in plan, plan
    finally:
        crm.close()
