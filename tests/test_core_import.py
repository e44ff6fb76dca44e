"""Contact and order import: mapping, dedupe, rejects and all-or-nothing."""

import csv
import json

import pytest

from crmcore import CRMError
from crmcore.importing import ImportFailed, import_contacts, import_orders

GOOD = "First Name,Last Name,E-mail,Phone Number,Country,Company\nAda,Lovelace,ada@example.com,020 7946 0000,GB,Analytical Ltd\nAlan,Turing,alan@example.com,,GB,\n"


def snapshot(crm):
    return {t: crm.store.query(f"SELECT * FROM {t} ORDER BY id") for t in ("contacts", "companies", "orders", "order_lines")}


def test_csv_with_bom_semicolons_and_common_headers(crm, write_file):
    path = write_file("c.csv", "\ufeffVorname;Nachname;Email Address;Telefon;Land;Newsletter\nJürgen;Müller;J.Mueller@Example.de;030 1234567;Deutschland;yes\n")
    result = import_contacts(crm, path)
    assert (result.created, result.updated, len(result.rejected)) == (1, 0, 0)
    row = crm.find_contact("j.mueller@example.de")
    assert (row["first_name"], row["last_name"], row["country"], row["phone"], row["consent"]) == ("Jürgen", "Müller", "DE", "+49301234567", True)


def test_company_is_linked_and_unknown_columns_become_custom(crm, write_file):
    path = write_file("c.csv", GOOD.replace("Company\n", "Company,Shoe size\n").replace("Analytical Ltd\n", "Analytical Ltd,38\n").replace("GB,\n", "GB,,\n"))
    result = import_contacts(crm, path)
    assert result.extra_columns == ["Shoe size"]
    ada = crm.find_contact("ada@example.com")
    assert ada["custom"] == {"Shoe size": "38"}
    assert crm.get("companies", ada["company_id"])["name"] == "Analytical Ltd"


def test_explicit_map(crm, write_file):
    path = write_file("c.csv", "Kundenmail,Rufname\nx@example.com,Xaver\n")
    import_contacts(crm, path, mapping={"Kundenmail": "email", "Rufname": "first_name"})
    assert crm.find_contact("x@example.com")["first_name"] == "Xaver"
    with pytest.raises(CRMError, match="no field 'mail'"):
        import_contacts(crm, path, mapping={"Kundenmail": "mail"})


def test_json_and_json_lines(crm, write_file):
    j = write_file("c.json", json.dumps([{"email": "a@example.com", "first_name": "A", "tags": ["vip", "b2b"]}, {"email": "b@example.com", "city": "Wien"}]))
    jl = write_file("c.jsonl", '{"email": "c@example.com"}\n\n{"email": "d@example.com", "consent": true}\n')
    assert import_contacts(crm, j).created == 2
    assert import_contacts(crm, jl).created == 2
    assert crm.find_contact("a@example.com")["tags"] == ["b2b", "vip"]
    assert crm.find_contact("b@example.com")["city"] == "Wien"
    assert crm.find_contact("d@example.com")["consent"] is True


def test_reimport_updates_only_the_columns_in_the_file(crm, write_file):
    import_contacts(crm, write_file("a.csv", GOOD))
    import_contacts(crm, write_file("b.csv", "email,city\nada@example.com,London\n"))
    ada = crm.find_contact("ada@example.com")
    assert ada["city"] == "London" and ada["first_name"] == "Ada" and ada["phone"] == "+442079460000"


def test_on_conflict_skip_and_error(crm, write_file):
    import_contacts(crm, write_file("a.csv", GOOD))
    path = write_file("b.csv", "email,city\nada@example.com,Paris\nnew@example.com,Rome\n")
    skipped = import_contacts(crm, path, on_conflict="skip")
    assert (skipped.created, skipped.skipped) == (1, 1)
    assert crm.find_contact("ada@example.com")["city"] == ""
    before = snapshot(crm)
    with pytest.raises(ImportFailed, match="row 2: email: 'ada@example.com' already exists"):
        import_contacts(crm, path, on_conflict="error")
    assert snapshot(crm) == before


def test_dry_run_counts_but_writes_nothing(crm, write_file):
    before = snapshot(crm)
    result = import_contacts(crm, write_file("a.csv", GOOD), dry_run=True)
    assert (result.created, result.dry_run) == (2, True)
    assert snapshot(crm) == before


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("latin1.csv", "email,first_name\nx@example.com,J\xfcrgen\n".encode("latin-1"), "row 2: not valid UTF-8"),
        ("noemail.csv", "first_name,last_name\nAda,Lovelace\n", "no email column"),
        ("bademail.csv", "email,first_name\nada@example.com,Ada\nada-at-example.com,Ada\n", "row 3: email: invalid e-mail address"),
        ("dupes.csv", "email\nada@example.com\nbob@example.com\nADA@example.com\n", "row 4: email: duplicate of row 2"),
        ("extra.csv", "email,first_name\nada@example.com,Ada,surprise\n", "row 2: 3 columns but the header has 2"),
        ("quotes.csv", 'email,first_name\nada@example.com,"Ada\n', "row 2"),
        ("duphead.csv", "email,Email\na@example.com,b@example.com\n", "row 1: duplicate column"),
        ("empty.csv", "", "the file is empty"),
        ("deep.json", "[" * 10000 + "]" * 10000, "nested too deeply"),
        ("notobj.json", "[1, 2]", "row 1: expected a JSON object"),
        ("badline.jsonl", '{"email": "a@example.com"}\n{"email": \n', "row 2: invalid JSON"),
        # Found by fuzz/fuzz_importer.py: a lone carriage return inside the header row.
        ("crheader.csv", "email,first_name\r,x\na@example.com,A\n", "row 1: malformed CSV"),
    ],
)
def test_bad_files_fail_with_one_line_and_change_nothing(crm, write_file, name, content, message):
    import_contacts(crm, write_file("seed.csv", "email\nseed@example.com\n"))
    before = snapshot(crm)
    path = write_file(name, content)
    with pytest.raises(CRMError) as err:
        import_contacts(crm, path)
    text = str(err.value)
    assert message in text and name in text and "\n" not in text
    assert snapshot(crm) == before


def test_missing_file(crm, tmp_path):
    with pytest.raises(CRMError, match="file not found"):
        import_contacts(crm, str(tmp_path / "nope.csv"))


def test_rejects_file_keeps_good_rows(crm, write_file, tmp_path):
    path = write_file("mixed.csv", "email,first_name\nada@example.com,Ada\nbroken,Bob\nada@example.com,Again\ncy@example.com,Cy\n")
    rejects = str(tmp_path / "rejects.csv")
    result = import_contacts(crm, path, rejects_path=rejects)
    assert (result.created, len(result.rejected)) == (2, 2)
    rows = list(csv.DictReader(open(rejects, encoding="utf-8")))
    assert [(r["row"], r["field"]) for r in rows] == [("3", "email"), ("4", "email")]
    assert rows[0]["first_name"] == "Bob" and "duplicate of row 2" in rows[1]["reason"]


def test_suppressed_address_is_never_resubscribed(crm, write_file):
    crm.suppress("ada@example.com")
    import_contacts(crm, write_file("a.csv", "email,newsletter\nada@example.com,yes\nbob@example.com,yes\n"))
    assert crm.find_contact("ada@example.com")["consent"] is False
    assert crm.find_contact("bob@example.com")["consent"] is True


def test_hostile_strings_are_stored_verbatim(crm, write_file):
    evil = "Robert'); DROP TABLE contacts;--"
    path = write_file("evil.csv", f'email,first_name,notes\nbobby@example.com,"{evil}","{{{{ 7*7 }}}}"\n')
    import_contacts(crm, path)
    row = crm.find_contact("bobby@example.com")
    assert row["first_name"] == evil and row["notes"] == "{{ 7*7 }}"
    assert crm.store.count("contacts") == 1


ORDERS = (
    "Order Number,Order Date,Customer Email,SKU,Qty,Price\n"
    "SO-1,2024-01-05,ada@example.com,GRD-001,2,39.90\n"
    "SO-1,2024-01-05,ada@example.com,GRD-002,1,59.00\n"
    "SO-2,2024-03-01,alan@example.com,KIT-001,1,79.00\n"
)


def test_orders_group_lines_and_link_contacts(crm, write_file):
    import_contacts(crm, write_file("c.csv", GOOD))
    result = import_orders(crm, write_file("o.csv", ORDERS))
    assert result.created == 2
    so1 = crm.store.query("SELECT * FROM orders WHERE ref = 'SO-1'")[0]
    assert so1["total"] == pytest.approx(138.8) and so1["ordered_at"] == "2024-01-05"
    assert so1["contact_id"] == crm.find_contact("ada@example.com")["id"]
    assert crm.store.query_value("SELECT count(*) FROM order_lines WHERE order_id = ?", (so1["id"],)) == 2
    again = import_orders(crm, write_file("o2.csv", ORDERS))
    assert (again.created, again.skipped) == (0, 2)
    replaced = import_orders(crm, write_file("o3.csv", ORDERS), on_conflict="update")
    assert replaced.updated == 2 and crm.store.count("order_lines") == 3


def test_order_for_unknown_customer_is_rejected(crm, write_file):
    import_contacts(crm, write_file("c.csv", GOOD))
    before = snapshot(crm)
    path = write_file("o.csv", ORDERS + "SO-3,2024-03-02,ghost@example.com,KIT-001,1,79.00\n")
    with pytest.raises(ImportFailed, match="o.csv: row 5: email: no contact with e-mail 'ghost@example.com'"):
        import_orders(crm, path)
    assert snapshot(crm) == before


def test_order_line_validation(crm, write_file):
    import_contacts(crm, write_file("c.csv", GOOD))
    with pytest.raises(ImportFailed, match="row 2: quantity: must be greater than zero"):
        import_orders(crm, write_file("o.csv", "ref,date,email,sku,qty,price\nX,2024-01-01,ada@example.com,A,-1,2\n"))
    with pytest.raises(ImportFailed, match="row 2: ordered_at: invalid date"):
        import_orders(crm, write_file("o.csv", "ref,date,email,sku,qty,price\nX,2024-13-01,ada@example.com,A,1,2\n"))


# -- properties -----------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from crmcore import normalize  # noqa: E402

typed = st.lists(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
                 | st.sampled_from(list(',;\t"\'\r\n\\ =') + ["\r\n", "\ufeff"]), max_size=30).map("".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=st.lists(st.tuples(typed, typed, typed), min_size=1, max_size=4), fmt=st.sampled_from(["csv", "json", "jsonl"]),
       delimiter=st.sampled_from([",", ";", "\t"]))
def test_any_text_a_file_can_hold_is_imported_as_typed(crm, tmp_path, people, fmt, delimiter):
    """Names and notes come back exactly as written (after the fields' own trimming),
    whatever quoting, separators and line breaks they need in the file."""
    rows = [{"email": f"p{i}@example.com", "first_name": f, "last_name": l, "notes": n} for i, (f, l, n) in enumerate(people)]
    path = tmp_path / f"people.{fmt}"
    with open(path, "w", encoding="utf-8", newline="") as out:
        if fmt == "csv":
            writer = csv.DictWriter(out, list(rows[0]), delimiter=delimiter)
            writer.writeheader()
            writer.writerows(rows)
        elif fmt == "json":
            json.dump(rows, out)
        else:
            out.write("".join(json.dumps(r) + "\n" for r in rows))
    # The same CRM serves every example: --empty clear, so an empty name replaces an earlier one.
    result = import_contacts(crm, str(path), fmt=fmt, empty="clear")
    assert result.created + result.updated == len(rows)
    for row in rows:
        stored = crm.find_contact(row["email"])
        assert (stored["first_name"], stored["last_name"], stored["notes"]) == (
            normalize.text(row["first_name"]), normalize.text(row["last_name"]), normalize.long_text(row["notes"]))
