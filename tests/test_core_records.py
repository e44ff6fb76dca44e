"""Records, validation and the store: the rules every write goes through."""

import datetime as dt
import os
import stat

import pytest

from crmcore import normalize
from crmcore import CRM, CRMError
from crmcore.entities import Company, Contact, Deal, OrderLine
from crmcore.schema import FieldError, build, decode_row, to_row
from crmcore.store import StoreError, quote_name


def test_contact_normalises_email_phone_and_country():
    c = build(Contact, {"email": "  Ada.Lovelace@Example.COM ", "phone": "030 1234567", "country": "Germany"})
    assert c.email == "ada.lovelace@example.com"
    assert c.country == "DE"
    assert c.phone == "+49301234567"


def test_unicode_email_is_accepted_and_lower_cased():
    assert normalize.email("Jürgen@Beispiel.de") == "jürgen@beispiel.de"


@pytest.mark.parametrize(
    "data, field",
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b..com"}, "email"),
        ({"country": "Atlantis"}, "country"),
        ({"phone": "555-12", "country": "US"}, "phone"),
        ({"birth_date": "2023-02-30"}, "birth_date"),
        ({"consent": "maybe"}, "consent"),
        ({"nickname": "x"}, "nickname"),
        ({"first_name": "a\x00b"}, "first_name"),
    ],
)
def test_invalid_values_name_the_field(data, field):
    with pytest.raises(FieldError) as err:
        build(Contact, data)
    assert err.value.field == field


def test_row_round_trip_keeps_types():
    c = build(Contact, {"email": "x@example.com", "tags": "vip; b2b, vip", "consent": "yes", "birth_date": "1990-05-01", "custom": '{"size": "L"}'})
    row = to_row(c)
    assert row["tags"] == '["b2b", "vip"]' and row["consent"] == 1 and row["birth_date"] == "1990-05-01"
    back = decode_row(Contact, row)
    assert back["tags"] == ["b2b", "vip"] and back["consent"] is True and back["custom"] == {"size": "L"}
    assert c.consent_at, "opting in records when"


def test_business_rules_on_other_records():
    with pytest.raises(FieldError, match="amount"):
        build(Deal, {"title": "x", "amount": "-5"})
    with pytest.raises(FieldError, match="quantity"):
        build(OrderLine, {"sku": "A", "quantity": "0"})
    with pytest.raises(FieldError, match="name"):
        build(Company, {})
    assert build(Deal, {"title": "x", "amount": "1.234,5".replace(".", "")}).amount == 1234.5


@pytest.mark.sqlite_only("file permissions and WAL mode of a database file")
def test_new_database_is_private_and_uses_wal(tmp_path):
    path = tmp_path / "new.db"
    crm = CRM(str(path), plugins=[])
    crm.migrate()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert crm.store.query_value("PRAGMA journal_mode") == "wal"
    assert crm.store.query_value("PRAGMA foreign_keys") == 1
    crm.close()


@pytest.mark.sqlite_only("the folder of a database file")
def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        CRM(str(tmp_path / "nope" / "crm.db"), plugins=[])


def test_transaction_rolls_back_everything_including_nested(crm):
    with pytest.raises(RuntimeError):
        with crm.store.transaction():
            crm.add(Contact(email="a@example.com"))
            with crm.store.transaction():
                crm.add(Contact(email="b@example.com"))
            raise RuntimeError("boom")
    assert crm.store.count("contacts") == 0


def test_inner_savepoint_can_fail_alone(crm):
    with crm.store.transaction():
        crm.add(Contact(email="a@example.com"))
        with pytest.raises(CRMError):
            crm.add(Contact(email="a@example.com"))
    assert crm.store.count("contacts") == 1


def test_unique_email_is_enforced_with_a_clear_message(crm):
    crm.add(Contact(email="a@example.com"))
    with pytest.raises(CRMError, match="already has this email"):
        crm.add(Contact(email="A@example.com"))


def test_identifiers_are_whitelisted():
    assert quote_name("contacts") == '"contacts"'
    for bad in ('contacts"; DROP TABLE x; --', "a b", "", None, "1abc"):
        with pytest.raises(StoreError):
            quote_name(bad)


def test_update_validates_audits_and_ignores_unchanged(crm):
    cid = crm.add(Contact(email="a@example.com", first_name="Ada"))
    crm.update("contacts", cid, {"first_name": "Ada", "city": "London"})
    history = crm.store.query('SELECT "user", action, changes FROM _crm_audit WHERE record_id = ?', (cid,))
    assert history[-1]["action"] == "update" and "city" in history[-1]["changes"] and "first_name" not in history[-1]["changes"]
    assert history[-1]["user"] == "tester"
    with pytest.raises(FieldError):
        crm.update("contacts", cid, {"email": "broken"})
    assert crm.get("contacts", cid)["email"] == "a@example.com"


def test_stages_are_configurable_and_validated(crm):
    crm.set_stages(["new=5", "demo=40", "won=100", "lost=0"])
    assert crm.stages == [("new", 5), ("demo", 40), ("won", 100), ("lost", 0)]
    with pytest.raises(FieldError, match="unknown stage"):
        crm.add(Deal(title="x", stage="lead"))
    with pytest.raises(CRMError, match="won"):
        crm.set_stages(["a=1"])
    crm.add(Deal(title="x", stage="demo"))
    with pytest.raises(CRMError, match="still in stage"):
        crm.set_stages(["new=5", "won=100", "lost=0"])


def test_merge_moves_related_records_and_fills_gaps(crm):
    from crmcore.entities import Activity, Order

    keep = crm.add(Contact(email="ada@example.com", first_name="Ada", tags=["vip"]))
    dup = crm.add(Contact(email="ada.l@example.com", phone="+441234567890", tags=["b2b"]))
    crm.add(Deal(title="Big one", contact_id=dup))
    crm.add(Activity(contact_id=dup, kind="call"))
    crm.add(Order(contact_id=dup, ordered_at=dt.date(2024, 1, 1), total=10))
    merged = crm.merge_contacts("ada@example.com", str(dup))
    assert merged["phone"] == "+441234567890" and merged["tags"] == ["b2b", "vip"]
    assert crm.store.get("contacts", dup) is None
    for table in ("deals", "activities", "orders"):
        assert crm.store.query_value(f"SELECT count(*) FROM {table} WHERE contact_id = ?", (keep,)) == 1
    assert crm.store.query_value("SELECT count(*) FROM _crm_audit WHERE action = 'merge'") == 1


def test_suppression_withdraws_consent_for_good(crm):
    cid = crm.add(Contact(email="x@example.com", consent=True))
    crm.suppress("X@example.com")
    assert crm.get("contacts", cid)["consent"] is False
    assert crm.is_suppressed("x@example.com")


def test_bulk_insert_and_update_across_statement_chunks(crm):
    from crmcore.store import sqlite as sqlite_store

    rows = [{"email": f"u{i}@example.com", "first_name": f"N{i}", "tags": "[]", "custom": "{}"} for i in range(3 * (sqlite_store.MAX_VARIABLES // 5) + 7)]
    with crm.store.transaction():
        ids = crm.store.insert_many("contacts", rows)
    assert ids == list(range(1, len(rows) + 1))
    assert crm.store.query_value("SELECT first_name FROM contacts WHERE email = 'u1000@example.com'") == "N1000"
    with crm.store.transaction():
        crm.store.update_many("contacts", [{"id": i, "city": f"C{i}"} for i in ids])
    assert crm.store.query_value("SELECT count(*) FROM contacts WHERE city = 'C' || id") == len(rows)
    assert "u1000@example.com" in [r["email"] for r in crm.search_contacts("u1000", limit=50)]
    assert crm.search_contacts("N1000")[0]["email"] == "u1000@example.com"
