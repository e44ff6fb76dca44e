"""Issue 16, item 1: one canonical form of an address. A suppressed address
stays suppressed whether it comes back in Unicode or punycode spelling, and
hashes stored by older versions under the punycode form keep working. Runs on
both stores (this folder's tests run again with ``--store=postgres``)."""

import csv
import hashlib

import pytest

import crm_exports
from crm_exports.exporter import export
from crmcore.entities import Contact
from crmcore.importing import import_contacts

UNICODE, PUNY = "user@bücher.de", "user@xn--bcher-kva.de"


def emails_in(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [row["Email Address"] for row in csv.DictReader(f)]


@pytest.fixture
def crm(make_crm):
    crm = make_crm(plugins=[crm_exports])
    crm.add(Contact(first_name="Ada", email="ada@example.com", consent=True))
    return crm


@pytest.mark.parametrize("suppressed, comes_back", [(UNICODE, PUNY), (PUNY, UNICODE)])
def test_other_spelling_of_a_suppressed_address_is_not_resubscribed_nor_exported(crm, tmp_path, write_file,
                                                                                  suppressed, comes_back):
    crm.suppress(suppressed)
    import_contacts(crm, write_file("back.csv", f"email,first_name,consent\n{comes_back},Uwe,yes\n"))
    assert crm.store.count("contacts") == 2  # one contact for both spellings
    assert crm.find_contact(UNICODE)["consent"] is False
    result = export(crm, "mailchimp", str(tmp_path / "a.csv"), everyone=True)
    assert emails_in(tmp_path / "a.csv") == ["ada@example.com"]
    assert result.excluded == {"suppressed": 1}


def old_suppression(crm, address):
    """A suppression row as versions before 0.2 stored it: the hash of the address as given."""
    crm.store.execute("INSERT INTO suppressions (email_hash, reason, at) VALUES (?, 'unsubscribed', '2024-01-01T00:00:00Z')",
                      (hashlib.sha256(address.encode()).hexdigest(),))


def test_hash_stored_by_older_code_under_punycode_still_suppresses_imports(crm, write_file):
    old_suppression(crm, PUNY)
    assert crm.is_suppressed(UNICODE) and crm.is_suppressed(PUNY)
    import_contacts(crm, write_file("back.csv", f"email,first_name,consent\n{UNICODE},Uwe,yes\n"))
    assert crm.find_contact(UNICODE)["consent"] is False


@pytest.mark.parametrize("stored, hashed", [(PUNY, PUNY), (PUNY, UNICODE), (UNICODE, PUNY)])
def test_contacts_stored_by_older_code_in_either_spelling_are_never_exported(crm, tmp_path, stored, hashed):
    # An older version stored the address as given (punycode) with consent.
    crm.store.execute("INSERT INTO contacts (email, first_name, consent, tags, custom, created_at, updated_at) "
                      "VALUES (?, 'Uwe', ?, '[]', '{}', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')", (stored, 1))
    old_suppression(crm, hashed)
    result = export(crm, "mailchimp", str(tmp_path / "a.csv"), everyone=True, include_unconsented=True)
    assert emails_in(tmp_path / "a.csv") == ["ada@example.com"]
    assert result.excluded == {"suppressed": 1}
