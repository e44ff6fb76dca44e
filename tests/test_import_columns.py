"""The contact import builds stored rows column by column (``_ColumnRows``)
instead of an attrs record per row. It must store exactly what the record
would: the same values in every column, the same rejects (row, field,
reason), the same hook records and audit. Compared here against the general
path (``schema.build`` + ``schema.to_row``) on hostile values. Runs on both
stores (.ci/run lists it for the PostgreSQL pass)."""

import csv
import json
import random

import pytest

from crmcore import hookimpl, importing, normalize, schema
from crmcore.entities import Contact
from crmcore.importing import import_contacts

NOW = "2026-01-02T03:04:05"

# Values each field may take: plain, unicode, quotes, blank, white space,
# NUL bytes, wrong types, malformed dates and numbers.
HOSTILE = ["", " ", "\t", None, "Ada", "  Ada  Lovelace ", "O'Brien", '"quoted"', "Zoë ☃", "a\x00b", "line\nbreak", 42, 0, 1.5,
           True, False]
VALUES = {
    "email": ["ada@example.com", " Ada@Example.COM ", "zoë@bücher.de", "user@xn--bcher-kva.de", "bad", "a..b@example.com",
              "o'brien@example.ie", "", None, "x@-bad.com"],
    "phone": ["030 1234567", "(212) 555-0101", "+49 30 1234567", "0049 30 1234567", "12", "abc", " ", "+1 800 FLOWERS",
              "030 1234567 ext. 5", "٠٣٠ ١٢٣٤٥٦٧", 4930123456],
    "country": ["DE", "de", " Germany ", "Österreich", "Narnia", "", None, "usa", "GB"],
    "birth_date": ["1990-05-17", "17.05.1990", "11/03/1990", "1990-02-30", "soon", "", None],
    "consent": ["yes", "no", "x", "maybe", "", None, True, 1, 0, "Opt-In"],
    "consent_at": ["2024-03-01T10:00:00Z", "2024-03-01", "yesterday", "", None],
    "tags": ["vip, gold", "a;b|c", '["x", "y"]', "[broken", "[1, 2]", "", " , ", None, ["a", " a "]],
    "custom": ['{"tier": "gold"}', {"k": "v"}, "[1]", "not json", "", None, {"bad": "a\x00"}, '{"zoë": "ü"}'],
    "company_id": ["7", "7.0", "7.5", "seven", "", None, 3],
    "notes": ["two\nlines", "  padded  ", "", None, "a\x00"],
    "id": ["", None, "12"],
}
TEXT_FIELDS = ["first_name", "last_name", "company", "job_title", "street", "city", "region", "postal_code", "gender",
               "source", "owner", "consent_source"]


def corpus(n, seed=23):
    rng = random.Random(seed)
    names = TEXT_FIELDS + list(VALUES)
    for _ in range(n):
        data = {}
        for name in rng.sample(names, rng.randint(0, len(names))):
            data[name] = rng.choice(VALUES.get(name, HOSTILE))
        if rng.random() < 0.03:
            data["no_such_field"] = "x"
        yield data


def general(data):
    """The stored row of the general path, or the exception it raises."""
    try:
        return schema.to_row(schema.build(Contact, data))
    except Exception as exc:  # noqa: BLE001 - any failure is compared
        return type(exc), getattr(exc, "field", None), str(exc)


def test_column_rows_match_the_record_on_a_hostile_corpus(monkeypatch):
    monkeypatch.setattr(normalize, "now", lambda: NOW)
    rows = importing._column_rows(Contact)
    failed = built = 0
    for data in corpus(4000):
        expected = general(dict(data))
        got = rows.row(dict(data))
        if isinstance(expected, tuple):
            assert got is None, (data, expected)
            failed += 1
        else:
            assert got is not None, (data, expected)
            assert got[0] == expected and list(got[0]) == list(expected), data
            built += 1
    assert failed > 500 and built > 500  # both outcomes are exercised


def test_column_rows_give_hooks_what_decode_saved_gives(monkeypatch):
    monkeypatch.setattr(normalize, "now", lambda: NOW)
    rows = importing._column_rows(Contact)
    for data in [{"email": "a@example.com", "tags": "b, a", "custom": '{"k": 1}', "consent": "yes"},
                 {"email": "b@example.com"}]:
        row, values = rows.row(dict(data))
        rec = schema.build(Contact, dict(data))
        assert rows.saved(dict(row), values) == schema.decode_saved(rec, schema.to_row(rec))


HEADER = ["E-Mail", "First name", "Last name", "Phone", "Country", "Birth date", "Tags", "Consent", "Company", "Loyalty tier",
          "Notes"]
FILE_ROWS = [
    ["ada@example.com", "Ada", "Lovelace", "030 1234567", "DE", "1815-12-10", "vip, math", "yes", "Analytical Ltd", "gold", ""],
    [" Bob@Example.COM ", '"Bob"', "O'Brien", "(212) 555-0101", "usa", "", "", "no", "", "", "two\nlines"],
    ["zoë@bücher.de", "Zoë", "Ünal", "+44 20 7946 0000", "", "17.05.1990", '["x", "y"]', "x", "Bücher GmbH", "", ""],
    ["bad-address", "Eve", "", "", "", "", "", "", "", "", ""],
    ["carl@example.com", "  Carl  ", "\tTab", "12", "DE", "", "", "", "", "", ""],
    ["dora@example.com", "Dora", "", "", "Narnia", "", "", "", "", "", ""],
    ["emil@example.com", "Emil", "", "", "AT", "1990-02-30", "", "", "", "silver", ""],
    ["fay@example.com", "Fay", "", "", "", "", "[broken", "", "", "", ""],
    ["gus@example.com", "Gus", "", "", "", "", "", "maybe", "", "", ""],
    ["ADA@example.com", "Ada again", "", "", "", "", "", "", "", "", ""],
    ["hal@example.com", "", "", "  ", " ", "", " , ", "yes", " ", " ", " "],
    ["suppressed@example.com", "Sam", "", "", "", "", "", "yes", "", "", ""],
]
UPDATE_ROWS = [
    ["ada@example.com", "Ada", "King", "", "GB", "", "", "no", "", "", "new note"],
    ["bob@example.com", "", "", "", "", "", "vip", "", "", "bronze", ""],
    ["hal@example.com", "Hal", "", "020 7946 0000", "GB", "", "", "", "", "", ""],
    ["new@example.com", "New", "", "", "FR", "", "", "", "", "", ""],
]


def write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    return str(path)


class Saved:
    crm_plugin_name = "saved"

    def __init__(self):
        self.records = []

    @hookimpl
    def crm_records_saved(self, crm, table, records):
        self.records.extend(records)


def outcome(crm, results, saved):
    columns = [c for c in crm.store.columns("contacts")]
    rows = [dict(r) for r in crm.store.query("SELECT * FROM contacts ORDER BY id")]
    audit = [(r["record_id"], json.loads(r["changes"])) for r in crm.store.query(
        "SELECT record_id, changes FROM _crm_audit WHERE action = 'import' ORDER BY id")]
    companies = [dict(r) for r in crm.store.query("SELECT id, name FROM companies ORDER BY id")]
    return {"columns": columns, "rows": rows, "audit": audit, "companies": companies, "hooks": saved.records,
            "results": [(r.as_dict() | {"file": None}, [(j.row, j.field, j.reason, j.data) for j in r.rejected])
                        for r in results]}


@pytest.mark.parametrize("empty", ["keep", "clear"])
def test_the_import_stores_the_same_with_and_without_column_rows(make_crm, tmp_path, monkeypatch, empty):
    monkeypatch.setattr(normalize, "now", lambda: NOW)
    first, second = write(tmp_path / "a.csv", FILE_ROWS), write(tmp_path / "b.csv", UPDATE_ROWS)
    seen = {}
    for fast in (True, False):
        if not fast:
            monkeypatch.setattr(importing, "_column_rows", lambda cls: None)
        saved = Saved()
        crm = make_crm(plugins=[saved], name=f"crm{fast}{empty}.db")
        from crmcore.privacy import suppress

        suppress(crm, "suppressed@example.com")
        results = [import_contacts(crm, first, rejects_path=str(tmp_path / "r.csv")),
                   import_contacts(crm, second, rejects_path=str(tmp_path / "r.csv"), empty=empty),
                   import_contacts(crm, second, on_conflict="skip"),
                   import_contacts(crm, first, rejects_path=str(tmp_path / "r.csv"), dry_run=True)]
        seen[fast] = outcome(crm, results, saved)
    assert seen[True] == seen[False]
    got = seen[True]
    # Hand-checked: what the file says, the rejects at their spreadsheet rows.
    assert [(r, f) for r, f, _, _ in got["results"][0][1]] == [
        (5, "email"), (7, "country"), (8, "birth_date"), (9, "tags"), (10, "consent"), (11, "email")]
    ada = got["rows"][0]
    kept = empty == "keep"  # the update's empty cells keep or clear the stored phone and loyalty tier
    assert (ada["email"], ada["phone"], ada["country"], ada["last_name"]) == (
        "ada@example.com", "+49301234567" if kept else None, "GB", "King")
    assert json.loads(ada["custom"]) == ({"Loyalty tier": "gold"} if kept else {}) and ada["consent"] == 0
    bob = got["rows"][1]
    assert (bob["email"], bob["first_name"], bob["last_name"], bob["phone"]) == (
        ("bob@example.com", '"Bob"', "O'Brien", "+12125550101") if kept else ("bob@example.com", "", "", None))
    assert json.loads(bob["custom"]) == {"Loyalty tier": "bronze"} and json.loads(bob["tags"]) == ["vip"]
    sam = next(r for r in got["rows"] if r["email"] == "suppressed@example.com")
    assert sam["consent"] == 0 and sam["consent_at"] is None
    assert got["hooks"] and all(isinstance(r["tags"], list) and isinstance(r["consent"], bool) for r in got["hooks"])
