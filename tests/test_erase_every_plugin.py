"""`crm contacts erase` with every built-in plugin enabled: no table keeps the person.

The demo data gives a contact orders, segment memberships and RFM scores,
survey invitations and responses; an export adds them to the export log. After
the erasure no row of any table (core or plugin, full-text index included)
holds their e-mail, phone or free text, and no row still points at their id,
except the export log's erasure records, which keep the old id and an e-mail
hash so that `where was this person sent` still has an answer."""

import json

import pytest

import crm_exports
import crm_products
import crm_segments
import crm_service
import crm_surveys

from crm_exports.exporter import export
from crm_products import summary

PLUGINS = [crm_products, crm_segments, crm_surveys, crm_exports, crm_service]
# Tables allowed to keep the erased id: they record where the person was sent.
KEEPS_ID = {"export_erasures", "export_log_contacts"}


def everything(crm):
    """Every table's rows as one JSON text per table."""
    return {t: json.dumps(crm.store.query(f'SELECT * FROM "{t}"'), default=str)
            for t in crm.store.table_names() if not t.startswith("sqlite_")}


def test_erase_leaves_nothing_of_the_person_in_any_table(sample_crm, tmp_path):
    crm = sample_crm(plugins=PLUGINS, contacts=200)
    cid = crm.store.query_value(
        "SELECT c.id FROM contacts c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.contact_id = c.id) "
        "AND EXISTS (SELECT 1 FROM survey_responses r WHERE r.contact_id = c.id) "
        "AND EXISTS (SELECT 1 FROM segment_members m WHERE m.contact_id = c.id) ORDER BY c.id LIMIT 1")
    assert cid is not None, "the demo data should give some contact orders, responses and segments"
    marker = "Quintavalle-7f3a"
    crm.update("contacts", cid, {"email": "erin.q@example.org", "phone": "+4930901820", "last_name": marker,
                                 "notes": f"{marker} prefers calls", "consent": True})
    response = crm.store.query_value("SELECT id FROM survey_responses WHERE contact_id = ?", (cid,))
    text_question = crm.store.query_value("SELECT id FROM survey_questions WHERE type = 'text' LIMIT 1")
    crm.store.execute("INSERT INTO survey_answers (response_id, question_id, value) VALUES (?, ?, ?)",
                      (response, text_question, f"{marker} says the parcel came late"))
    from crm_service.cases import open_case

    open_case(crm, str(cid), f"{marker}'s kettle", description=f"{marker} writes: the kettle leaks")
    export(crm, "csv", str(tmp_path / "all.csv"), everyone=True)
    assert summary.current(crm)  # the products plugin's sales summaries now count the person's orders too
    assert crm.store.query_value("SELECT count(*) FROM product_buyers WHERE contact_id = ?", (cid,)) > 0
    before = everything(crm)
    assert any("erin.q@example.org" in text for text in before.values())

    notes = crm.erase_contact(str(cid))

    assert any("export" in note for note in notes), notes
    for table, text in everything(crm).items():
        for secret in ("erin.q@example.org", "4930901820", marker):
            assert secret not in text, f"{table} still holds {secret!r}"
    for table in crm.store.table_names():
        columns = crm.store.columns(table)
        if "contact_id" in columns and table not in KEEPS_ID:
            left = crm.store.query_value(f'SELECT count(*) FROM "{table}" WHERE contact_id = ?', (cid,))
            assert left == 0, f"{table} still has {left} rows of the erased contact"
    assert crm.store.query_value("SELECT count(*) FROM export_log_contacts WHERE contact_id = ? AND erasure_id IS NULL", (cid,)) == 0
    assert crm.is_suppressed("erin.q@example.org")
    # Orders stay for the books, unlinked: revenue totals do not change.
    assert crm.store.query_value("SELECT count(*) FROM orders") == len(json.loads(before["orders"]))


def _rows_of(crm, cid):
    """``{table: rows}`` still holding ``cid`` in a contact_id column."""
    found = {}
    for table in crm.store.table_names():
        if "contact_id" in crm.store.columns(table) and table not in KEEPS_ID:
            count = crm.store.query_value(f'SELECT count(*) FROM "{table}" WHERE contact_id = ?', (cid,))
            if count:
                found[table] = count
    return found


@pytest.mark.parametrize("how", ["products", "segments", "surveys", "exports", "service", "none loaded"])
def test_erase_and_merge_work_with_a_plugin_disabled_or_none_loaded(sample_crm, tmp_path, how):
    """`crm plugins disable X` (its erase hooks still run) and `CRM_LOAD_PLUGINS=` (no plugin
    code at all: the core deletes and moves every linked row itself) never block an erasure."""
    from crm_service.cases import open_case

    from crmcore import CRM

    crm = sample_crm(plugins=PLUGINS, contacts=120)
    busy = [r["id"] for r in crm.store.query(
        "SELECT c.id FROM contacts c WHERE EXISTS (SELECT 1 FROM survey_responses r WHERE r.contact_id = c.id) "
        "AND EXISTS (SELECT 1 FROM segment_members m WHERE m.contact_id = c.id) ORDER BY c.id LIMIT 3")]
    assert len(busy) == 3
    erased, keep, dup = busy
    for cid in busy:
        open_case(crm, str(cid), "a question")
    export(crm, "csv", str(tmp_path / "all.csv"), everyone=True)
    summary.current(crm)
    assert _rows_of(crm, erased) and _rows_of(crm, dup)
    moved = {t: crm.store.query_value(f'SELECT count(*) FROM "{t}" WHERE contact_id IN (?, ?)', (keep, dup))
             for t in ("survey_responses", "service_cases", "orders")}
    if how == "none loaded":
        location = crm.location
        crm.close()
        crm = CRM(location, plugins=[])
    else:
        crm.set_enabled(how, False)

    crm.erase_contact(str(erased))
    crm.merge_contacts(str(keep), str(dup))

    assert _rows_of(crm, erased) == {}
    assert _rows_of(crm, dup) == {}
    for table, count in moved.items():
        assert crm.store.query_value(f'SELECT count(*) FROM "{table}" WHERE contact_id = ?', (keep,)) == count, table
    if how == "none loaded":
        crm.close()
