"""Property tests of every format's normalisation, on generated contacts whose
text fields hold anything a user could type or import: formula starts,
quotes, separators, line breaks, control and non-ASCII characters.

The writers are called directly with contact dicts shaped as the exporter
hands them over (birth date as ISO text, tags as a list), so many examples
run in little time; the end-to-end exports are covered in test_exports_formats."""

import csv
import datetime as dt
import hashlib
import io
import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_exports import formats
from crm_exports.vcard import card_lines, escape, fold
from crmcore.entities import Contact
from crmcore.schema import field_names

NAMES = field_names(Contact)
E164 = re.compile(r"\+[1-9][0-9]{1,14}")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")  # what a spreadsheet may evaluate (OWASP CSV injection)
SETTINGS = settings(max_examples=40, deadline=None)

# Text a user might enter: anything but lone surrogates (which cannot be stored as UTF-8),
# mixed with the characters each format must treat specially.
tricky = st.sampled_from(list("=+-@\t\r\n,;\"'\\ :") + ["\r\n", "ß", "İ", "😀", "\u0301", "\u00a0"])
texts = st.lists(st.one_of(st.characters(blacklist_categories=("Cs",)), tricky), max_size=20).map("".join)
maybe_text = st.none() | texts
phones = st.none() | texts | st.sampled_from(["+4930123456", "030 1234567", "(212) 555-0100", "+1+1", "-1234", "0049 30 123"])
countries = st.none() | st.sampled_from(["DE", "US", "GB", "FR", "AT", "JP"])
dates = st.none() | st.dates(dt.date(1900, 1, 1), dt.date(2020, 12, 31)).map(dt.date.isoformat)


FREE_TEXT = ["first_name", "last_name", "email", "company", "job_title", "street", "city", "region", "postal_code",
             "notes"]
stamps = st.none() | st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2030, 1, 1)).map(lambda d: d.isoformat(timespec="seconds"))


@st.composite
def contacts(draw):
    """A contact as the exporter loads it: free text anywhere a user types,
    the system's own values (ids, timestamps) in their stored shape."""
    c = dict.fromkeys(NAMES)
    c.update({name: draw(maybe_text) for name in FREE_TEXT})
    c.update(id=draw(st.integers(1, 10**6)), phone=draw(phones), country=draw(countries), birth_date=draw(dates),
             tags=draw(st.lists(texts.filter(bool), max_size=3, unique=True)), consent=True,
             custom=draw(st.dictionaries(texts, texts, max_size=2)), updated_at=draw(stamps),
             gender=draw(st.none() | st.sampled_from(["f", " Female ", "MALE", "x", "männlich"]) | texts))
    return c


def write(writer, people, **options):
    out = io.StringIO(newline="")
    writer(people, out, options)
    return out.getvalue()


def parsed(text):
    return list(csv.reader(io.StringIO(text, newline="")))


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest() if text else ""


# -- CSV injection: every spreadsheet format ------------------------------------

CSV_WRITERS = [formats.write_mailchimp, formats.write_hubspot, formats.write_csv, formats.write_google_customer_match]


@SETTINGS
@given(st.lists(contacts(), min_size=1, max_size=4), st.sampled_from(range(len(CSV_WRITERS))), st.booleans())
def test_no_csv_cell_starts_a_formula_except_a_valid_e164_phone(people, which, unhashed):
    rows = parsed(write(CSV_WRITERS[which], people, unhashed=unhashed))
    assert len(rows) == len(people) + 1 and len({len(r) for r in rows}) == 1
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS) or E164.fullmatch(cell), cell


@SETTINGS
@given(texts)
def test_safe_cell_adds_one_quote_when_a_formula_could_start_and_only_then(value):
    cell = formats.safe_cell(value)
    assert cell in (value, "'" + value)
    if not value.startswith(FORMULA_STARTS):
        assert cell == value
    elif not E164.fullmatch(value):  # a valid E.164 phone is read as a number, never as a formula
        assert cell == "'" + value


@SETTINGS
@given(st.lists(contacts(), min_size=1, max_size=4))
def test_csv_cells_give_back_every_field(people):
    rows = parsed(write(formats.write_csv, people))
    assert rows[0] == NAMES
    for c, row in zip(people, rows[1:]):
        for name, cell in zip(NAMES, row):
            value = c[name]
            expected = ",".join(value) if isinstance(value, list) else (
                json.dumps(value, ensure_ascii=False, sort_keys=True) if value else "") if isinstance(value, dict) else (
                str(int(value)) if isinstance(value, bool) else "" if value is None else str(value))
            assert cell == formats.safe_cell(expected)


@SETTINGS
@given(st.lists(contacts(), max_size=4))
def test_json_gives_back_every_field_exactly(people):
    assert json.loads(write(formats.write_json, people)) == [{n: c[n] for n in NAMES} for c in people]


# -- Google Customer Match -------------------------------------------------------


@SETTINGS
@given(maybe_text)
def test_google_normal_is_idempotent_trimmed_and_lower_case(value):
    once = formats.google_normal(value)
    assert formats.google_normal(once) == once
    assert once == once.strip() and once == once.lower()


@SETTINGS
@given(st.lists(contacts(), min_size=1, max_size=5))
def test_hashed_customer_match_rows_are_the_hashes_of_the_clear_text_rows(people):
    """The hashed rows are joined by hand for speed; they must agree cell by
    cell with the clear-text variant written through the csv module."""
    hashed = parsed(write(formats.write_google_customer_match, people))
    clear = parsed(write(formats.write_google_customer_match, people, unhashed=True))
    assert hashed[0] == clear[0] == formats.GOOGLE_HEADER
    assert len(hashed) == len(clear) == len(people) + 1
    for person, h, c in zip(people, hashed[1:], clear[1:]):
        normal = [formats.google_normal(person[k]) for k in ("email", "first_name", "last_name")]
        assert [h[0], h[2], h[3]] == [sha(v) for v in normal]
        assert [c[0], c[2], c[3]] == [formats.safe_cell(v) for v in normal]
        assert c[1] == "" or E164.fullmatch(c[1])
        assert h[1] == sha(c[1]) and h[4:] == c[4:]


# -- Meta Custom Audiences ---------------------------------------------------------


@SETTINGS
@given(contacts())
def test_meta_normalisation_is_idempotent_and_never_hashes_empty(c):
    values = formats.meta_values(c)
    fn, ln, ct, st_, zip_ = values[2], values[3], values[4], values[5], values[6]
    again = formats.meta_values({**c, "first_name": fn, "last_name": ln, "city": ct, "region": st_, "postal_code": zip_,
                                 "email": values[0]})
    assert again[:7] == [values[0], values[1], fn, ln, ct, st_, zip_]
    for name in (fn, ln, ct, st_):
        assert all(ch.isalpha() for ch in name) and name == name.lower()
    assert values[1] == "" or values[1].isdigit()
    assert not re.search(r"[\s-]", zip_) and (c["country"] != "US" or len(zip_) <= 5)
    assert values[11] in ("", "f", "m")
    row = parsed(write(formats.write_meta_custom_audience, [c]))[1]
    assert row == [sha(v) for v in values]  # an empty value stays an empty cell


@SETTINGS
@given(maybe_text)
def test_letters_only_is_idempotent(value):
    once = formats.letters_only(value)
    assert formats.letters_only(once) == once


# -- Mailchimp and HubSpot ------------------------------------------------------------


@SETTINGS
@given(contacts())
def test_mailchimp_address_has_no_commas_or_line_breaks_and_birthday_is_mm_dd(c):
    address = formats.mailchimp_address(c)
    assert "," not in address and "\n" not in address and "\r" not in address
    assert address == "" or c["street"] or c["city"]
    birthday = formats.mailchimp_birthday(c["birth_date"])
    assert birthday == "" if not c["birth_date"] else birthday == c["birth_date"][5:7] + "/" + c["birth_date"][8:10]


@SETTINGS
@given(st.lists(contacts(), min_size=1, max_size=4))
def test_mailchimp_and_hubspot_keep_the_email_of_every_contact(people):
    for writer in (formats.write_mailchimp, formats.write_hubspot):
        rows = parsed(write(writer, people))
        assert [r[0] for r in rows[1:]] == [formats.safe_cell(c["email"] or "") for c in people]


# -- vCard -------------------------------------------------------------------------------


def unfold(physical_lines):
    """RFC 6350 3.2: a line starting with a space continues the previous one."""
    out = []
    for line in physical_lines:
        if line.startswith(" ") and out:
            out[-1] += line[1:]
        else:
            out.append(line)
    return out


def unescape(value):
    """RFC 6350 3.4, written independently of the writer's escape()."""
    return re.sub(r"\\([\\,;nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _split(value):
    """Split a structured value on its unescaped semicolons."""
    parts, current, i = [], "", 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            current += value[i:i + 2]
            i += 2
        elif value[i] == ";":
            parts.append(unescape(current))
            current, i = "", i + 1
        else:
            current += value[i]
            i += 1
    return parts + [unescape(current)]


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["NOTE:", "FN:", "ADR;TYPE=home:", ""]), texts)
def test_vcard_folding_is_at_most_75_octets_whole_characters_and_unfolds_back(prefix, value):
    line = prefix + escape(value)
    physical = fold(line)
    for part in physical:
        assert len(part.encode("utf-8")) <= 75  # each part encodes on its own: no character is split
    assert all(part.startswith(" ") for part in physical[1:])
    assert unfold(physical) == [line]


@settings(max_examples=100, deadline=None)
@given(texts)
def test_vcard_escaping_round_trips_and_leaves_no_line_break(value):
    escaped = escape(value)
    assert "\r" not in escaped and "\n" not in escaped
    assert unescape(escaped) == value.replace("\r\n", "\n").replace("\r", "\n")
    assert _split(escaped) == [unescape(escaped)]  # a ; or , in the value never splits a structured value


@SETTINGS
@given(st.lists(contacts(), min_size=1, max_size=3))
def test_vcards_are_crlf_folded_and_give_back_notes_names_and_address(people):
    text = write(formats.write_vcard, people)
    assert text.endswith("\r\n")
    physical = text[:-2].split("\r\n")
    assert all(len(p.encode("utf-8")) <= 75 and "\n" not in p and "\r" not in p for p in physical)
    logical = unfold(physical)
    assert logical == [line for c in people for line in card_lines(c)]
    for c in people:
        lines = card_lines(c)
        by_name = {line.split(":", 1)[0]: line.split(":", 1)[1] for line in lines}
        assert _split(by_name["N"])[:2] == [(c["last_name"] or "").replace("\r\n", "\n").replace("\r", "\n"),
                                          (c["first_name"] or "").replace("\r\n", "\n").replace("\r", "\n")]
        if c["notes"]:
            assert unescape(by_name["NOTE"]) == c["notes"].replace("\r\n", "\n").replace("\r", "\n")
        if c["street"] or c["city"]:
            adr = _split(by_name["ADR"])
            assert adr[2:4] == [(c["street"] or "").replace("\r\n", "\n").replace("\r", "\n"),
                                (c["city"] or "").replace("\r\n", "\n").replace("\r", "\n")]
