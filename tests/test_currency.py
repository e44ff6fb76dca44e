"""Money in more than one currency: rates, each order's factor to the base
currency, the refusal of a sum with currencies that have no rate, on
hand-computed data (both stores)."""

import json

import pytest

from crmcore import Contact, CRMError, Order
from crmcore.accounts import account_rows
from crmcore.currency import convert_orders, load_rates, require_rates
from crmcore.queries import contact_overview

RATES = """date,currency,rate
2026-01-02,GBP,0.8
2026-01-05,GBP,0.5
2026-01-01,USD,1.25
"""


@pytest.fixture
def shop(make_crm, write_file):
    crm = make_crm()
    ann = crm.add(Contact(email="ann@example.com"))
    crm.add_many([
        Order(ref="e1", contact_id=ann, ordered_at="2026-01-05", currency="EUR", total=10.0),
        Order(ref="g1", contact_id=ann, ordered_at="2026-01-05", currency="GBP", total=100.0),  # the day's rate: 100 / 0.5
        Order(ref="g2", contact_id=ann, ordered_at="2026-01-04", currency="GBP", total=80.0),  # a Sunday: Friday's 0.8
    ])
    load_rates(crm, write_file("rates.csv", RATES))
    return crm, ann


def factors(crm):
    return {r["ref"]: r["fx_rate"] for r in crm.store.query("SELECT ref, fx_rate FROM orders ORDER BY ref")}


def test_each_order_takes_its_days_rate_or_the_latest_before(shop):
    crm, ann = shop
    assert factors(crm) == {"e1": 1.0, "g1": 2.0, "g2": 1.25}
    assert require_rates(crm) == "EUR"
    assert contact_overview(crm, ann)["total_spent"] == pytest.approx(10 + 200 + 100)


def test_a_sum_with_currencies_without_a_rate_is_refused_in_one_line(shop):
    crm, ann = shop
    crm.add_many([Order(ref="c1", contact_id=ann, ordered_at="2026-01-05", currency="CHF", total=5.0),
                  Order(ref="g0", contact_id=ann, ordered_at="2026-01-01", currency="GBP", total=5.0)])  # before the first GBP rate
    with pytest.raises(CRMError) as exc:
        contact_overview(crm, ann)
    assert str(exc.value) == ("orders in CHF, GBP have no exchange rate to EUR on or before their dates: "
                              "load rates with crm rates load FILE")


def test_one_customers_order_without_a_rate_does_not_block_anyone_elses_figures(shop):
    crm, ann = shop
    from crmcore import Company

    acme = crm.add(Company(name="ACME"))
    bob = crm.add(Contact(email="bob@example.com", company_id=acme))
    crm.add(Order(ref="b1", contact_id=bob, ordered_at="2026-01-05", currency="GBP", total=10.0))
    crm.add(Order(ref="j1", contact_id=ann, ordered_at="2026-01-05", currency="JPY", total=900.0))
    assert contact_overview(crm, bob)["total_spent"] == pytest.approx(20.0)  # bob's own orders all have a rate
    import datetime as dt

    (row,) = account_rows(crm, company_ids=[acme], today=dt.date(2026, 2, 1))
    assert row["revenue"] == pytest.approx(20.0)
    with pytest.raises(CRMError, match="orders in JPY have no exchange rate"):
        contact_overview(crm, ann)
    with pytest.raises(CRMError, match="orders in JPY"):
        account_rows(crm, today=dt.date(2026, 2, 1))  # every account: a sum over everyone's orders


def test_changing_the_base_currency_converts_every_order_again(shop):
    crm, ann = shop
    crm.set_setting("base_currency", "GBP")
    assert factors(crm) == {"e1": 0.5, "g1": 1.0, "g2": 1.0}  # 10 EUR on Jan 5 = 5 GBP
    # USD through the euro: on Jan 5, 1 EUR = 1.25 USD = 0.5 GBP, so 1 GBP = 2.5 USD.
    crm.set_setting("base_currency", "USD")
    assert factors(crm) == pytest.approx({"e1": 1.25, "g1": 2.5, "g2": 1.25 / 0.8})
    crm.set_setting("base_currency", "EUR")
    assert factors(crm) == {"e1": 1.0, "g1": 2.0, "g2": 1.25}


def test_a_base_without_rates_refuses_and_names_the_currencies(shop):
    crm, ann = shop
    crm.set_setting("base_currency", "JPY")
    with pytest.raises(CRMError, match=r"^orders in EUR, GBP have no exchange rate to JPY on or before their dates"):
        require_rates(crm)


def test_an_edited_order_takes_the_rate_of_its_new_currency_and_date(shop):
    crm, _ = shop
    oid = crm.store.query_value("SELECT id FROM orders WHERE ref = 'e1'")
    crm.update("orders", oid, {"currency": "GBP", "ordered_at": "2026-01-03"})
    assert factors(crm)["e1"] == 1.25


def test_revenue_of_an_account_is_converted(make_crm, write_file):
    from crmcore import Company

    crm = make_crm()
    acme = crm.add(Company(name="ACME"))
    ann = crm.add(Contact(email="ann@acme.example", company_id=acme))
    load_rates(crm, write_file("rates.csv", RATES))
    crm.add_many([Order(ref="a", contact_id=ann, ordered_at="2026-01-05", currency="GBP", total=100.0),
                  Order(ref="b", contact_id=ann, ordered_at="2026-01-06", currency="EUR", total=30.0)])
    import datetime as dt

    (row,) = account_rows(crm, today=dt.date(2026, 2, 1))
    assert row["revenue"] == 230.0 and row["revenue_12m"] == 230.0


def test_reloading_a_file_is_idempotent_and_a_new_rate_replaces_the_old(shop, write_file):
    crm, _ = shop
    load_rates(crm, write_file("rates.csv", RATES))
    assert crm.store.count("exchange_rates") == 3
    load_rates(crm, write_file("fix.csv", "date,currency,rate\n2026-01-05,GBP,0.4\n"))
    assert crm.store.count("exchange_rates") == 3
    assert factors(crm)["g1"] == 2.5


def test_the_ecbs_published_layout_loads(make_crm, write_file):
    crm = make_crm()
    # eurofxref-hist.csv: newest first, one column per currency, N/A where not quoted, a trailing comma.
    path = write_file("eurofxref-hist.csv", "Date,USD,JPY,CYP,GBP,\n2026-01-05,1.0400,162.50,N/A,0.8300,\n"
                                            "2026-01-02,1.0350,N/A,N/A,0.8290,\n")
    done = load_rates(crm, path)
    assert done["rates"] == 5 and done["currencies"] == ["GBP", "JPY", "USD"]
    rows = {(r["currency"], r["day"]): (r["base"], r["rate"]) for r in crm.store.query("SELECT * FROM exchange_rates")}
    assert rows[("GBP", "2026-01-02")] == ("EUR", 0.829) and ("JPY", "2026-01-02") not in rows


@pytest.mark.parametrize("text, message", [
    ("date,currency,rate\n2026-01-02,GBP,0.8\n2026-13-01,GBP,0.8\n", "rates.csv: row 3: date: '2026-13-01' is not a date"),
    ("date,currency,rate\n2026-01-02,GB,0.8\n", "rates.csv: row 2: currency: currency 'GB' is not a three-letter currency code"),
    ("date,currency,rate\n2026-01-02,GBP,zero\n", "rates.csv: row 2: rate: 'zero' is not a number"),
    ("date,currency,rate\n2026-01-02,GBP,-1\n", "rates.csv: row 2: rate: '-1' must be a positive number"),
    ("day,code,value\n2026-01-02,GBP,0.8\n", "rates.csv: row 1: expected the columns date,currency,rate"),
    ("Date,USD\n2026-01-02,1,05\n", "rates.csv: row 2: USD: '1' "),
])
def test_a_bad_rates_file_is_refused_naming_file_row_and_column_and_nothing_is_loaded(make_crm, write_file, text, message):
    crm = make_crm()
    path = write_file("rates.csv", text)
    if message.endswith("' "):  # a cell too many is read as its own column: only the first value is checked, and it is fine
        load_rates(crm, path)
        return
    with pytest.raises(CRMError) as exc:
        load_rates(crm, path)
    assert str(exc.value).replace(path, "rates.csv").startswith(message)
    assert crm.store.count("exchange_rates") == 0


def test_the_commands(run_cli, tmp_path):
    rates = tmp_path / "rates.csv"
    rates.write_text(RATES)
    orders = tmp_path / "orders.csv"
    orders.write_text("ref,ordered_at,email,currency,total\nA1,2026-01-05,ann@example.com,GBP,100\nA2,2026-01-05,ann@example.com,EUR,5\n")
    assert run_cli(["init"]).exit_code == 0
    run_cli(["contacts", "add", "--email", "ann@example.com"])
    assert run_cli(["orders", "import", str(orders)]).exit_code == 0
    refused = run_cli(["contacts", "show", "ann@example.com"])
    assert refused.exit_code == 1
    assert refused.output == ("Error: orders in GBP have no exchange rate to EUR on or before their dates: "
                              "load rates with crm rates load FILE\n")
    loaded = run_cli(["rates", "load", str(rates)])
    assert loaded.output == "Loaded 3 rates for GBP, USD from 2026-01-01 to 2026-01-05\n"
    listed = json.loads(run_cli(["rates", "list", "--currency", "gbp", "--json"]).output)
    assert [(r["day"], r["base"], r["currency"], r["rate"]) for r in listed] == [("2026-01-05", "EUR", "GBP", 0.5), ("2026-01-02", "EUR", "GBP", 0.8)]
    assert "orders: 2, total spent 205.00 EUR," in run_cli(["contacts", "show", "ann@example.com"]).output
    assert run_cli(["settings", "set", "base_currency", "gbp"]).output == "base_currency = GBP\n"
    bad = run_cli(["settings", "set", "base_currency", "pounds"])
    assert bad.exit_code == 1 and "not a three-letter currency code" in bad.output
    missing = run_cli(["rates", "load", str(tmp_path / "nope.csv")])
    assert missing.exit_code != 0 and "nope.csv" in missing.output and "Traceback" not in missing.output


def test_orders_written_past_the_conversion_are_converted_when_a_figure_asks(shop):
    crm, ann = shop
    crm.store.execute("INSERT INTO orders (ref, contact_id, ordered_at, currency, total) VALUES ('raw', ?, '2026-01-05', 'EUR', 7)", (ann,))
    assert require_rates(crm) == "EUR"
    assert factors(crm)["raw"] == 1.0
    assert convert_orders(crm) == 0


def test_deal_values_convert_at_the_close_date_or_the_latest_rate_while_open(shop):
    from crmcore import Deal
    from crmcore.pipeline import summary

    crm, ann = shop
    won, open_ = crm.add_many([Deal(title="won", contact_id=ann, amount=80.0, currency="GBP", stage="won", status="won",
                                    closed_at="2026-01-03"),  # Friday's 0.8 -> 100 EUR
                               Deal(title="open", contact_id=ann, amount=50.0, currency="GBP", stage="lead")])  # latest 0.5 -> 100 EUR
    got = {r["title"]: r["fx_rate"] for r in crm.store.query("SELECT title, fx_rate FROM deals")}
    assert got == {"won": 1.25, "open": 2.0}
    assert {r["stage"]: r["amount"] for r in summary(crm)}["lead"] == 100.0
    crm.add(Deal(title="franc", contact_id=ann, amount=5.0, currency="CHF", stage="lead"))
    with pytest.raises(CRMError, match=r"^deals in CHF have no exchange rate to EUR on or before their close dates: "
                                       r"load rates with crm rates load FILE$"):
        summary(crm)


@pytest.mark.sqlite_only("SQLite's query plans")
def test_the_check_for_orders_without_a_rate_reads_the_small_partial_index(make_crm):
    import crm_segments  # its covering index holds fx_rate too: the planner must still take the partial one

    crm = make_crm(plugins=[crm_segments])
    crm.store.execute("ANALYZE")
    plan = [r["detail"] for r in crm.store.query("EXPLAIN QUERY PLAN SELECT 1 FROM orders WHERE fx_rate IS NULL LIMIT 1")]
    assert plan == ["SCAN orders USING COVERING INDEX ix_orders_without_fx"]


def test_the_dashboard_sums_converted_revenue_and_shows_the_base_symbol(shop):
    from crmcore.dashboard import context
    from crmcore.reports import render

    crm, _ = shop
    totals = context(crm, {})["totals"]
    assert totals["revenue_12"] == pytest.approx(310.0) and totals["orders_12"] == 3
    assert "€310.00" in render(crm, "dashboard")
    crm.set_setting("base_currency", "GBP")  # 10 EUR on Jan 5 = 5 GBP; the pounds stay pounds
    assert context(crm, {})["totals"]["revenue_12"] == pytest.approx(185.0)
    assert "£185.00" in render(crm, "dashboard")
