"""Each format on awkward contacts: non-ASCII, commas, quotes, newlines,
formula-like cells. Expected values are written out by hand; hashes are
computed here with hashlib over the normalised value typed in the test."""

import csv
import hashlib
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import vobject

import crm_exports
from crm_exports.exporter import export
from crmcore.entities import Contact
from crmcore.schema import field_names


def sha(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


NOTES = 'Line one\nline two; with, punctuation \\ and "quotes"'


@pytest.fixture
def crm(make_crm):
    crm = make_crm(plugins=[crm_exports])
    crm.add(Contact(
        first_name='Zoë "Zo"', last_name="O'Brien-Müller", email="Zoe@Example.com", phone="030 1234567", country="DE",
        company='ACME, "Inc"; Ltd', job_title='=HYPERLINK("http://x")', street="Hauptstraße 1, Hinterhaus",
        city="München", region="Bayern", postal_code="80331", birth_date="1985-04-12", gender="female",
        tags=["vip", "newsletter"], notes=NOTES, consent=True,
    ))
    crm.add(Contact(
        first_name="=cmd|' /C calc'!A0", last_name="+SUM(1)", email="formula@example.com", phone="-1234",
        company="@evil", city="-2+3", consent=True,
    ))
    crm.add(Contact(first_name="Ann", last_name="Nope", email="ann@example.com", consent=False))
    crm.add(Contact(first_name="Pho", last_name="Only", phone="(212) 555-0100", country="US", consent=True))
    return crm


def run(crm, tmp_path, fmt, **kw):
    path = tmp_path / f"out.{fmt}"
    result = export(crm, fmt, str(path), everyone=True, **kw)
    return result, path.read_bytes()


def rows_of(data):
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_mailchimp_headers_address_birthday_tags_and_neutralised_cells(crm, tmp_path):
    result, data = run(crm, tmp_path, "mailchimp")
    rows = rows_of(data)
    assert rows[0] == ["Email Address", "First Name", "Last Name", "Address", "Phone Number", "Birthday", "Tags"]
    assert rows[1] == ["zoe@example.com", 'Zoë "Zo"', "O'Brien-Müller",
                       "Hauptstraße 1 Hinterhaus  München  Bayern  80331  DE", "+49301234567", "04/12", "newsletter,vip"]
    assert rows[2] == ["formula@example.com", "'=cmd|' /C calc'!A0", "'+SUM(1)", "'-2+3", "'-1234", "", ""]
    assert len(rows) == 3  # Ann has no consent, Pho has no e-mail
    assert result.excluded == {"no consent": 1, "no email": 1}
    assert data.decode("utf-8")  # UTF-8, no BOM needed


def test_hubspot_headers_and_one_row_per_contact(crm, tmp_path):
    _, data = run(crm, tmp_path, "hubspot")
    rows = rows_of(data)
    assert rows[0] == ["Email", "First Name", "Last Name", "Phone Number", "Company Name", "Job Title",
                       "Street Address", "City", "State/Region", "Postal Code", "Country/Region"]
    assert rows[1] == ["zoe@example.com", 'Zoë "Zo"', "O'Brien-Müller", "+49301234567", 'ACME, "Inc"; Ltd',
                       "'=HYPERLINK(\"http://x\")", "Hauptstraße 1, Hinterhaus", "München", "Bayern", "80331", "Germany"]
    assert rows[2][4] == "'@evil"
    assert [r[0] for r in rows[1:]] == ["zoe@example.com", "formula@example.com"]


def test_google_customer_match_hashes_normalised_values(crm, tmp_path):
    result, data = run(crm, tmp_path, "google-customer-match")
    rows = rows_of(data)
    assert rows[0] == ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"]
    assert rows[1] == [sha("zoe@example.com"), sha("+49301234567"), sha('zoë "zo"'), sha("o'brien-müller"), "DE", "80331"]
    # "-1234" has no country: it cannot be E.164, so no phone is sent rather than a wrong one.
    assert rows[2] == [sha("formula@example.com"), "", sha("=cmd|' /c calc'!a0"), sha("+sum(1)"), "", ""]
    # A contact with a phone but no e-mail can be matched on the phone.
    assert rows[3] == ["", sha("+12125550100"), sha("pho"), sha("only"), "US", ""]
    assert result.rows == 3 and result.excluded == {"no consent": 1}


def test_google_customer_match_unhashed_is_plain_and_safe(crm, tmp_path):
    _, data = run(crm, tmp_path, "google-customer-match", options={"unhashed": True})
    rows = rows_of(data)
    assert rows[1] == ["zoe@example.com", "+49301234567", 'zoë "zo"', "o'brien-müller", "DE", "80331"]
    # The E.164 phone keeps its required plus; every other cell is neutralised.
    assert rows[2] == ["formula@example.com", "", "'=cmd|' /c calc'!a0", "'+sum(1)", "", ""]
    assert rows[3][1] == "+12125550100"


def test_meta_custom_audience_normalises_by_meta_rules_then_hashes(crm, tmp_path):
    _, data = run(crm, tmp_path, "meta-custom-audience")
    rows = rows_of(data)
    assert rows[0] == ["email", "phone", "fn", "ln", "ct", "st", "zip", "country", "doby", "dobm", "dobd", "gen"]
    expected = ["zoe@example.com", "49301234567", "zoëzo", "obrienmüller", "münchen", "bayern", "80331", "de",
                "1985", "04", "12", "f"]
    assert rows[1] == [sha(v) for v in expected]
    assert rows[3] == ["", sha("12125550100"), sha("pho"), sha("only"), "", "", "", sha("us"), "", "", "", ""]


def test_meta_us_zip_is_five_digits_and_states_two_letters():
    from crm_exports.formats import meta_state, meta_zip

    assert meta_zip("10001-1234", "US") == "10001"
    assert meta_zip("SW1A 1AA", "GB") == "sw1a1aa"
    assert meta_state("New York", "US") == "ny" and meta_state("CA", "US") == "ca"
    assert meta_state("Île-de-France", "FR") == "îledefrance"


def test_vcard_parses_back_with_vobject(crm, tmp_path):
    _, data = run(crm, tmp_path, "vcard", include_unconsented=True)
    text = data.decode("utf-8")
    cards = list(vobject.readComponents(text))
    assert len(cards) == 4
    zoe = cards[0]
    assert zoe.version.value == "4.0"
    assert zoe.fn.value == 'Zoë "Zo" O\'Brien-Müller'
    assert zoe.n.value.family == "O'Brien-Müller" and zoe.n.value.given == 'Zoë "Zo"'
    assert zoe.email.value == "zoe@example.com"
    assert zoe.tel.value == "tel:+49301234567"
    assert zoe.org.value == ['ACME, "Inc"; Ltd']
    assert zoe.adr.value.street == "Hauptstraße 1, Hinterhaus" and zoe.adr.value.city == "München"
    assert zoe.adr.value.code == "80331" and zoe.adr.value.country == "Germany"
    assert zoe.bday.value == "19850412"
    assert zoe.categories.value == ["newsletter", "vip"]
    assert zoe.note.value == NOTES
    assert zoe.title.value == '=HYPERLINK("http://x")'  # a vCard is not a spreadsheet: kept as typed
    # FN is always present, also without a name.
    assert [c.fn.value for c in cards[1:]] == ["=cmd|' /C calc'!A0 +SUM(1)", "Ann Nope", "Pho Only"]


def test_vcard_crlf_and_folding_at_75_octets(make_crm, tmp_path):
    crm = make_crm(plugins=[crm_exports])
    long_note = "Grüße aus Köln, Zürich und Malmö; " * 6 + "😀" * 30
    crm.add(Contact(first_name="Ærøskøbing", last_name="Ødegård-Ångström" * 4, email="long@example.com", notes=long_note, consent=True))
    crm.add(Contact(email="nameless@example.com", consent=True))
    _, data = run(crm, tmp_path, "vcard")
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    lines = data.split(b"\r\n")[:-1]
    assert max(len(line) for line in lines) == 75  # folding happened, right at the limit
    for line in lines:
        assert len(line) <= 75
        line.decode("utf-8")  # a multi-byte character is never split across lines
    cards = list(vobject.readComponents(data.decode("utf-8")))
    assert cards[0].note.value == long_note.strip()
    assert cards[1].fn.value == "nameless@example.com"


def test_csv_has_every_field_and_neutralises_formulas(crm, tmp_path):
    _, data = run(crm, tmp_path, "csv")
    rows = rows_of(data)
    names = field_names(Contact)
    assert rows[0] == names
    zoe = dict(zip(names, rows[1]))
    assert zoe["notes"] == NOTES and zoe["company"] == 'ACME, "Inc"; Ltd' and zoe["tags"] == "newsletter,vip"
    assert zoe["job_title"] == "'=HYPERLINK(\"http://x\")"
    formula = dict(zip(names, rows[2]))
    assert (formula["first_name"], formula["last_name"], formula["phone"], formula["city"]) == (
        "'=cmd|' /C calc'!A0", "'+SUM(1)", "'-1234", "'-2+3")


def test_json_has_every_field_unchanged(crm, tmp_path):
    _, data = run(crm, tmp_path, "json")
    records = json.loads(data)
    assert [r["email"] for r in records] == ["zoe@example.com", "formula@example.com", None]
    assert set(records[0]) == set(field_names(Contact))
    assert records[0]["notes"] == NOTES and records[0]["tags"] == ["newsletter", "vip"]
    assert records[1]["first_name"] == "=cmd|' /C calc'!A0"  # JSON is data, not a spreadsheet


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "\nx"])
def test_safe_cell_neutralises_every_formula_start(cell):
    from crm_exports.formats import safe_cell

    assert safe_cell(cell) == "'" + cell
    assert safe_cell("plain " + cell) == "plain " + cell


def test_clear_phone_keeps_valid_e164_and_neutralises_the_rest():
    from crm_exports.formats import clear_phone

    assert clear_phone("+4930123456") == "+4930123456"
    assert clear_phone("+1+1") == "'+1+1"
    assert clear_phone("=1") == "'=1"


def test_hand_joined_customer_match_rows_quote_like_the_csv_module(make_crm, tmp_path):
    crm = make_crm(plugins=[crm_exports])
    crm.add(Contact(email="q@example.com", postal_code='A,"1" 2', consent=True))
    crm.add(Contact(email="f@example.com", postal_code="=1+2", consent=True))
    _, data = run(crm, tmp_path, "google-customer-match")
    rows = rows_of(data)
    assert [r[5] for r in rows[1:]] == ['A,"1" 2', "'=1+2"]
    assert all(len(r) == 6 for r in rows)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_csv_field_round_trips_through_the_csv_reader(value):
    from crm_exports.formats import csv_field

    assert next(csv.reader(io.StringIO(csv_field(value) + ",end\r\n", newline=""))) == [value, "end"]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n,;\\"), max_size=300))
def test_vcard_note_round_trips_through_vobject(value):
    from crm_exports.vcard import escape, fold

    lines = fold("NOTE:" + escape(value))
    assert all(len(line.encode("utf-8")) <= 75 for line in lines)
    card = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\n" + "\r\n".join(lines) + "\r\nEND:VCARD\r\n"
    assert vobject.readOne(card).note.value == value
