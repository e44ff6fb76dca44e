"""The orders import writes the orders it has gathered every ORDER_FLUSH_ROWS
rows, so its memory stays flat however long the file. What a user relies on
must not depend on where those batches fall: an order whose lines are far
apart in the file is one order with the sum of all its lines, a bad row late
in the file still leaves nothing written, an order already in the database is
skipped or replaced once, and plugins hear of each order once, with its final
total. Every test runs on both stores (.ci/run)."""

import pytest

from crmcore import hookimpl, importing
from crmcore.currency import load_rates
from crmcore.importing import ImportFailed, import_contacts, import_orders

CONTACTS = "email,first_name\nada@example.com,Ada\nalan@example.com,Alan\ngrace@example.com,Grace\n"

# SO-1's three lines are rows 2, 6 and 9: far apart, with other orders between.
# Later rows of SO-1 leave the customer blank (as Shopify's export does).
ORDERS = (
    "ref,ordered_at,email,currency,sku,quantity,unit_price\n"
    "SO-1,2024-01-05,ada@example.com,EUR,A,2,10.25\n"       # row 2
    "SO-2,2024-01-06,alan@example.com,EUR,B,1,5.00\n"       # row 3
    "SO-3,2024-01-07,grace@example.com,GBP,C,3,2.50\n"      # row 4
    "SO-2,,,,D,2,1.10\n"                                    # row 5
    "SO-1,,,,E,1,0.30\n"                                    # row 6
    ",2024-01-08,alan@example.com,EUR,F,1,7.00\n"           # row 7: an order without ref
    "SO-4,2024-01-09,grace@example.com,EUR,G,1,4.00\n"      # row 8
    "SO-1,,ada@example.com,,H,4,1.00\n"                     # row 9: the same customer again
)
# Hand-computed: SO-1 = 2*10.25 + 0.30 + 4*1.00 = 24.80; SO-2 = 5.00 + 2*1.10 = 7.20;
# SO-3 = 3*2.50 = 7.50; the order of row 7 = 7.00; SO-4 = 4.00.
EXPECTED = {
    "SO-1": ("2024-01-05", "ada@example.com", 24.8, [("A", 2.0, 10.25), ("E", 1.0, 0.3), ("H", 4.0, 1.0)]),
    "SO-2": ("2024-01-06", "alan@example.com", 7.2, [("B", 1.0, 5.0), ("D", 2.0, 1.1)]),
    "SO-3": ("2024-01-07", "grace@example.com", 7.5, [("C", 3.0, 2.5)]),
    None: ("2024-01-08", "alan@example.com", 7.0, [("F", 1.0, 7.0)]),
    "SO-4": ("2024-01-09", "grace@example.com", 4.0, [("G", 1.0, 4.0)]),
}

# (rows gathered before a write, refs kept in memory before the temporary table)
BATCHINGS = [(None, None), (1, None), (2, None), (3, 1), (2, 0)]


@pytest.fixture
def batches(monkeypatch):
    def set_to(flush_rows, refs_in_memory):
        if flush_rows is not None:
            monkeypatch.setattr(importing, "ORDER_FLUSH_ROWS", flush_rows)
        if refs_in_memory is not None:
            monkeypatch.setattr(importing, "ORDER_REFS_IN_MEMORY", refs_in_memory)

    return set_to


@pytest.fixture
def shop(crm, write_file):
    import_contacts(crm, write_file("c.csv", CONTACTS))
    return crm


def stored_orders(crm):
    found = {}
    for o in crm.store.query("SELECT o.id, o.ref, o.ordered_at, o.total, c.email FROM orders o "
                             "JOIN contacts c ON c.id = o.contact_id ORDER BY o.id"):
        lines = crm.store.query("SELECT sku, quantity, unit_price FROM order_lines WHERE order_id = ? ORDER BY id", (o["id"],))
        found[o["ref"]] = (str(o["ordered_at"])[:10], o["email"], round(o["total"], 2),
                           [(r["sku"], r["quantity"], r["unit_price"]) for r in lines])
    return found


def snapshot(crm):
    return {t: crm.store.query(f"SELECT * FROM {t} ORDER BY id") for t in ("orders", "order_lines")}


@pytest.mark.parametrize("flush_rows,refs_in_memory", BATCHINGS)
def test_an_order_split_across_batches_is_one_order_with_the_sum_of_all_its_lines(shop, write_file, batches,
                                                                                   flush_rows, refs_in_memory):
    batches(flush_rows, refs_in_memory)
    result = import_orders(shop, write_file("o.csv", ORDERS))
    assert (result.created, result.updated, result.skipped, result.rejected) == (5, 0, 0, [])
    assert stored_orders(shop) == EXPECTED
    # Orders are numbered in the order the file first names them, whatever the batches.
    assert [r["ref"] for r in shop.store.query("SELECT ref FROM orders ORDER BY id")] == ["SO-1", "SO-2", "SO-3", None, "SO-4"]


@pytest.mark.parametrize("flush_rows,refs_in_memory", BATCHINGS)
def test_a_total_given_in_the_file_is_kept_when_more_lines_come_in_a_later_batch(shop, write_file, batches,
                                                                                 flush_rows, refs_in_memory):
    batches(flush_rows, refs_in_memory)
    path = write_file("o.csv", "ref,ordered_at,email,total,sku,quantity,unit_price\n"
                               "T-1,2024-02-01,ada@example.com,99.90,A,1,10\n"
                               "T-2,2024-02-01,alan@example.com,,B,1,3\n"
                               "T-1,,,,C,1,20\n")
    assert import_orders(shop, path).created == 2
    totals = {r["ref"]: r["total"] for r in shop.store.query("SELECT ref, total FROM orders")}
    assert totals == {"T-1": 99.9, "T-2": 3.0}
    assert shop.store.query_value("SELECT count(*) FROM order_lines") == 3


@pytest.mark.parametrize("flush_rows,refs_in_memory", BATCHINGS)
def test_a_later_line_for_another_customer_is_rejected_naming_the_orders_first_row(shop, write_file, tmp_path, batches,
                                                                                    flush_rows, refs_in_memory):
    batches(flush_rows, refs_in_memory)
    path = write_file("o.csv", ORDERS + "SO-2,,grace@example.com,,Z,1,1\n")  # row 10
    before = snapshot(shop)
    with pytest.raises(ImportFailed, match=r"o.csv: row 10: email: order 'SO-2' already belongs to another customer \(row 3\)"):
        import_orders(shop, path)
    assert snapshot(shop) == before
    result = import_orders(shop, path, rejects_path=str(tmp_path / "rejects.csv"))
    assert [(r.row, r.field) for r in result.rejected] == [(10, "email")]
    assert stored_orders(shop) == EXPECTED


@pytest.mark.parametrize("flush_rows,refs_in_memory", BATCHINGS)
def test_a_bad_row_late_in_the_file_leaves_nothing_written(shop, write_file, batches, flush_rows, refs_in_memory):
    batches(flush_rows, refs_in_memory)
    before = snapshot(shop)
    path = write_file("o.csv", ORDERS + "SO-9,2024-01-10,nobody@example.com,EUR,X,1,1\n")  # row 10
    with pytest.raises(ImportFailed, match="o.csv: row 10: email: no contact with e-mail 'nobody@example.com'"):
        import_orders(shop, path)
    assert snapshot(shop) == before
    # Nothing of the failed run is left to confuse the next one (its list of refs written included).
    assert import_orders(shop, write_file("o2.csv", ORDERS)).created == 5
    assert stored_orders(shop) == EXPECTED


@pytest.mark.parametrize("flush_rows,refs_in_memory", BATCHINGS)
def test_a_dry_run_counts_like_the_real_import_and_writes_nothing(shop, write_file, batches, flush_rows, refs_in_memory):
    batches(flush_rows, refs_in_memory)
    before = snapshot(shop)
    result = import_orders(shop, write_file("o.csv", ORDERS), dry_run=True)
    assert (result.created, result.skipped, result.rejected, result.dry_run) == (5, 0, [], True)
    assert snapshot(shop) == before


EXISTING = "ref,ordered_at,email,sku,quantity,unit_price\nSO-1,2023-12-01,grace@example.com,OLD,1,99\nSO-3,2023-12-02,grace@example.com,OLD,1,50\n"


@pytest.mark.parametrize("flush_rows,refs_in_memory", BATCHINGS)
def test_an_order_already_in_the_database_is_skipped_once(shop, write_file, batches, flush_rows, refs_in_memory):
    import_orders(shop, write_file("old.csv", EXISTING))
    old = stored_orders(shop)
    batches(flush_rows, refs_in_memory)
    result = import_orders(shop, write_file("o.csv", ORDERS))
    # SO-1 (three rows, far apart) and SO-3 count once each; none of their lines is added.
    assert (result.created, result.updated, result.skipped, result.rejected) == (3, 0, 2, [])
    assert stored_orders(shop) == {**EXPECTED, "SO-1": old["SO-1"], "SO-3": old["SO-3"]}


@pytest.mark.parametrize("flush_rows,refs_in_memory", BATCHINGS)
def test_an_order_already_in_the_database_is_replaced_once_with_all_its_lines(shop, write_file, batches,
                                                                             flush_rows, refs_in_memory):
    import_orders(shop, write_file("old.csv", EXISTING))
    batches(flush_rows, refs_in_memory)
    result = import_orders(shop, write_file("o.csv", ORDERS), on_conflict="update")
    assert (result.created, result.updated, result.skipped, result.rejected) == (3, 2, 0, [])
    assert stored_orders(shop) == EXPECTED  # the old lines gone, every new one there, the total of the new ones
    assert shop.store.query_value("SELECT count(*) FROM order_lines WHERE sku = 'OLD'") == 0


@pytest.mark.parametrize("flush_rows,refs_in_memory", BATCHINGS)
def test_on_conflict_error_rejects_an_existing_order_once_at_its_first_row(shop, write_file, tmp_path, batches,
                                                                          flush_rows, refs_in_memory):
    import_orders(shop, write_file("old.csv", EXISTING))
    old = stored_orders(shop)
    batches(flush_rows, refs_in_memory)
    path = write_file("o.csv", ORDERS)
    with pytest.raises(ImportFailed, match="o.csv: row 2: ref: order 'SO-1' already exists"):
        import_orders(shop, path, on_conflict="error")
    result = import_orders(shop, path, on_conflict="error", rejects_path=str(tmp_path / "rejects.csv"))
    assert [(r.row, r.field, r.reason) for r in result.rejected] == [
        (2, "ref", "order 'SO-1' already exists"), (4, "ref", "order 'SO-3' already exists")]
    assert result.created == 3
    assert stored_orders(shop) == {**EXPECTED, "SO-1": old["SO-1"], "SO-3": old["SO-3"]}


@pytest.mark.parametrize("flush_rows,refs_in_memory", BATCHINGS)
def test_rejects_keep_the_order_of_today_checks_first_then_existing_orders(shop, write_file, tmp_path, batches,
                                                                          flush_rows, refs_in_memory):
    """A bad row found while reading is reported before an existing order
    (found when the orders are written), wherever the batches fall."""
    import_orders(shop, write_file("old.csv", EXISTING))
    batches(flush_rows, refs_in_memory)
    path = write_file("o.csv", ORDERS + "SO-9,2024-01-10,nobody@example.com,EUR,X,1,1\n")
    with pytest.raises(ImportFailed, match="row 10: email: no contact"):
        import_orders(shop, path, on_conflict="error")
    result = import_orders(shop, path, on_conflict="error", rejects_path=str(tmp_path / "rejects.csv"))
    assert [r.row for r in result.rejected] == [10, 2, 4]


@pytest.mark.parametrize("flush_rows,refs_in_memory", BATCHINGS)
def test_every_order_gets_its_factor_to_the_base_currency(shop, write_file, batches, flush_rows, refs_in_memory):
    load_rates(shop, write_file("rates.csv", "date,currency,rate\n2024-01-05,GBP,0.8\n"))
    batches(flush_rows, refs_in_memory)
    import_orders(shop, write_file("o.csv", ORDERS))
    factors = {r["ref"]: r["fx_rate"] for r in shop.store.query("SELECT ref, fx_rate FROM orders")}
    assert factors == {"SO-1": 1, "SO-2": 1, "SO-3": pytest.approx(1.25), None: 1, "SO-4": 1}


class Recorder:
    crm_plugin_name = "recorder"

    def __init__(self):
        self.saved = []

    @hookimpl
    def crm_records_saved(self, crm, table, records):
        self.saved += [(table, dict(r)) for r in records]


@pytest.mark.parametrize("flush_rows,refs_in_memory", BATCHINGS)
def test_plugins_hear_of_each_order_once_with_its_final_total_and_of_each_line_once(make_crm, write_file, batches,
                                                                                   flush_rows, refs_in_memory):
    recorder = Recorder()
    crm = make_crm(plugins=[recorder])
    import_contacts(crm, write_file("c.csv", CONTACTS))
    recorder.saved.clear()
    batches(flush_rows, refs_in_memory)
    import_orders(crm, write_file("o.csv", ORDERS))
    orders = [r for t, r in recorder.saved if t == "orders"]
    lines = [r for t, r in recorder.saved if t == "order_lines"]
    stored = {r["id"]: r for r in crm.store.query("SELECT id, ref, contact_id, total FROM orders")}
    assert sorted(o["id"] for o in orders) == sorted(stored)
    for o in orders:
        assert (o["ref"], o["contact_id"], o["total"]) == (stored[o["id"]]["ref"], stored[o["id"]]["contact_id"],
                                                          stored[o["id"]]["total"])
        assert str(o["ordered_at"]) == EXPECTED[o["ref"]][0]
    assert sorted(line["id"] for line in lines) == [r["id"] for r in crm.store.query("SELECT id FROM order_lines ORDER BY id")]
    assert {(line["order_id"], line["sku"]) for line in lines} == {
        (r["order_id"], r["sku"]) for r in crm.store.query("SELECT order_id, sku FROM order_lines")}


def test_every_bound_at_its_smallest_gives_the_same_orders(shop, write_file, monkeypatch):
    """Customers, converted cells and refs forgotten after one each: looked up again, same result."""
    for name, value in (("ORDER_FLUSH_ROWS", 1), ("ORDER_REFS_IN_MEMORY", 0), ("ORDER_CUSTOMERS_IN_MEMORY", 1), ("ORDER_MEMO", 1)):
        monkeypatch.setattr(importing, name, value)
    result = import_orders(shop, write_file("o.csv", ORDERS + ORDERS.split("\n", 1)[1].replace("SO-", "XO-")))
    assert (result.created, result.rejected) == (10, [])
    found = stored_orders(shop)
    assert {k: v for k, v in found.items() if k is None or k.startswith("SO-")} == EXPECTED
    assert found["XO-1"] == EXPECTED["SO-1"] and found["XO-2"] == EXPECTED["SO-2"]


def test_a_json_cell_is_converted_by_its_type_not_by_an_equal_text_or_number(shop, write_file, tmp_path):
    """1 and True are equal as dictionary keys: a quantity of true is still no number."""
    lines = ['{"ref": "J-1", "ordered_at": "2024-01-05", "email": "ada@example.com", "sku": "A", "quantity": 1, "unit_price": 2}',
             '{"ref": "J-2", "ordered_at": "2024-01-05", "email": "ada@example.com", "sku": "A", "quantity": true, "unit_price": 2}',
             '{"ref": "J-3", "ordered_at": "2024-01-05", "email": "ada@example.com", "sku": "A", "quantity": "1", "unit_price": "2"}']
    result = import_orders(shop, write_file("o.jsonl", "\n".join(lines) + "\n"), rejects_path=str(tmp_path / "rejects.csv"))
    assert [(r.row, r.field, r.reason) for r in result.rejected] == [(2, "quantity", "not a number: True")]  # JSON Lines: the first record is row 1
    assert {r["ref"]: r["total"] for r in shop.store.query("SELECT ref, total FROM orders")} == {"J-1": 2.0, "J-3": 2.0}


def test_customers_forgotten_for_room_are_looked_up_again(shop, write_file, monkeypatch):
    """Two customers kept, two rows checked together: the second pair (one known, one new) overflows."""
    monkeypatch.setattr(importing, "ORDER_FLUSH_ROWS", 2)
    monkeypatch.setattr(importing, "ORDER_CUSTOMERS_IN_MEMORY", 2)
    path = write_file("o.csv", "ref,ordered_at,email,sku,quantity,unit_price\n"
                               "A-1,2024-01-05,ada@example.com,A,1,1\nA-2,2024-01-05,alan@example.com,A,1,2\n"
                               "A-3,2024-01-05,ada@example.com,A,1,3\nA-4,2024-01-05,grace@example.com,A,1,4\n")
    assert import_orders(shop, path).created == 4
    assert {k: v[1] for k, v in stored_orders(shop).items()} == {
        "A-1": "ada@example.com", "A-2": "alan@example.com", "A-3": "ada@example.com", "A-4": "grace@example.com"}
