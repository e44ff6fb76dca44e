import json

import pytest

import crm_products
from crm_products import catalogue
from crmcore import CRMError


@pytest.fixture
def pcrm(make_crm):
    return make_crm(plugins=[crm_products])


def test_add_validates_and_refuses_a_taken_sku(pcrm):
    catalogue.add(pcrm, {"sku": "GRD-001", "name": "Hose", "price": "39,90", "cost": "18.2", "weight": "2.4"})
    row = catalogue.find(pcrm, "GRD-001")
    assert (row["price"], row["cost"], row["lifecycle"], row["active"]) == (39.9, 18.2, "active", True)
    with pytest.raises(CRMError, match="SKU 'GRD-001' exists already"):
        catalogue.add(pcrm, {"sku": "GRD-001", "name": "Other"})
    with pytest.raises(CRMError, match="invalid price: must not be negative"):
        catalogue.add(pcrm, {"sku": "X-1", "name": "X", "price": -1})
    with pytest.raises(CRMError, match="invalid lifecycle"):
        catalogue.add(pcrm, {"sku": "X-1", "name": "X", "lifecycle": "retired"})
    assert pcrm.store.count("products") == 1


def test_margin_is_price_minus_cost():
    assert catalogue.margin(40.0, 30.0) == (10.0, 25.0)
    assert catalogue.margin(40.0, None) == (None, None)


def test_cli_add_edit_list_show(run_cli):
    assert run_cli(["init"], plugins="products").exit_code == 0
    r = run_cli(["products", "add", "KIT-001", "--name", "Chef's knife", "--category", "Kitchen", "--price", "80",
                 "--cost", "30", "--set", "steel=VG-10"], plugins="products")
    assert r.exit_code == 0, r.output
    r = run_cli(["products", "add", "KIT-002", "--name", "Board", "--category", "Kitchen", "--price", "34"], plugins="products")
    r = run_cli(["products", "edit", "KIT-002", "--lifecycle", "discontinued", "--no-active"], plugins="products")
    assert r.exit_code == 0, r.output
    rows = json.loads(run_cli(["products", "list", "--json"], plugins="products").output)
    assert [(p["sku"], p["lifecycle"], p["active"]) for p in rows] == [("KIT-001", "active", True), ("KIT-002", "discontinued", False)]
    assert rows[0]["custom"] == {"steel": "VG-10"}
    active = json.loads(run_cli(["products", "list", "--active", "--json"], plugins="products").output)
    assert [p["sku"] for p in active] == ["KIT-001"]
    csv_out = run_cli(["products", "list", "--csv"], plugins="products").output.splitlines()
    assert csv_out[0].startswith("id,sku,name,category") and len(csv_out) == 3
    shown = json.loads(run_cli(["products", "show", "KIT-001", "--json"], plugins="products").output)
    assert (shown["margin"], shown["margin_pct"], shown["stock_total"]) == (50.0, 62.5, 0)
    assert shown["sales_90_days"]["units"] == 0
    text = run_cli(["products", "show", "KIT-001"], plugins="products").output
    assert "margin" in text and "sales since" in text


def test_cli_errors_are_one_line(run_cli):
    run_cli(["init"], plugins="products")
    r = run_cli(["products", "show", "NOPE"], plugins="products")
    assert r.exit_code != 0 and "no product with SKU 'NOPE'" in r.output and "Traceback" not in r.output
    r = run_cli(["products", "add", "A-1", "--name", "A", "--price", "abc"], plugins="products")
    assert r.exit_code != 0 and "invalid price" in r.output
    r = run_cli(["products", "edit", "A-1"], plugins="products")
    assert r.exit_code != 0


def test_import_csv_with_aliases_and_custom_columns(pcrm, write_file):
    path = write_file("p.csv", "SKU;Product name;Category;List price;Unit cost;Colour\nA-1;Apple;Fruit;1,20;0,50;red\nB-1;Bean;Veg;2;;green\n")
    result = catalogue.import_products(pcrm, path)
    assert (result.created, result.updated) == (2, 0)
    a = catalogue.find(pcrm, "A-1")
    assert (a["name"], a["price"], a["cost"], a["custom"]) == ("Apple", 1.2, 0.5, {"Colour": "red"})
    again = write_file("p2.json", json.dumps([{"sku": "A-1", "price": 1.5}]))
    result = catalogue.import_products(pcrm, again)
    assert (result.created, result.updated) == (0, 1)
    assert catalogue.find(pcrm, "A-1")["price"] == 1.5
    assert catalogue.find(pcrm, "A-1")["name"] == "Apple"


def test_import_duplicate_sku_fails_and_writes_nothing(run_cli, write_file, pcrm):
    path = write_file("dup.csv", "sku,name,price\nA-1,Apple,1\nB-1,Bean,2\nA-1,Apricot,3\n")
    run_cli(["init"], plugins="products")
    r = run_cli(["products", "import", path], plugins="products")
    assert r.exit_code != 0
    assert "row 4: sku: duplicate of row 2" in r.output
    assert json.loads(run_cli(["products", "list", "--json"], plugins="products").output) == []


def test_import_bad_row_with_rejects_keeps_the_good_ones(run_cli, write_file, tmp_path):
    path = write_file("bad.csv", "sku,name,price\nA-1,Apple,1\nB-1,Bean,-2\n,Nameless,3\n")
    rejects = str(tmp_path / "rejects.csv")
    run_cli(["init"], plugins="products")
    r = run_cli(["products", "import", path], plugins="products")
    assert r.exit_code != 0 and "row 3: price: must not be negative" in r.output
    assert json.loads(run_cli(["products", "list", "--json"], plugins="products").output) == []
    r = run_cli(["products", "import", path, "--rejects", rejects], plugins="products")
    assert r.exit_code == 0 and "1 created" in r.output and "2 rejected" in r.output
    assert open(rejects).read().splitlines()[1].startswith("3,price,")


def test_export_round_trips_through_import(run_cli, write_file, tmp_path):
    run_cli(["init"], plugins="products")
    run_cli(["products", "add", "A-1", "--name", "Apple", "--price", "1.2", "--set", "colour=red"], plugins="products")
    out = str(tmp_path / "export.csv")
    assert run_cli(["products", "export", "-o", out], plugins="products").exit_code == 0
    other = str(tmp_path / "other.db")
    run_cli(["init"], db=other, plugins="products")
    r = run_cli(["products", "import", out], db=other, plugins="products")
    assert r.exit_code == 0, r.output
    row = json.loads(run_cli(["products", "list", "--json"], db=other, plugins="products").output)[0]
    assert (row["sku"], row["price"], row["custom"]) == ("A-1", 1.2, {"colour": "red"})
