"""Issue 16, item 2 on PostgreSQL: after an erasure the touched tables are
vacuumed, so the person's dead rows do not wait for autovacuum (what remains
in the WAL and in backups is documented in docs/postgres.md)."""

import pytest

from crmcore.entities import Activity, Contact


def vacuums(crm, table):
    crm.store.execute("SELECT pg_stat_clear_snapshot()")
    return crm.store.query_value("SELECT vacuum_count FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = ?",
                                 (table,))


def test_erase_vacuums_the_tables_it_touched(crm):
    if crm.store.kind != "postgres":
        pytest.skip("PostgreSQL's part of erasure; run with --store=postgres (SQLite: tests/test_erase_no_trace.py)")
    cid = crm.add(Contact(email="quirinella@example.com", first_name="Quirinella"))
    crm.add(Activity(contact_id=cid, kind="note", body="Quirinella called"))
    before = {t: vacuums(crm, t) for t in ("contacts", "activities", "_crm_audit")}
    crm.erase_contact("quirinella@example.com")
    after = {t: vacuums(crm, t) for t in ("contacts", "activities", "_crm_audit")}
    assert all(after[t] == before[t] + 1 for t in after), (before, after)
    assert crm.store.query_value("SELECT count(*) FROM contacts WHERE first_name = 'Quirinella'") == 0
