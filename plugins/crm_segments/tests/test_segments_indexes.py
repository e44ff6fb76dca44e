"""The indexes behind the speed budget are shipped and used (EXPLAIN QUERY PLAN)."""

import datetime as dt

import pytest

import crm_segments
from crm_segments import rfm
from crm_segments.segments import compile_segment_rule

pytestmark = pytest.mark.sqlite_only("SQLite's query plans")


def plan(crm, sql, params):
    return [r["detail"] for r in crm.store.query("EXPLAIN QUERY PLAN " + sql, params)]


def test_rfm_reads_orders_through_the_covering_index(make_crm):
    crm = make_crm(plugins=[crm_segments])
    assert plan(crm, rfm.AGGREGATE_SQL, ["2025-01-01"]) == ["SEARCH orders USING COVERING INDEX ix_segments_orders_rfm (contact_id>?)"]


def test_simple_rule_searches_an_index_instead_of_scanning_contacts(make_crm):
    crm = make_crm(plugins=[crm_segments])
    sql, params = compile_segment_rule(crm, 'country == "SE"', dt.date(2025, 1, 1))
    assert plan(crm, sql, params) == ["SEARCH c USING COVERING INDEX ix_contacts_country (country=?)"]


def test_purchase_fields_look_up_orders_by_index(make_crm):
    crm = make_crm(plugins=[crm_segments])
    sql, params = compile_segment_rule(crm, 'country == "SE" and days_since_last_order <= 90 and total_spent > 10', dt.date(2025, 1, 1))
    details = plan(crm, sql, params)
    assert details[0] == "SEARCH c USING COVERING INDEX ix_contacts_country (country=?)"
    lookups = [d for d in details if " o " in f" {d} "]
    assert lookups and all(d == "SEARCH o USING COVERING INDEX ix_segments_orders_rfm (contact_id=?)" for d in lookups)


def test_membership_lookups_use_the_primary_key(make_crm):
    crm = make_crm(plugins=[crm_segments])
    details = plan(crm, "SELECT contact_id FROM segment_members WHERE segment_id = ? ORDER BY contact_id", [1])
    assert details == ["SEARCH segment_members USING PRIMARY KEY (segment_id=?)"]
