"""Wholesale accounts: a company's orders, reorder rhythm and late reorders,
on a hand-computed example."""

import datetime as dt
import json

import pytest

from crmcore import Company, Contact, Order
from crmcore.accounts import account, account_rows, late_accounts

TODAY = dt.date(2026, 2, 5)


@pytest.fixture
def shop(make_crm):
    crm = make_crm()
    acme, beta, solo = crm.add_many([Company(name="ACME"), Company(name="Beta"), Company(name="Solo")])
    ann, bob, cy, dee = crm.add_many([Contact(email="ann@acme.example", company_id=acme), Contact(email="bob@acme.example", company_id=acme),
                                      Contact(email="cy@beta.example", company_id=beta), Contact(email="dee@solo.example", company_id=solo)])
    crm.add_many([
        # ACME orders every 10 days through two buyers: Jan 1, Jan 11 (two orders that day), Jan 21 -> due Jan 31, 5 days late.
        Order(ref="a1", contact_id=ann, ordered_at="2026-01-01", total=100.0),
        Order(ref="a2", contact_id=bob, ordered_at="2026-01-11", total=50.0),
        Order(ref="a3", contact_id=ann, ordered_at="2026-01-11", total=25.0),
        Order(ref="a4", contact_id=bob, ordered_at="2026-01-21", total=75.0),
        Order(ref="a0", contact_id=ann, ordered_at="2024-12-01", total=1000.0),  # before the last 365 days
        # Beta every 30 days, last Jan 20: due Feb 19, on time.
        Order(ref="b1", contact_id=cy, ordered_at="2025-12-21", total=10.0),
        Order(ref="b2", contact_id=cy, ordered_at="2026-01-20", total=20.0),
        # Solo ordered once: no rhythm yet.
        Order(ref="s1", contact_id=dee, ordered_at="2026-01-02", total=5.0),
    ])
    return crm, acme, beta, solo


def test_account_figures_and_late_reorders(shop):
    crm, acme, beta, solo = shop
    rows = {r["name"]: r for r in account_rows(crm, today=TODAY)}
    # ACME: order days 2024-12-01, 01-01, 01-11, 01-21 -> (416 days) / 3 gaps = 138.7; without the old order it would be 10.
    assert rows["ACME"]["orders"] == 5 and rows["ACME"]["revenue"] == 1250.0 and rows["ACME"]["revenue_12m"] == 250.0
    assert rows["ACME"]["reorder_interval_days"] == 138.7 and rows["ACME"]["reorder_overdue"] is False
    assert rows["Beta"]["reorder_interval_days"] == 30.0 and rows["Beta"]["next_reorder"] == "2026-02-19"
    assert rows["Beta"]["reorder_overdue"] is False and rows["Beta"]["days_late"] == 0
    assert rows["Solo"]["reorder_interval_days"] is None and rows["Solo"]["reorder_overdue"] is False
    crm.delete("orders", [crm.store.query_value("SELECT id FROM orders WHERE ref = 'a0'")])
    acme_now = account(crm, acme, TODAY)
    assert acme_now["reorder_interval_days"] == 10.0 and acme_now["next_reorder"] == "2026-01-31"
    assert acme_now["reorder_overdue"] is True and acme_now["days_late"] == 5
    assert acme_now["revenue_per_month"] == [{"month": "2026-01", "orders": 4, "revenue": 250.0}]
    assert [r["name"] for r in late_accounts(crm, TODAY)] == ["ACME"]


def test_company_rule_fields_match_the_account_figures(shop):
    import crm_segments
    from crm_segments.segments import create_segment, members

    from crmcore import CRM
    from crmcore.accounts import segment_fields

    crm, acme, beta, solo = shop
    crm.delete("orders", [crm.store.query_value("SELECT id FROM orders WHERE ref = 'a0'")])
    fields = {}
    segment_fields(lambda name, sql, type, description: fields.__setitem__(name, sql), crm.store, today=TODAY)
    overdue = {r["id"]: r["v"] for r in crm.store.query(f"SELECT c.id, {fields['company.reorder_overdue']} AS v FROM contacts c")}
    acme_people = [r["id"] for r in crm.store.query("SELECT id FROM contacts WHERE company_id = ? ORDER BY id", (acme,))]
    assert sorted(cid for cid, v in overdue.items() if v) == acme_people
    orders = {r["email"]: r["v"] for r in crm.store.query(f"SELECT c.email, {fields['company.orders']} AS v FROM contacts c")}
    assert orders == {"ann@acme.example": 4, "bob@acme.example": 4, "cy@beta.example": 2, "dee@solo.example": 1}
    # and through a rule, with today's date: a dotted field name parses
    segs = CRM(crm.location, plugins=[crm_segments])
    segs.migrate()
    create_segment(segs, "acme-like", rule="company.orders >= 4 and company.revenue_12m >= 0")
    assert sorted(m["email"] for m in members(segs, "acme-like")) == ["ann@acme.example", "bob@acme.example"]
    segs.close()


def test_companies_show_prints_the_account(run_cli):
    assert run_cli(["init"]).exit_code == 0
    assert run_cli(["companies", "add", "--name", "ACME"]).exit_code == 0
    assert run_cli(["contacts", "add", "--email", "ann@acme.example", "--company", "ACME"]).exit_code == 0
    shown = json.loads(run_cli(["companies", "show", "ACME", "--json"]).output)
    assert shown["account"]["orders"] == 0 and shown["contacts"][0]["email"] == "ann@acme.example"
    text = run_cli(["companies", "show", "ACME"]).output
    assert "ann@acme.example" in text and "account:" not in text  # no orders, no account line


def test_accounts_report_lists_late_reorders_first_and_escapes_names(shop):
    from crmcore import render

    crm, acme, beta, solo = shop
    crm.delete("orders", [crm.store.query_value("SELECT id FROM orders WHERE ref = 'a0'")])
    crm.update("companies", acme, {"name": "<b>ACME</b>"})
    html = render(crm, "accounts", {"as_of": "2026-02-05"})
    late = html[html.index("Late reorders"):html.index("Accounts by revenue")]
    assert "&lt;b&gt;ACME&lt;/b&gt;" in late and "<b>ACME" not in html and "Beta" not in late
    assert "Last 12 months: Feb 2025 – Jan 2026 in full, plus Feb 2026 so far (partial month, to 5 Feb 2026)" in html


def test_revenue_12m_is_the_last_12_months_from_the_first_of_a_month(make_crm):
    # on 5 Feb 2026 the last 12 months start on 1 Feb 2025 (12 full months, then February so far)
    crm = make_crm()
    firm = crm.add(Company(name="Firm"))
    who = crm.add(Contact(email="x@firm.example", company_id=firm))
    crm.add_many([Order(contact_id=who, ordered_at="2025-01-31", total=1.0),   # before them
                  Order(contact_id=who, ordered_at="2025-02-01", total=10.0),  # their first day (not in the last 365 days)
                  Order(contact_id=who, ordered_at="2026-02-05", total=100.0)])
    assert account_rows(crm, today=TODAY)[0]["revenue_12m"] == 110.0
