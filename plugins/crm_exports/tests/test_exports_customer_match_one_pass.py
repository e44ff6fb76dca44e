"""The hashed Customer Match export takes a one-pass path (customer_match.py)
that hashes each address once; it must write byte for byte what the general
path (consenting + write_google_customer_match) writes, leave out the same
contacts for the same reasons, and log the same ids, on hostile rows stored
by older versions without validation. Runs on both stores."""

import collections
import hashlib
import io

import pytest

import crm_exports
from crm_exports import customer_match
from crm_exports.exporter import _requirement, candidate_rows, consenting, export, export_contacts
from crm_exports.formats import write_google_customer_match
from crmcore import hookimpl, SQLiteDialect

one_pass = customer_match.write_audience

# (email, consent, phone, first, last, country, postal_code), stored as given.
ROWS = [
    ("ada@example.com", 1, "+4930123456", "Ada", "Lovelace", "DE", "10115"),
    ("  Bob@Example.COM ", 1, "030 1234567", " BOB ", "Müller", "DE", "=1+1"),   # untrimmed, upper case, local phone
    ("zoë@bücher.de", 1, "", "Zoë", "", "DE", "1,2"),                       # Unicode local part and domain
    ("uwe@xn--bcher-kva.de", 1, "", "Uwe", None, "de", '"x"'),             # punycode, suppressed under Unicode
    ("old@bücher.de", 1, "", "Old", "Form", "DE", "-5"),                    # suppressed under the punycode key
    ("cara@example.com", 0, "+4930999999", "Cara", "X", "FR", "75001"),     # no consent
    ("dan@example.com", 1, "", "Dan", "Y", "", ""),                        # suppressed, canonical key
    ("logged@example.com", 1, "", "Log", "Ged", "DE", "1"),                # only the privacy log knows
    (None, 1, "+4930555555", "\u2003Émile\u2003", "ÉTÉ", "FR", "\t1"),     # no e-mail, phone only
    ("", 1, "", "Nobody", "Z", "DE", "2"),                                 # neither: left out
    ("eve@example.com", None, "+1 415 555 0100", "Eve", "Q", "US", "94103-1234"),  # consent unknown
    ("fay@EXAMPLE.com", 1, "not a phone", "Fay", "Zz", "XX", "@home"),
]


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


class OneSegment:
    """Stands in for the segments plugin: "some" is contacts 1, 2, 5, 6 and 9."""

    crm_plugin_name = "onesegment"

    @hookimpl
    def crm_segment_contact_ids(self, crm, name):
        return [1, 2, 5, 6, 9] if name == "some" else None


@pytest.fixture
def crm(make_crm):
    crm = make_crm(plugins=[crm_exports, OneSegment()])
    for email, consent, phone, first, last, country, postal in ROWS:
        crm.store.execute(
            "INSERT INTO contacts (email, consent, phone, first_name, last_name, country, postal_code, tags, custom, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, '[]', '{}', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')",
            (email, consent, phone, first, last, country, postal))
    for key in (sha("uwe@bücher.de"), sha("old@xn--bcher-kva.de"), sha("dan@example.com")):
        crm.store.execute("INSERT INTO suppressions (email_hash, reason, at) VALUES (?, 'unsubscribed', '2024-01-01')", (key,))
    crm.suppress("logged@example.com")  # then a restore loses the row: the privacy log still has it
    crm.store.execute("DELETE FROM suppressions WHERE email_hash = ?", (sha("logged@example.com"),))
    return crm


def general_path(crm, include_unconsented, segment=None):
    """What the export wrote before the one-pass path: the file, the reasons, the ids."""
    excluded, included = collections.Counter(), []
    _, rows = candidate_rows(crm, segment, not segment, names=["id", "email", "consent", *write_google_customer_match.fields])
    out = io.StringIO(newline="")
    write_google_customer_match(consenting(crm, rows, _requirement(write_google_customer_match), include_unconsented,
                                           excluded, included), out, {})
    return out.getvalue(), dict(excluded), included


@pytest.mark.parametrize("include_unconsented, segment", [(False, None), (True, None), (False, "some")])
def test_one_pass_export_writes_and_logs_exactly_what_the_general_path_does(crm, tmp_path, monkeypatch,
                                                                           include_unconsented, segment):
    text, excluded, included = general_path(crm, include_unconsented, segment)
    passes = []
    monkeypatch.setattr(customer_match, "write_audience", lambda *a, **k: passes.append(1) or one_pass(*a, **k))
    path = tmp_path / "audience.csv"
    result = export(crm, "google-customer-match", str(path), segment=segment, everyone=not segment,
                    include_unconsented=include_unconsented)

    assert passes == [1]  # the one-pass path wrote it
    assert path.read_bytes().decode("utf-8") == text
    assert result.excluded == excluded and list(result.excluded) == list(excluded)  # same reasons, same order
    assert [r["contact_id"] for r in export_contacts(crm, result.log_id)] == included
    assert result.rows == len(included) and result.rows == (3 if segment else 7 if include_unconsented else 5)
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_one_pass_export_leaves_out_every_spelling_of_a_suppressed_address(crm, tmp_path):
    path = tmp_path / "audience.csv"
    result = export(crm, "google-customer-match", str(path), everyone=True)
    # uwe (punycode stored, Unicode key), old (Unicode stored, punycode key), dan, logged (privacy log only).
    assert result.excluded == {"suppressed": 4, "no consent": 2, "no email or phone": 1}
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "Email,Phone,First Name,Last Name,Country,Zip"
    assert lines[1] == f"{sha('ada@example.com')},{sha('+4930123456')},{sha('ada')},{sha('lovelace')},DE,10115"
    assert lines[2].startswith(f"{sha('bob@example.com')},") and lines[2].endswith(",DE,'=1+1")
    assert lines[3] == f"{sha('zoë@bücher.de')},,{sha('zoë')},,DE,\"1,2\""
    hashed = {line.split(",")[0] for line in lines[1:]}
    assert not hashed & {sha("uwe@xn--bcher-kva.de"), sha("uwe@bücher.de"), sha("old@bücher.de"), sha("dan@example.com"),
                         sha("logged@example.com")}


@pytest.mark.parametrize("include_unconsented, segment, share", [(False, None, 0.55), (True, None, 0.55), (False, "some", 0.55),
                                                                  (False, None, 0.9), (False, None, 0.1)])
def test_export_split_over_two_processes_writes_and_logs_exactly_what_one_pass_does(crm, tmp_path, monkeypatch,
                                                                                   include_unconsented, segment, share):
    """Forced onto the two-process path (on SQLite; PostgreSQL keeps one pass):
    the parts joined are byte for byte the general path's file, with the same
    reasons in the same order, the same ids logged and the file's checksum."""
    text, excluded, included = general_path(crm, include_unconsented, segment)
    cuts = []
    monkeypatch.setattr(customer_match, "SPLIT_MIN", 1)
    monkeypatch.setattr(customer_match, "WORKER_SHARE", share)
    monkeypatch.setattr(customer_match, "_ranged", lambda sql, ranged=customer_match._ranged: cuts.append(sql) or ranged(sql))
    monkeypatch.setattr(customer_match.os, "cpu_count", lambda: 2)
    (tmp_path / "out").mkdir()
    path = tmp_path / "out" / "audience.csv"
    result = export(crm, "google-customer-match", str(path), segment=segment, everyone=not segment,
                    include_unconsented=include_unconsented)

    assert len(cuts) == (1 if isinstance(crm.store.dialect, SQLiteDialect) else 0)
    assert path.read_bytes().decode("utf-8") == text
    assert result.excluded == excluded and list(result.excluded) == list(excluded)
    assert [r["contact_id"] for r in export_contacts(crm, result.log_id)] == included
    assert result.rows == len(included)
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [p.name for p in path.parent.iterdir()] == ["audience.csv"]  # the part file is gone


def test_ranged_cuts_the_audience_query_at_an_id():
    head, tail = customer_match._ranged("SELECT id FROM contacts ORDER BY id")
    assert (head, tail) == ("SELECT id FROM contacts WHERE id <= ? ORDER BY id", "SELECT id FROM contacts WHERE id > ? ORDER BY id")
    head, _ = customer_match._ranged("SELECT id FROM contacts WHERE id IN (x) ORDER BY id")
    assert head == "SELECT id FROM contacts WHERE id IN (x) AND id <= ? ORDER BY id"
    with pytest.raises(ValueError):
        customer_match._ranged("SELECT id FROM contacts")
