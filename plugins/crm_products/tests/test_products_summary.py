"""The sales summaries must give exactly what summing the order lines gives,
after every way the CRM changes orders (and after changes made outside it)."""

import random

import pytest

import crm_products
from crm_products import analytics, catalogue, summary
from crmcore.app import CRM
from crmcore.entities import Contact, Order, OrderLine
from crmcore.importing import import_orders
from crmcore.store import StoreError

GROUPS = ("product", "category", "month", "total")


def from_lines(crm, by):
    """The same report computed from the order lines (a --since before every
    order keeps the summaries out of it)."""
    return analytics.sales(crm, by, since="1900-01-01")


def assert_summaries_match_lines(crm):
    assert summary.current(crm)
    for by in GROUPS:
        assert analytics.sales(crm, by) == from_lines(crm, by), by
    for sku in ("A", "B", "C", "D", "X"):
        assert analytics.partners(crm, sku, 1, 100, True) == analytics.partners(crm, sku, 1, 100, False), sku


def no_rebuild(crm):
    raise AssertionError("the summaries were rebuilt")


@pytest.fixture
def crm(make_crm):
    crm = make_crm(plugins=[crm_products])
    for sku, category, cost in [("A", "Fruit", 6.0), ("B", "Fruit", 2.0), ("C", "Veg", 5.0), ("D", "Veg", None)]:
        catalogue.add(crm, {"sku": sku, "name": f"Product {sku}", "category": category, "price": 1, "cost": cost})
    return crm


def random_orders(crm, rng, contacts, n):
    for _ in range(n):
        oid = crm.add(Order(contact_id=rng.choice(contacts), ordered_at=f"2024-{rng.randint(1, 4):02d}-{rng.randint(1, 28):02d}"))
        crm.add_many([OrderLine(order_id=oid, sku=rng.choice("ABCDX"), quantity=rng.randint(1, 3), unit_price=rng.choice([2.5, 4.0, 10.0]))
                      for _ in range(rng.randint(1, 4))])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_summaries_follow_every_change(crm, seed, monkeypatch):
    rng = random.Random(seed)
    contacts = [crm.add(Contact(email=f"c{i}@example.com")) for i in range(6)]
    random_orders(crm, rng, contacts, 12)
    assert_summaries_match_lines(crm)  # built from the lines on first use

    with monkeypatch.context() as m:  # new orders are added to the summaries, no rebuild
        m.setattr(summary, "rebuild", no_rebuild)
        random_orders(crm, rng, contacts, 5)
        assert_summaries_match_lines(crm)

    order_ids = [r["id"] for r in crm.store.query("SELECT id FROM orders ORDER BY id")]
    crm.add(OrderLine(order_id=order_ids[0], sku="A", quantity=2, unit_price=3.0))  # a line added to an old order
    gone = rng.sample(order_ids[1:], 2)
    crm.delete("order_lines", [r["id"] for r in crm.store.query(
        f"SELECT id FROM order_lines WHERE order_id IN ({gone[0]}, {gone[1]})")])
    crm.delete("orders", gone)
    assert_summaries_match_lines(crm)

    crm.merge_contacts(contacts[0], contacts[1])
    crm.erase_contact(contacts[2])
    crm.delete("contacts", [contacts[3]])
    assert_summaries_match_lines(crm)

    line = crm.store.query("SELECT id FROM order_lines ORDER BY id LIMIT 1")[0]["id"]
    crm.update("order_lines", line, {"sku": "C", "quantity": 7})
    assert_summaries_match_lines(crm)
    order = crm.store.query("SELECT id FROM orders ORDER BY id DESC LIMIT 1")[0]["id"]
    crm.update("orders", order, {"ordered_at": "2023-12-24"})
    assert_summaries_match_lines(crm)
    crm.delete("order_lines", [line])
    assert_summaries_match_lines(crm)

    with monkeypatch.context() as m:  # the catalogue changed: only the categories are recounted
        m.setattr(summary, "rebuild", no_rebuild)
        crm.update("products", catalogue.find(crm, "A")["id"], {"category": "Veg"})
        assert_summaries_match_lines(crm)
        catalogue.add(crm, {"sku": "X", "name": "Product X", "category": "Nuts", "price": 1, "cost": 1.0})
        assert_summaries_match_lines(crm)
        assert "Nuts" in [r["category"] for r in analytics.sales(crm, "category")]


def test_changes_made_outside_the_crm_are_caught(crm):
    contact = crm.add(Contact(email="a@example.com"))
    oid = crm.add(Order(contact_id=contact, ordered_at="2024-05-01"))
    crm.add(OrderLine(order_id=oid, sku="A", quantity=1, unit_price=10.0))
    assert_summaries_match_lines(crm)
    with crm.store.transaction():
        crm.store.execute("INSERT INTO order_lines (order_id, sku, quantity, unit_price) VALUES (?, 'B', 2, 5.0)", (oid,))
    assert_summaries_match_lines(crm)  # folded in
    with crm.store.transaction():
        crm.store.execute("DELETE FROM order_lines WHERE sku = 'A'")
    assert_summaries_match_lines(crm)  # counted lines differ: rebuilt
    assert [r["sku"] for r in analytics.sales(crm, "product")] == ["B"]
    with crm.store.transaction():
        crm.store.execute("INSERT INTO order_lines (order_id, sku, quantity, unit_price) VALUES (?, NULL, NULL, 5.0)", (oid,))
    assert not summary.current(crm)  # breaks the summaries' rules: the report reads the lines
    assert analytics.sales(crm, "product") == from_lines(crm, "product")


def test_a_line_without_an_order_does_not_make_every_report_rebuild(crm, monkeypatch):
    contact = crm.add(Contact(email="a@example.com"))
    oid = crm.add(Order(contact_id=contact, ordered_at="2024-05-01"))
    crm.add(OrderLine(order_id=oid, sku="A", quantity=1, unit_price=10.0))
    assert_summaries_match_lines(crm)
    crm.add(OrderLine(sku="A", quantity=5, unit_price=10.0))  # no order: in no report
    monkeypatch.setattr(summary, "rebuild", no_rebuild)
    assert_summaries_match_lines(crm)
    assert analytics.sales(crm, "product")[0]["units"] == 1


def test_an_order_import_keeps_the_summaries_and_replacing_orders_subtracts_them(crm, tmp_path, monkeypatch):
    crm.add(Contact(email="a@example.com"))
    crm.add(Contact(email="b@example.com"))
    path = tmp_path / "orders.csv"
    path.write_text("ref,ordered_at,email,sku,quantity,unit_price\n"
                    "SO-1,2024-01-02,a@example.com,A,1,10\nSO-1,2024-01-02,a@example.com,B,2,5\n"
                    "SO-2,2024-02-03,b@example.com,A,3,10\n")
    import_orders(crm, str(path))
    assert_summaries_match_lines(crm)
    path.write_text("ref,ordered_at,email,sku,quantity,unit_price\nSO-1,2024-03-04,b@example.com,C,1,20\n")
    with monkeypatch.context() as m:  # the replaced order is subtracted, no rebuild
        m.setattr(summary, "rebuild", no_rebuild)
        import_orders(crm, str(path), on_conflict="update")
        assert_summaries_match_lines(crm)
    by_product = {r["sku"]: r for r in analytics.sales(crm, "product")}
    assert by_product["A"]["units"] == 3 and by_product["A"]["customers"] == 1 and "B" not in by_product


def test_a_database_that_refuses_the_rebuild_reports_from_the_lines(crm, monkeypatch):
    contact = crm.add(Contact(email="a@example.com"))
    oid = crm.add(Order(contact_id=contact, ordered_at="2024-05-01"))
    crm.add(OrderLine(order_id=oid, sku="A", quantity=1, unit_price=10.0))

    def refuse(crm):
        raise StoreError("database is read-only: check the file's permissions")

    monkeypatch.setattr(summary, "rebuild", refuse)
    assert not summary.current(crm)
    assert analytics.sales(crm, "product") == from_lines(crm, "product")
    assert analytics.sales(crm, "product")[0]["units"] == 1


def test_two_reports_at_once_add_new_lines_once(crm, new_db, monkeypatch):
    contact = crm.add(Contact(email="a@example.com"))
    oid = crm.add(Order(contact_id=contact, ordered_at="2024-05-01"))
    crm.add(OrderLine(order_id=oid, sku="A", quantity=1, unit_price=10.0))
    assert_summaries_match_lines(crm)
    oid = crm.add(Order(contact_id=contact, ordered_at="2024-05-02"))
    crm.add(OrderLine(order_id=oid, sku="B", quantity=2, unit_price=5.0))
    other = CRM(new_db("crm.db"), plugins=[crm_products])  # a second crm process on the same database
    real_state = summary._state
    looked = []

    def other_report_folds_in_after_our_first_look(store):
        state = real_state(store)
        if not looked:
            looked.append(state)
            summary.fold_in(other)
        return state

    try:
        monkeypatch.setattr(summary, "_state", other_report_folds_in_after_our_first_look)
        summary.fold_in(crm)
        monkeypatch.undo()
        assert crm.store.query_value("SELECT sum(lines) FROM product_sales_days") == 2
    finally:
        other.close()
