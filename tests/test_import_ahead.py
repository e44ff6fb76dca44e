"""The import's work on other cores changes nothing a user sees: the same rows,
the same rejects at the same row numbers, the same all-or-nothing. Runs on
both stores (.ci/run lists it for the PostgreSQL pass)."""

import csv

import pytest

from crmcore import importing, normalize
from crmcore.importing import ImportFailed, import_contacts

ROWS = 120  # several pieces of work of AHEAD_CHUNK rows each


def write(path, bad=()):
    """Contacts with phones in national form, non-ASCII addresses, one
    duplicate address, and the rows of ``bad`` (file row numbers) broken."""
    countries = ["DE", "US", "GB", "FR", "Österreich", ""]
    phones = ["030 1234{:03d}", "(212) 555-0{:03d}", "020 7946 0{:03d}", "01 42 68 5{:03d}", "01 234{:04d}", "+49 30 9{:06d}"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Email", "First name", "Phone", "Country", "City"])
        for i in range(ROWS):
            number = i + 2  # the row a spreadsheet shows
            email = f"Person{i}.Müller@Example.com" if i % 4 == 0 else f"person{i}@example.com"
            if i == 90:
                email = "person61@example.com"  # a duplicate of row 63
            phone = phones[i % 6].format(i)
            if number in bad:
                email, phone = ("not-an-address", phone) if number % 2 else (email, "12")
            w.writerow([email, f"Name{i}", phone, countries[i % 6], "Berlin"])


def contacts(crm):
    return [(r["email"], r["first_name"], r["phone"], r["country"]) for r in
            crm.store.query("SELECT email, first_name, phone, country FROM contacts ORDER BY id")]


@pytest.fixture
def ahead(monkeypatch):
    """Check ahead whatever the file's size, in one worker, in pieces of 25 rows."""
    def use(on):
        monkeypatch.setattr(importing, "AHEAD_MIN_BYTES", 0 if on else 1 << 60)
        monkeypatch.setattr(importing, "AHEAD_CHUNK", 25)
        monkeypatch.setenv("CRM_IMPORT_WORKERS", "1")
    return use


def test_checked_ahead_gives_the_same_rows_and_rejects_with_the_same_row_numbers(make_crm, tmp_path, ahead, monkeypatch):
    path = tmp_path / "c.csv"
    write(path, bad={7, 40, 41, 118})
    handed = []
    real = normalize._worked_out
    monkeypatch.setattr(normalize, "_worked_out", lambda emails, phones: (handed.append(len(emails)), real(emails, phones)))
    seen = {}
    for on in (False, True):
        ahead(on)
        crm = make_crm(name=f"crm{on}.db")
        result = import_contacts(crm, str(path), rejects_path=str(tmp_path / f"rejects{on}.csv"))
        seen[on] = (contacts(crm), [(r.row, r.field, r.reason) for r in result.rejected], result.created)
    assert handed[:-1] == [24, 24, 25, 25, 19] and handed[-1] == 0  # the workers' results, minus the bad addresses
    assert seen[True] == seen[False]
    rows, rejects, created = seen[True]
    assert [(r[0], r[1]) for r in rejects] == [(7, "email"), (40, "phone"), (41, "email"), (92, "email"), (118, "phone")]
    assert "duplicate of row 63" in rejects[3][2]
    assert created == ROWS - 5
    # Hand-checked values: a national number becomes E.164 with the row's country;
    # a non-ASCII address keeps its canonical form.
    assert ("person0.müller@example.com", "Name0", "+49301234000", "DE") in rows
    assert ("person1@example.com", "Name1", "+12125550001", "US") in rows
    assert ("person4.müller@example.com", "Name4", "+4312340004", "AT") in rows


def test_a_bad_row_far_into_a_checked_ahead_file_leaves_nothing(make_crm, tmp_path, ahead):
    ahead(True)
    path = tmp_path / "c.csv"
    write(path, bad={52})
    crm = make_crm()
    with pytest.raises(ImportFailed, match=r"row 52: phone: invalid phone number '12'"):
        import_contacts(crm, str(path))
    assert crm.store.count("contacts") == 0 and crm.store.count("companies") == 0
    assert normalize._AHEAD == {"email": {}, "phone": {}}  # nothing left behind for later calls


def test_worked_out_values_are_only_used_for_exactly_the_same_arguments():
    normalize._worked_out({"a@example.com": "a@example.com"}, {("030 1", "DE"): "+49301"})
    try:
        assert normalize.phone("030 1", "DE") == "+49301"
        assert normalize.phone("030 1", None) == "030 1"  # another country: worked out here
        with pytest.raises(ValueError):
            normalize.email("not an address")
    finally:
        normalize._worked_out({}, {})


def test_duplicates_are_found_past_the_keys_kept_in_memory(make_crm, tmp_path, monkeypatch):
    """A long file's keys go to a temporary table after SEEN_IN_MEMORY of them:
    a duplicate of a row on either side is still rejected naming that row."""
    monkeypatch.setattr(importing, "SEEN_IN_MEMORY", 3)
    path = tmp_path / "c.csv"
    emails = ["a@x.org", "b@x.org", "c@x.org", "d@x.org", "B@x.org", "e@x.org", "D@X.org", "f@x.org"]
    path.write_text("email,first_name\n" + "".join(f"{e},N{i}\n" for i, e in enumerate(emails)), encoding="utf-8")
    crm = make_crm()
    result = import_contacts(crm, str(path), rejects_path=str(tmp_path / "rejects.csv"))
    assert [(r.row, r.reason) for r in result.rejected] == [
        (6, "duplicate of row 3 ('b@x.org')"), (8, "duplicate of row 5 ('d@x.org')")]
    assert result.created == 6
    again = import_contacts(crm, str(path), rejects_path=str(tmp_path / "rejects.csv"))  # the table is made afresh
    assert (again.updated, len(again.rejected)) == (6, 2)
    path.write_text("email\na@x.org\nb@x.org\nc@x.org\nd@x.org\ne@x.org\nE@x.org\n", encoding="utf-8")
    other = make_crm(name="other.db")
    with pytest.raises(ImportFailed, match=r"row 7: email: duplicate of row 6 \('e@x.org'\)"):
        import_contacts(other, str(path))
    assert other.store.count("contacts") == 0
    assert import_contacts(other, str(path), rejects_path=str(tmp_path / "r.csv")).created == 5  # nothing left of the failed run


def test_an_import_writes_with_a_large_page_cache_and_puts_the_default_back(make_crm, tmp_path):
    """One long transaction spills pages to the write-ahead log once SQLite's
    small default cache is full (the 10,000,000-contact import grew 14x per
    10x): the import enlarges the cache while it writes, bounded, then puts it back."""
    from crmcore import hookimpl

    seen = []

    class Watch:
        @hookimpl
        def crm_records_saved(self, crm, table, records):
            if crm.store.kind == "sqlite":
                seen.append(crm.store.query_value("PRAGMA cache_size"))

    crm = make_crm(plugins=[Watch()])
    if crm.store.kind != "sqlite":
        pytest.skip("SQLite's page cache; PostgreSQL's memory is the server's setting")
    before = crm.store.query_value("PRAGMA cache_size")
    write(tmp_path / "c.csv")
    import_contacts(crm, str(tmp_path / "c.csv"), rejects_path=str(tmp_path / "rejects.csv"))
    from crmcore.store.sqlite import BULK_CACHE_KIB

    assert seen and set(seen) == {-BULK_CACHE_KIB}
    assert crm.store.query_value("PRAGMA cache_size") == before != -BULK_CACHE_KIB
