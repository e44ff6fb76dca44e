"""Just-in-time supply: stock taken where it is sold, stocktakes, the
reorder formulas worked out by hand, transfers before purchases, purchase
orders and their files, the supply report and a product's history."""

import csv
import datetime as dt
import json
import math
import os
import stat

import pytest
import itertools

from hypothesis import HealthCheck, given, settings, strategies as st

import crm_products
from crm_products import catalogue, locations, planning, purchasing, stock, suppliers, supply_report
from crmcore import CRMError
from crmcore.entities import Contact, Order, OrderLine

TODAY = dt.date(2024, 6, 30)


@pytest.fixture
def pcrm(make_crm):
    crm = make_crm(plugins=[crm_products])
    catalogue.add(crm, {"sku": "A-1", "name": "Apple", "price": 2, "cost": 1})
    catalogue.add(crm, {"sku": "B-1", "name": "Bean", "price": 3, "cost": 2})
    return crm


def level(crm, sku, location="main"):
    return stock.level(crm, catalogue.find(crm, sku)["id"], location)


def sell(crm, day, *lines, channel="", ref=None):
    """One order on ``day`` with ``(sku, quantity)`` lines."""
    cid = crm.store.query_value("SELECT id FROM contacts WHERE email = 'buyer@example.com'") or crm.add(Contact(email="buyer@example.com"))
    oid = crm.add(Order(contact_id=cid, ordered_at=day, channel=channel, ref=ref))
    crm.add_many([OrderLine(order_id=oid, sku=s, quantity=q, unit_price=1) for s, q in lines])
    return oid


# -- the formulas, by hand ---------------------------------------------------------


def test_reorder_formulas_match_the_hand_computed_figures():
    assert planning.z_score(0.95) == pytest.approx(1.6449, abs=1e-4)
    assert planning.z_score(0.99) == pytest.approx(2.3263, abs=1e-4)
    assert planning.service_level("95%") == planning.service_level("95") == planning.service_level("0.95") == 0.95
    # mean 5, sample variance (9+1+1+1+0+0+4+16)/7 = 32/7
    mean, sd = planning.demand_stats([2, 4, 4, 4, 5, 5, 7, 9])
    assert mean == 5 and sd == pytest.approx(math.sqrt(32 / 7))
    # d = 4/day, sigma = 2, L = 9 days, z = 1.645: SS = 1.645 * 2 * 3 = 9.87, ROP = 36 + 9.87
    f = planning.policy(4, 2, 9, 1.645, unit_cost=20, ordering_cost=50, holding_rate=0.25)
    assert f["safety_stock"] == pytest.approx(9.87)
    assert f["reorder_point"] == pytest.approx(45.87)
    # EOQ = sqrt(2 * 1460 * 50 / (0.25 * 20)) = sqrt(29200) = 170.88
    assert f["eoq"] == pytest.approx(170.88, abs=0.01)
    assert f["order_up_to"] == pytest.approx(45.87 + 170.88, abs=0.01)
    # without costs the order covers cover_days of demand: 4 * 30 = 120
    f = planning.policy(4, 2, 9, 1.645)
    assert f["eoq"] is None and f["order_up_to"] == pytest.approx(45.87 + 120)
    assert planning.round_order(37, 12, 24) == 48
    assert planning.round_order(10, 12, 24) == 24
    assert planning.round_order(25, 1, 0) == 25
    assert planning.round_order(0, 12, 24) == 0


@pytest.mark.parametrize("value", ["100%", "40%", "abc", "1.5"])
def test_bad_service_levels_are_one_line_errors(value):
    with pytest.raises(CRMError, match="service level"):
        planning.service_level(value)


# -- stock is taken where it is sold --------------------------------------------------------


def test_a_store_order_takes_stock_from_the_store_not_main(pcrm):
    stock.receive(pcrm, "A-1", 11, location="store")
    locations.map_channel(pcrm, "store", "store")
    sell(pcrm, TODAY, ("A-1", 5), channel="store")
    sell(pcrm, TODAY, ("A-1", 2), channel="web")         # unmapped: the default location
    assert level(pcrm, "A-1", "store") == 6
    assert level(pcrm, "A-1", "main") == -2
    # the sale that took main below zero is recorded and flagged
    rows = locations.negative(pcrm)
    assert [(r["sku"], r["location"], r["stock"], r["sales_while_negative"]) for r in rows] == [("A-1", "main", -2, 1)]
    # a channel that names a known location (an imported location column) sells from it
    sell(pcrm, TODAY, ("A-1", 1), channel="store")
    assert level(pcrm, "A-1", "store") == 5
    # moving an order to another channel moves its stock
    oid = sell(pcrm, TODAY, ("A-1", 3), channel="web")
    pcrm.update("orders", oid, {"channel": "store"})
    assert (level(pcrm, "A-1", "store"), level(pcrm, "A-1", "main")) == (2, -2)


def test_a_stocktake_is_not_drained_by_older_history_imported_later(pcrm):
    locations.map_channel(pcrm, "store", "store")
    assert locations.count(pcrm, "A-1", 11, "store", at="2024-06-01") == 11
    # three years of history, all before the count: stock stays as counted
    for year in (2021, 2022, 2023):
        sell(pcrm, dt.date(year, 5, 1), ("A-1", 4), channel="store")
    sell(pcrm, dt.date(2024, 6, 1), ("A-1", 1), channel="store")   # the count's own day is counted
    assert level(pcrm, "A-1", "store") == 11
    # sales after it move stock
    sell(pcrm, dt.date(2024, 6, 2), ("A-1", 3), channel="store")
    assert level(pcrm, "A-1", "store") == 8
    # a receipt back-dated before the count is counted already too
    stock.receive(pcrm, "A-1", 50, location="store", at="2024-05-20")
    assert level(pcrm, "A-1", "store") == 8
    # a second, later count wins from its date on
    locations.count(pcrm, "A-1", 20, "store", at="2024-06-10T12:00")
    sell(pcrm, dt.date(2024, 6, 5), ("A-1", 2), channel="store")
    assert level(pcrm, "A-1", "store") == 20
    # demand still sees every sale: counts are not sales
    sold = pcrm.store.query_value("SELECT -sum(quantity) FROM stock_movements WHERE kind = 'sale'")
    assert sold == 4 * 3 + 1 + 3 + 2
    # one batch of lines on both sides of both counts: only those after the last count move stock
    cid = pcrm.store.query_value("SELECT id FROM contacts")
    days = [dt.date(2024, 5, 30), dt.date(2024, 6, 3), dt.date(2024, 6, 11), dt.date(2024, 6, 12)]
    oids = pcrm.add_many([Order(contact_id=cid, ordered_at=d, channel="store") for d in days])
    pcrm.add_many([OrderLine(order_id=o, sku="A-1", quantity=q, unit_price=1) for o, q in zip(oids, (1, 2, 3, 4))])
    assert level(pcrm, "A-1", "store") == 20 - 3 - 4
    locations.recount(pcrm, catalogue.find(pcrm, "A-1")["id"], "store")   # the whole ledger agrees
    assert level(pcrm, "A-1", "store") == 13
    with pytest.raises(CRMError, match="invalid quantity"):
        locations.count(pcrm, "A-1", -1, "store")
    with pytest.raises(CRMError, match="invalid date"):
        locations.count(pcrm, "A-1", 1, "store", at="yesterday-ish")


def test_returns_and_cancelled_orders_put_stock_back(pcrm):
    stock.receive(pcrm, "A-1", 10)
    oid = sell(pcrm, TODAY, ("A-1", 4), ("B-1", 1), ref="SO-1")
    assert level(pcrm, "A-1") == 6
    assert locations.cancel_order(pcrm, "SO-1") == 2
    assert (level(pcrm, "A-1"), level(pcrm, "B-1")) == (10, 0)
    with pytest.raises(CRMError, match="cancelled already"):
        locations.cancel_order(pcrm, "SO-1")
    pcrm.delete("order_lines", [r["id"] for r in pcrm.store.query("SELECT id FROM order_lines WHERE order_id = ?", (oid,))])
    pcrm.delete("orders", [oid])            # deleting it later gives nothing back twice
    assert level(pcrm, "A-1") == 10
    assert locations.return_stock(pcrm, "A-1", 2, "main", ref="RMA-7") == 12
    with pytest.raises(CRMError, match="no order"):
        locations.cancel_order(pcrm, "SO-404")


# -- planning from the database ---------------------------------------------------------


def plan_setup(crm, store_units=0):
    """Sales at main of 2, 4, 0, 2 units on the last four days: d = 2,
    sigma = sqrt(8/3); supplier lead time 4 days, packs of 12."""
    suppliers.add_supplier(crm, {"name": "Nordwerk", "lead_time_days": 4})
    suppliers.set_terms(crm, "Nordwerk", "A-1", cost=0.9, pack_size=12)
    stock.receive(crm, "A-1", 18, at="2024-06-01")
    for day, qty in ((27, 2), (28, 4), (30, 2)):
        sell(crm, dt.date(2024, 6, day), ("A-1", qty))
    if store_units:
        stock.receive(crm, "A-1", store_units, location="store", at="2024-06-01")
    # SS = 1.6449 * 1.633 * 2 = 5.372; ROP = 8 + 5.372 = 13.37; order-up-to = ROP + 10 days * 2 = 33.37


def test_plan_buys_up_to_the_order_up_to_level_in_whole_packs(pcrm):
    plan_setup(pcrm)
    rows = planning.plan(pcrm, service="95%", window=4, as_of=TODAY, cover_days=10)
    assert len(rows) == 1
    r = rows[0]
    assert (r["action"], r["sku"], r["location"], r["supplier"]) == ("purchase", "A-1", "main", "Nordwerk")
    assert r["on_hand"] == 10 and r["daily_demand"] == 2 and r["demand_sd"] == pytest.approx(1.633, abs=1e-3)
    assert r["safety_stock"] == pytest.approx(5.37, abs=0.01)
    assert r["reorder_point"] == pytest.approx(13.37, abs=0.01)
    assert r["order_up_to"] == pytest.approx(33.37, abs=0.01)
    assert r["quantity"] == 24            # need 33.37 - 10 = 23.4 -> 24 units, two packs of 12
    assert r["value"] == pytest.approx(21.6)
    # a draft purchase order counts as on order: planning again buys nothing more
    refs, unsourced = purchasing.create_from_plan(pcrm, rows)
    assert len(refs) == 1 and unsourced == []
    assert planning.plan(pcrm, service="95%", window=4, as_of=TODAY, cover_days=10) == []


def test_transfers_come_before_purchases(pcrm):
    plan_setup(pcrm, store_units=15)      # the store sells nothing: all 15 are spare
    rows = planning.plan(pcrm, service="95%", window=4, as_of=TODAY, cover_days=10)
    assert [(r["action"], r["location"], r["from_location"], r["quantity"]) for r in rows] == [
        ("transfer", "main", "store", 15.0)]  # 10 + 15 = 25 > ROP 13.37: no purchase
    plan_more = planning.plan(pcrm, service="95%", window=4, as_of=TODAY, cover_days=30)
    # order-up-to 13.37 + 60 = 73.37: the store gives its 15, then 73.37 - 25 = 48.4 -> 49 -> 60 (packs of 12)
    assert [(r["action"], r["from_location"] or r["supplier"], r["quantity"]) for r in plan_more] == [
        ("transfer", "store", 15.0)]
    # position after the transfer is 25 > 13.37: the transfer fixes the shortage, nothing is bought
    stock.transfer(pcrm, "A-1", 15, "store", "main")
    assert level(pcrm, "A-1", "store") == 0


def test_transfer_leaves_the_giver_its_own_reorder_point(pcrm):
    plan_setup(pcrm, store_units=15)
    # the store also sells 1 a day: its ROP = 1 * 4 + 0 = 4, so it gives 11
    for day in (27, 28, 29, 30):
        sell(pcrm, dt.date(2024, 6, day), ("A-1", 1), channel="store")
    locations.map_channel(pcrm, "store", "store")
    for oid in [r["id"] for r in pcrm.store.query("SELECT id FROM orders WHERE channel = 'store'")]:
        pcrm.update("orders", oid, {"ref": f"S-{oid}"})   # re-sync: now sold from the store
    rows = planning.plan(pcrm, service="95%", window=4, as_of=TODAY, cover_days=10)
    assert level(pcrm, "A-1", "store") == 11
    # the store keeps more than its ROP of 4 (5 units) and gives 6; main then has 16 > 13.37
    assert [(r["action"], r["from_location"], r["quantity"]) for r in rows] == [("transfer", "store", 6.0)]


items_strategy = st.lists(
    st.tuples(st.sampled_from(["A", "B"]), st.sampled_from(["main", "store", "web"]),
              st.integers(0, 60), st.integers(0, 20), st.floats(0, 6), st.floats(0, 4), st.integers(1, 21),
              st.sampled_from([1, 6, 12]), st.sampled_from([0, 10, 24])),
    min_size=1, max_size=8, unique_by=lambda t: (t[0], t[1]))


@settings(max_examples=150, deadline=None)
@given(items_strategy, st.sampled_from([0.8, 0.9, 0.95, 0.99]), st.sampled_from([7, 30]))
def test_following_the_plan_never_drives_a_location_negative(raw, level_, cover):
    items = [{"sku": s, "location": loc, "on_hand": float(h), "on_order": float(o), "mean": m, "sd": sd, "lead_time": lt,
              "supplier": "S", "cost": 1.0, "pack_size": pack, "min_order": moq} for s, loc, h, o, m, sd, lt, pack, moq in raw]
    actions, figures = planning.plan_actions(items, planning.z_score(level_), cover_days=cover)
    on_hand = {(it["sku"], it["location"]): it["on_hand"] for it in items}
    position = {(it["sku"], it["location"]): it["on_hand"] + it["on_order"] for it in items}
    for a in actions:                               # follow the plan: transfers, then receipts
        key = (a["sku"], a["location"])
        assert a["quantity"] > 0
        if a["action"] == "transfer":
            giver = (a["sku"], a["from_location"])
            on_hand[giver] -= a["quantity"]
            position[giver] -= a["quantity"]
            # a giver keeps more than its own need, or gives all where nothing sells
            assert on_hand[giver] > figures[giver]["reorder_point"] or figures[giver]["order_up_to"] <= 1e-9
        on_hand[key] += a["quantity"]
        position[key] += a["quantity"]
    assert all(v >= 0 for v in on_hand.values())
    for key, f in figures.items():                  # and every shortage is fixed
        if f["order_up_to"] > 1e-9:
            assert position[key] > f["reorder_point"] - 1e-6 or position[key] >= f["order_up_to"] - 1e-6


_names = itertools.count()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["main", "store", "web"]), st.tuples(st.integers(0, 40), st.lists(st.integers(0, 4), min_size=6, max_size=6)),
                       min_size=1, max_size=3),
       st.sampled_from([1, 6, 12]), st.sampled_from([0, 20]), st.integers(1, 10))
def test_following_the_plan_in_the_crm_never_drives_a_location_negative(make_crm, shop, pack, moq, lead):
    """Stock at up to three locations, six days of sales there (never more than
    the shelf holds), then the plan followed through the real commands:
    transfers (which refuse to overdraw), purchase orders from the plan,
    sent and received. No location ends below zero, and none is still at or
    under its reorder point with nothing on order."""
    crm = make_crm(plugins=[crm_products], name=f"plan{next(_names)}.db")
    catalogue.add(crm, {"sku": "A-1", "name": "Apple", "price": 2, "cost": 1})
    suppliers.add_supplier(crm, {"name": "S", "lead_time_days": lead})
    suppliers.set_terms(crm, "S", "A-1", cost=1, pack_size=pack, min_order=moq)
    cid = crm.add(Contact(email="b@example.com"))
    for loc, (start, sales) in sorted(shop.items()):
        locations.map_channel(crm, loc, loc)
        if start:
            stock.receive(crm, "A-1", start, location=loc, at="2024-06-01")
        left = start
        for i, qty in enumerate(sales):
            qty = min(qty, left)
            if qty:
                left -= qty
                oid = crm.add(Order(contact_id=cid, ordered_at=dt.date(2024, 6, 25 + i), channel=loc))
                crm.add(OrderLine(order_id=oid, sku="A-1", quantity=qty, unit_price=2))
    rows = planning.plan(crm, window=6, as_of=TODAY)
    for r in rows:
        if r["action"] == "transfer":
            stock.transfer(crm, "A-1", r["quantity"], r["from_location"], r["location"])
    refs, unsourced = purchasing.create_from_plan(crm, rows)
    assert unsourced == []
    for ref in refs:
        purchasing.receive(crm, ref, at="2024-07-01")
    levels = {r["location"]: r["stock"] for r in stock.levels(crm, sku="A-1")}
    assert all(v >= 0 for v in levels.values()), levels
    assert planning.plan(crm, window=6, as_of=TODAY) == []   # nothing left short


# -- suppliers and purchase orders ---------------------------------------------------------


def test_suppliers_terms_and_the_preferred_one(pcrm):
    suppliers.add_supplier(pcrm, {"name": "Nordwerk", "lead_time_days": 10})
    suppliers.add_supplier(pcrm, {"name": "Hansen", "lead_time_days": 3})
    suppliers.set_terms(pcrm, "Nordwerk", "A-1", cost=0.9, pack_size=12, min_order=24)
    suppliers.set_terms(pcrm, "Hansen", "A-1", cost=1.1)
    rows = suppliers.terms(pcrm, sku="A-1")
    assert [(r["supplier"], r["preferred"], r["lead_time_days"]) for r in rows] == [("Nordwerk", True, 10), ("Hansen", False, 3)]
    suppliers.set_terms(pcrm, "Hansen", "A-1", preferred=True)
    assert [(r["supplier"], r["preferred"]) for r in suppliers.terms(pcrm, sku="A-1")] == [("Hansen", True), ("Nordwerk", False)]
    pid = catalogue.find(pcrm, "A-1")["id"]
    assert suppliers.sourcing(pcrm)[pid]["supplier"] == "Hansen"
    with pytest.raises(CRMError, match="pack_size"):
        suppliers.set_terms(pcrm, "Hansen", "A-1", pack_size=0)
    with pytest.raises(CRMError, match="no supplier"):
        suppliers.set_terms(pcrm, "Nobody", "A-1", cost=1)


def test_purchase_order_send_and_partial_receipts(pcrm, tmp_path):
    suppliers.add_supplier(pcrm, {"name": "=HYPERLINK(\"x\") <b>Nord</b>", "lead_time_days": 10})
    name = "=HYPERLINK(\"x\") <b>Nord</b>"
    suppliers.set_terms(pcrm, name, "A-1", cost=0.9, pack_size=12, min_order=24, supplier_sku="-NW-1")
    ref = purchasing.create(pcrm, name, [("A-1", 30), ("B-1", 5)], "store")
    po = purchasing.show_po(pcrm, ref)
    assert ref == "PO-00001" and po["status"] == "draft"
    assert {l["sku"]: l["quantity"] for l in po["lines"]} == {"A-1": 36, "B-1": 5}   # 30 -> 3 packs of 12
    paths = purchasing.send(pcrm, ref, str(tmp_path), today=dt.date(2024, 6, 1))
    po = purchasing.show_po(pcrm, ref)
    assert po["status"] == "sent" and po["expected_at"] == "2024-06-11" and po["lead_time_days"] == 10
    with open(paths[0], newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["supplier"].startswith("'=") and rows[0]["supplier_sku"] == "'-NW-1"
    assert rows[0]["quantity"] == "36.0" and rows[0]["deliver_to"] == "store"
    html = open(paths[1], encoding="utf-8").read()
    assert "<b>Nord</b>" not in html and "&lt;b&gt;Nord&lt;/b&gt;" in html and "PO-00001" in html
    assert all(stat.S_IMODE(os.stat(p).st_mode) == 0o600 for p in paths)
    assert purchasing.receive(pcrm, ref, {"A-1": 20}, at="2024-06-09") == "partial"
    assert level(pcrm, "A-1", "store") == 20
    assert purchasing.receive(pcrm, ref, at="2024-06-13") == "received"
    assert (level(pcrm, "A-1", "store"), level(pcrm, "B-1", "store")) == (36, 5)
    assert {m["ref"] for m in stock.ledger(pcrm, "A-1")} == {ref}
    with pytest.raises(CRMError, match="nothing more to receive"):
        purchasing.receive(pcrm, ref)
    # promised 10 days, took 12: late
    rel = supply_report.reliability(pcrm, TODAY)
    assert [(r["received_orders"], r["promised_days"], r["actual_days"], r["on_time_pct"]) for r in rel] == [(1, 10, 12, 0.0)]


def test_po_cli_from_plan_send_receive(run_cli, tmp_path):
    def ok(*args):
        r = run_cli(list(args), plugins="products")
        assert r.exit_code == 0, r.output
        return r.output

    ok("init")
    ok("products", "add", "A-1", "--name", "Apple", "--price", "2", "--cost", "1")
    ok("products", "add", "B-1", "--name", "Bean", "--price", "2", "--cost", "1")
    ok("products", "suppliers", "add", "Nordwerk", "--lead-time", "5", "--sku", "A-1", "--cost", "0.8", "--pack-size", "10", "--moq", "20")
    ok("products", "stock", "receive", "A-1", "1")
    ok("contacts", "add", "--email", "b@example.com")
    day = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    orders = tmp_path / "o.csv"
    orders.write_text(f"ref,email,ordered_at,sku,quantity,unit_price\nS1,b@example.com,{day},A-1,9,2\nS2,b@example.com,{day},B-1,3,2\n")
    ok("orders", "import", str(orders))
    plan = json.loads(ok("products", "plan", "--json"))
    assert set(plan[0]) == set(planning.PLAN_FIELDS)
    assert {(r["sku"], r["action"], r["supplier"]) for r in plan} == {("A-1", "purchase", "Nordwerk"), ("B-1", "purchase", None)}
    r = run_cli(["products", "po", "create", "--from-plan"], plugins="products")
    assert r.exit_code == 0 and "Drafted PO-00001" in r.output and "B-1 at main" in r.output
    listed = json.loads(ok("products", "po", "list", "--json"))
    assert [(p["ref"], p["status"], p["supplier"]) for p in listed] == [("PO-00001", "draft", "Nordwerk")]
    assert "e-mailing them is not supported" in " ".join(ok("products", "po", "send", "--help").lower().split())
    out = ok("products", "po", "send", "PO-00001", "-o", str(tmp_path))
    assert os.path.exists(tmp_path / "PO-00001-nordwerk.csv") and "PO-00001-nordwerk.html" in out
    ok("products", "po", "receive", "PO-00001", "A-1=5")
    assert json.loads(ok("products", "po", "show", "PO-00001", "--json"))["status"] == "partial"
    assert ok("products", "po", "list", "--csv").startswith("ref,supplier,location,status")
    for args, message in ((["products", "po", "receive", "PO-00001", "Z-9=1"], "no line for 'Z-9'"),
                          (["products", "po", "show", "PO-404"], "no purchase order"),
                          (["products", "plan", "--service-level", "120%"], "service level"),
                          (["products", "po", "create", "--supplier", "Nordwerk", "A-1"], "SKU=QUANTITY"),
                          (["products", "suppliers", "add", "X", "--cost", "1"], "need --sku"),
                          (["products", "stock", "count", "A-1", "-3"], "must not be negative")):
        r = run_cli(args, plugins="products")
        assert r.exit_code != 0 and message in r.output and "Traceback" not in r.output, (args, r.output)


def test_an_imported_location_column_picks_where_the_sale_takes_stock(run_cli, tmp_path):
    def ok(*args):
        r = run_cli(list(args), plugins="products")
        assert r.exit_code == 0, r.output
        return r.output

    ok("init")
    ok("products", "add", "A-1", "--name", "Apple", "--price", "2")
    ok("products", "stock", "count", "A-1", "11", "--location", "store", "--at", "2024-01-31")
    ok("products", "stock", "count", "A-1", "0", "--location", "main", "--at", "2024-01-31")
    ok("contacts", "add", "--email", "b@example.com")
    orders = tmp_path / "o.csv"
    orders.write_text("ref,email,ordered_at,sku,quantity,unit_price,Location\n"
                      "S0,b@example.com,2023-12-01,A-1,7,2,store\n"      # before the count: counted already
                      "S1,b@example.com,2024-02-01,A-1,5,2,store\n"
                      "S2,b@example.com,2024-02-02,A-1,1,2,\n")
    ok("orders", "import", str(orders))
    levels = {r["location"]: r["stock"] for r in json.loads(ok("products", "stock", "levels", "--json"))}
    assert levels == {"store": 6, "main": -1}
    negative = json.loads(ok("products", "stock", "negative", "--json"))
    assert [(r["location"], r["stock"], r["ref"]) for r in negative] == [("main", -1, "S2")]
    ok("products", "locations", "map", "pos", "store")
    assert json.loads(ok("products", "locations", "list", "--json")) == [
        {"location": "main", "channels": [], "products": 1, "stock": -1},
        {"location": "store", "channels": ["pos"], "products": 1, "stock": 6}]
    assert "store: 8 in stock" in ok("products", "stock", "return", "A-1", "2", "--location", "store", "--ref", "RMA-1")
    counts = json.loads(ok("products", "stock", "counts", "--sku", "A-1", "--json"))
    assert {(c["location"], c["quantity"], c["at"]) for c in counts} == {("store", 11, "2024-01-31T23:59:59"),
                                                                        ("main", 0, "2024-01-31T23:59:59")}
    ok("products", "suppliers", "add", "Nordwerk", "--sku", "A-1", "--cost", "0.8", "--moq", "10")
    shown = json.loads(ok("products", "suppliers", "show", "Nordwerk", "--json"))
    assert shown["products"][0]["min_order"] == 10 and shown["products"][0]["preferred"] is True
    assert "Order S1 cancelled: 1 movements" in ok("products", "stock", "cancel", "S1")
    assert level_of(run_cli, "store") == 13


def level_of(run_cli, location):
    rows = json.loads(run_cli(["products", "stock", "levels", "--location", location, "--json"], plugins="products").output)
    return rows[0]["stock"]


# -- report and history -------------------------------------------------------------------------


def test_supply_report_value_cover_risk_and_excess(pcrm):
    from crmcore.reports import render

    stock.receive(pcrm, "A-1", 100, location="store", at="2024-01-01")   # cost 1: 100 at the store, nothing sold there
    stock.receive(pcrm, "B-1", 10, at="2024-01-01")                      # cost 2
    for day in range(1, 31):                                             # B-1 sells 1 a day at main
        sell(pcrm, dt.date(2024, 6, day), ("B-1", 1))
    ctx = supply_report.supply_context(pcrm, {"as_of": "2024-06-30", "window": "30"})
    by_loc = {r["location"]: r for r in ctx["locations"]}
    assert by_loc["store"]["value"] == 100 and by_loc["main"]["value"] == -40    # 10 - 30 sold, at cost 2
    risk = {(r["sku"], r["location"]) for r in ctx["at_risk"]}
    assert ("B-1", "main") in risk
    excess = {(r["sku"], r["location"]): r for r in ctx["excess"]}
    assert excess[("A-1", "store")]["excess"] == 100
    html = render(pcrm, "supply", {"as_of": "2024-06-30"})
    assert "Stock value per location" in html and "Supplier lead-time reliability" in html


def test_history_shows_price_and_version_changes_with_who_and_when(pcrm, run_cli):
    catalogue.edit(pcrm, "A-1", {"price": 2.5, "version": "2.0"})
    rows = supply_report.history(pcrm, "A-1")
    assert rows[0]["action"] == "created"
    changes = {(r["field"], r["old"], r["new"], r["user"]) for r in rows[1:]}
    assert ("price", 2.0, 2.5, "tester") in changes and ("version", "", "2.0", "tester") in changes
    with pytest.raises(CRMError, match="no product"):
        supply_report.history(pcrm, "NOPE")
