import datetime as dt
import json

import pytest

import crm_products
from crm_products import catalogue, stock
from crmcore import CRMError
from crmcore.entities import Contact, Order, OrderLine

TODAY = dt.date(2024, 6, 30)


@pytest.fixture
def pcrm(make_crm):
    crm = make_crm(plugins=[crm_products])
    catalogue.add(crm, {"sku": "A-1", "name": "Apple", "price": 2, "cost": 1})
    catalogue.add(crm, {"sku": "B-1", "name": "Bean", "price": 3})
    return crm


def level(crm, sku, location="main"):
    return stock.level(crm, catalogue.find(crm, sku)["id"], location)


def sell(crm, day, *lines, ref=None):
    """One order on ``day`` (days before TODAY) with ``(sku, quantity)`` lines."""
    cid = crm.store.query_value("SELECT id FROM contacts WHERE email = 'buyer@example.com'") or crm.add(Contact(email="buyer@example.com"))
    oid = crm.add(Order(contact_id=cid, ordered_at=TODAY - dt.timedelta(days=day), ref=ref))
    return oid, crm.add_many([OrderLine(order_id=oid, sku=s, quantity=q, unit_price=1) for s, q in lines])


def test_ledger_arithmetic(pcrm):
    assert stock.receive(pcrm, "A-1", 10) == 10
    assert stock.receive(pcrm, "A-1", "2,5", location="store") == 2.5
    assert stock.adjust(pcrm, "A-1", -3, "damaged") == 7
    assert stock.transfer(pcrm, "A-1", 4, "main", "store") == (3, 6.5)
    levels = {(r["sku"], r["location"]): r["stock"] for r in stock.levels(pcrm)}
    assert levels == {("A-1", "main"): 3, ("A-1", "store"): 6.5}
    kinds = [(m["kind"], m["location"], m["quantity"]) for m in stock.ledger(pcrm, "A-1")]
    assert sorted(kinds) == sorted([("receipt", "main", 10), ("receipt", "store", 2.5), ("adjustment", "main", -3),
                                    ("transfer", "main", -4), ("transfer", "store", 4)])
    assert all(m["user"] == "tester" and m["at"] for m in stock.ledger(pcrm))


@pytest.mark.parametrize("call, message", [
    (lambda c: stock.receive(c, "A-1", -5), "must be greater than zero"),
    (lambda c: stock.receive(c, "A-1", "lots"), "invalid quantity"),
    (lambda c: stock.receive(c, "NOPE", 5), "no product with SKU 'NOPE'"),
    (lambda c: stock.adjust(c, "A-1", 0, "count"), "must not be zero"),
    (lambda c: stock.adjust(c, "A-1", -1, ""), "needs a reason"),
    (lambda c: stock.adjust(c, "A-1", -11, "lost"), "only 10 in stock"),
    (lambda c: stock.transfer(c, "A-1", 11, "main", "store"), "only 10 in stock"),
    (lambda c: stock.transfer(c, "A-1", 1, "main", "main"), "to itself"),
    (lambda c: stock.transfer(c, "NOPE", 1, "main", "store"), "no product"),
    (lambda c: stock.set_reorder(c, "A-1", -1, 5), "invalid reorder_point"),
])
def test_bad_stock_moves_write_nothing(pcrm, call, message):
    stock.receive(pcrm, "A-1", 10)
    with pytest.raises(CRMError, match=message):
        call(pcrm)
    assert pcrm.store.count("stock_movements") == 1
    assert level(pcrm, "A-1") == 10


def test_cli_stock_commands(run_cli):
    run_cli(["init"], plugins="products")
    run_cli(["products", "add", "A-1", "--name", "Apple"], plugins="products")
    r = run_cli(["products", "stock", "receive", "A-1", "12", "--ref", "PO-1"], plugins="products")
    assert r.exit_code == 0 and "12 in stock" in r.output
    r = run_cli(["products", "stock", "adjust", "A-1", "-2", "--reason", "stock count"], plugins="products")
    assert r.exit_code == 0 and "10 in stock" in r.output, r.output
    r = run_cli(["products", "stock", "transfer", "A-1", "4", "--from", "main", "--to", "store"], plugins="products")
    assert r.exit_code == 0 and "6 at main, 4 at store" in r.output
    rows = json.loads(run_cli(["products", "stock", "levels", "--location", "store", "--json"], plugins="products").output)
    assert [(x["sku"], x["stock"]) for x in rows] == [("A-1", 4)]
    r = run_cli(["products", "stock", "receive", "A-1", "-5"], plugins="products")
    assert r.exit_code == 1 and "Error: invalid quantity: must be greater than zero (got -5)" in r.output
    r = run_cli(["products", "stock", "receive", "ZZZ", "5"], plugins="products")
    assert r.exit_code == 1 and "no product with SKU 'ZZZ'" in r.output
    r = run_cli(["products", "stock", "reorder", "A-1", "--point", "8", "--quantity", "20"], plugins="products")
    assert r.exit_code == 0
    low = json.loads(run_cli(["products", "low-stock", "--json"], plugins="products").output)
    assert [(x["sku"], x["stock"], x["suggested_order"]) for x in low] == [("A-1", 6, 20)]
    ledger = json.loads(run_cli(["products", "stock", "ledger", "--json"], plugins="products").output)
    assert len(ledger) == 4 and {m["kind"] for m in ledger} == {"receipt", "adjustment", "transfer"}


def test_low_stock_figures(pcrm):
    stock.receive(pcrm, "A-1", 100, at="2023-09-01")
    sell(pcrm, 200, ("A-1", 50))  # outside 90 days
    sell(pcrm, 50, ("A-1", 9))    # within 90, not 30
    sell(pcrm, 10, ("A-1", 6))    # within 30
    stock.set_reorder(pcrm, "A-1", 40, 25)
    stock.set_reorder(pcrm, "B-1", 0, 12)  # no stock, no sales: at its point
    stock.receive(pcrm, "B-1", 1, location="store")
    stock.set_reorder(pcrm, "B-1", 0, 5, location="store")  # above its point: not listed
    rows = {r["sku"]: r for r in stock.low_stock(pcrm, today=TODAY)}
    assert set(rows) == {"A-1", "B-1"}
    a = rows["A-1"]
    # stock 100 - 50 - 9 - 6 = 35; demand = max(6/30, 15/90) = 0.2 a day
    assert (a["stock"], a["avg_daily_30"], a["avg_daily_90"], a["days_cover"]) == (35, 0.2, 0.167, 175.0)
    assert a["suggested_order"] == 25  # 30 days of demand (6) are in stock: order the reorder quantity
    a365 = stock.low_stock(pcrm, location="main", cover_days=365, today=TODAY)[0]
    assert a365["suggested_order"] == 38  # 0.2 * 365 - 35
    b = rows["B-1"]
    assert (b["stock"], b["days_cover"], b["suggested_order"]) == (0, None, 12)


def test_saved_order_lines_move_stock_and_can_be_corrected(pcrm):
    stock.receive(pcrm, "A-1", 20)
    oid, line_ids = sell(pcrm, 3, ("A-1", 2), ("A-1", 1), ("ZZZ-9", 4), ref="SO-1")
    assert level(pcrm, "A-1") == 17
    sale = [m for m in stock.ledger(pcrm, "A-1") if m["kind"] == "sale"]
    assert {(m["ref"], m["at"]) for m in sale} == {("SO-1", "2024-06-27T00:00:00")}
    pcrm.update("order_lines", line_ids[0], {"quantity": 5})
    assert level(pcrm, "A-1") == 14
    pcrm.update("order_lines", line_ids[0], {"sku": "B-1"})
    assert (level(pcrm, "A-1"), level(pcrm, "B-1")) == (19, -5)
    pcrm.delete("order_lines", [line_ids[0]])
    assert (level(pcrm, "A-1"), level(pcrm, "B-1")) == (19, 0)


def test_deleting_a_contact_gives_back_the_stock(pcrm):
    stock.receive(pcrm, "A-1", 20)
    sell(pcrm, 3, ("A-1", 2))
    assert level(pcrm, "A-1") == 18
    pcrm.delete("contacts", [pcrm.find_contact("buyer@example.com")["id"]])
    assert level(pcrm, "A-1") == 20


ORDERS = "ref,ordered_at,email,sku,quantity,unit_price\nSO-1,2024-06-01,ann@example.com,A-1,3,2\nSO-1,2024-06-01,ann@example.com,NEW-1,1,9\nSO-2,2024-06-02,ann@example.com,A-1,1,2\n"


def test_order_import_moves_stock_and_reports_unknown_skus(run_cli, write_file):
    run_cli(["init"], plugins="products")
    run_cli(["contacts", "add", "--email", "ann@example.com"], plugins="products")
    run_cli(["products", "add", "A-1", "--name", "Apple"], plugins="products")
    run_cli(["products", "stock", "receive", "A-1", "10"], plugins="products")
    r = run_cli(["orders", "import", write_file("orders.csv", ORDERS)], plugins="products")
    assert r.exit_code == 0, r.output
    levels = json.loads(run_cli(["products", "stock", "levels", "--json"], plugins="products").output)
    assert [(x["sku"], x["location"], x["stock"]) for x in levels] == [("A-1", "main", 6)]
    unknown = json.loads(run_cli(["products", "unknown-skus", "--json"], plugins="products").output)
    assert [(u["sku"], u["lines"], u["units"]) for u in unknown] == [("NEW-1", 1, 1)]
    # replacing an order corrects the ledger instead of booking the sale twice
    changed = ORDERS.replace("A-1,3,2", "A-1,5,2")
    r = run_cli(["orders", "import", write_file("orders2.csv", changed), "--on-conflict", "update"], plugins="products")
    assert r.exit_code == 0, r.output
    levels = json.loads(run_cli(["products", "stock", "levels", "--json"], plugins="products").output)
    assert levels[0]["stock"] == 4
    # the SKU becomes known later: `stock sync` books its past sales
    run_cli(["products", "add", "NEW-1", "--name", "Newcomer"], plugins="products")
    assert "1 sale movements written" in run_cli(["products", "stock", "sync"], plugins="products").output
    assert "0 sale movements written" in run_cli(["products", "stock", "sync"], plugins="products").output


def test_failed_order_import_moves_no_stock(run_cli, write_file):
    run_cli(["init"], plugins="products")
    run_cli(["contacts", "add", "--email", "ann@example.com"], plugins="products")
    run_cli(["products", "add", "A-1", "--name", "Apple"], plugins="products")
    bad = ORDERS + "SO-3,2024-06-03,ann@example.com,A-1,-1,2\n"
    r = run_cli(["orders", "import", write_file("bad.csv", bad)], plugins="products")
    assert r.exit_code != 0 and "row 5: quantity" in r.output
    assert json.loads(run_cli(["products", "stock", "ledger", "--json"], plugins="products").output) == []
