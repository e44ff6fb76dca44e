"""Issue 16, item 2: erasure leaves no trace of the person in the database
file: not in the full-text index, not in freed pages, not in the WAL, not in
a backup taken afterwards."""

import os

import pytest

from crmcore.entities import Activity, Contact
from crmcore.maintenance import backup

PERSON = {"first_name": "Quirinella", "last_name": "Vandersnoot", "email": "quirinella.vandersnoot@obscurehost.example",
          "city": "Plumpelheim", "phone": "+49 30 98765432", "notes": "Prefers Xylophonic deliveries"}
BODY = "Called Quirinella about the Marzipanowski order"


def traces(data, values):
    """The values (and the tails of their words, as the full-text index
    stores words prefix-compressed) found in ``data``, case-insensitively."""
    data = data.lower()
    found = set()
    for value in values:
        words = [value.lower()] + [w for w in value.lower().replace("@", " ").replace(".", " ").split() if len(w) >= 8]
        for word in words:
            for needle in {word, word[3:]}:
                if needle.encode() in data:
                    found.add(needle)
    return found


def file_bytes(path):
    return open(path, "rb").read() if os.path.exists(path) else b""


pytestmark = pytest.mark.sqlite_only("reads the SQLite file; what PostgreSQL keeps is documented in docs/postgres.md")


@pytest.fixture
def erased(make_crm):
    crm = make_crm(name="crm.db")
    for i in range(300):  # neighbours, so the index has several segments and pages
        crm.add(Contact(first_name=f"Other{i}", last_name="Person", email=f"other{i}@example.com", city="Berlin"))
    cid = crm.add(Contact(**{**PERSON, "first_name": "Quirinellia"}, consent=True))
    crm.update("contacts", cid, {"first_name": PERSON["first_name"]})  # an older value, also personal
    crm.add(Activity(contact_id=cid, kind="note", body=BODY))
    for i in range(50):
        crm.add(Activity(contact_id=1 + i, kind="note", body=f"Routine call number {i}"))
    assert traces(file_bytes(crm.location) + file_bytes(crm.location + "-wal"), PERSON.values())  # the test can see them
    crm.erase_contact(PERSON["email"])
    return crm


def test_erase_leaves_no_trace_in_the_file_or_the_wal(erased):
    values = [*PERSON.values(), "Quirinellia", BODY]
    assert traces(file_bytes(erased.location), values) == set()
    assert traces(file_bytes(erased.location + "-wal"), values) == set()
    # the others are still found
    assert erased.store.search("contacts", ["first_name"], ["Other7"], 5)[0]["email"] == "other7@example.com"
    assert erased.find_contact("other299@example.com")["city"] == "Berlin"


def test_a_backup_after_an_erasure_holds_no_trace(erased, tmp_path):
    backup(erased, str(tmp_path / "after.db"))
    assert traces(file_bytes(tmp_path / "after.db"), [*PERSON.values(), "Quirinellia", BODY]) == set()

