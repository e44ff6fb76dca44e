"""Issue 16, item 10: an empty cell leaves the stored value as it is on
update; ``--empty clear`` makes empty cells clear fields; the summary counts
fields cleared. Run with --store=postgres as well."""

import json

from crmcore.app import CRM
from crmcore.entities import Contact
from crmcore.importing import import_contacts

FILE = "email,phone,city,first_name\nada@example.com,,Berlin,\nbob@example.com,,,Bob\n"


def two(crm):
    crm.add(Contact(email="ada@example.com", phone="+4930123456", first_name="Ada", city="Paris"))
    crm.add(Contact(email="bob@example.com", phone="+4930999999", first_name="Robert", city="Rome"))


def test_empty_cells_keep_stored_values_by_default(crm, write_file):
    two(crm)
    result = import_contacts(crm, write_file("again.csv", FILE))
    ada, bob = crm.find_contact("ada@example.com"), crm.find_contact("bob@example.com")
    assert (ada["phone"], ada["city"], ada["first_name"]) == ("+4930123456", "Berlin", "Ada")
    assert (bob["phone"], bob["city"], bob["first_name"]) == ("+4930999999", "Rome", "Bob")
    assert result.cleared == 0 and "cleared" not in result.summary()


def test_empty_clear_clears_and_counts_fields_cleared(crm, write_file):
    two(crm)
    result = import_contacts(crm, write_file("again.csv", FILE), empty="clear")
    ada, bob = crm.find_contact("ada@example.com"), crm.find_contact("bob@example.com")
    assert (ada["phone"], ada["city"], ada["first_name"]) == (None, "Berlin", "")
    assert (bob["phone"], bob["city"], bob["first_name"]) == (None, "", "Bob")
    assert result.cleared == 4  # Ada's phone and first name, Bob's phone and city
    assert result.summary().endswith("0 created, 2 updated, 0 skipped, 0 rejected, 4 fields cleared")


def test_cli_empty_option(run_cli, write_file):
    run_cli(["init"])
    with CRM(run_cli.db) as crm:
        two(crm)
    path = write_file("again.csv", FILE)
    kept = run_cli(["contacts", "import", path, "--json"])
    assert kept.exit_code == 0 and json.loads(kept.output)["cleared"] == 0
    cleared = run_cli(["contacts", "import", path, "--empty", "clear"])
    assert cleared.exit_code == 0 and "4 fields cleared" in cleared.output
    bad = run_cli(["contacts", "import", path, "--empty", "wipe"])
    assert bad.exit_code == 2


def test_custom_attributes_merge_and_empty_custom_cells_follow_the_same_rule(crm, write_file):
    crm.add(Contact(email="ada@example.com", custom={"loyalty": "gold", "shoe": "38", "pet": "cat"}))
    import_contacts(crm, write_file("a.csv", "email,shoe,pet\nada@example.com,39,\n"))
    assert crm.find_contact("ada@example.com")["custom"] == {"loyalty": "gold", "shoe": "39", "pet": "cat"}
    result = import_contacts(crm, write_file("b.csv", "email,shoe,pet\nada@example.com,40,\n"), empty="clear")
    assert crm.find_contact("ada@example.com")["custom"] == {"loyalty": "gold", "shoe": "40"}
    assert result.cleared == 1
