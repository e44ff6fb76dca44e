"""The look-ups of a re-import (existing ids, stored custom attributes, old
values for the audit) when a batch holds more rows than one ``IN`` list
(SQLite: lists of 500) or one array (PostgreSQL: one ``= ANY``) would need."""

from crmcore.entities import Contact
from crmcore.importing import import_contacts

N = 1203  # more than two lists of 500, less than one import batch


def rows(city_of, extra):
    head = "E-mail,First Name,City," + extra[0] + "\n"
    return head + "".join(f"c{i}@example.com,Kim{i},{city_of(i)},{extra[1](i)}\n" for i in range(N))


def test_reimport_finds_every_row_merges_custom_and_audits_only_changes(crm, write_file):
    first = import_contacts(crm, write_file("a.csv", rows(lambda i: "Bonn", ("Shoe size", lambda i: 30 + i % 10))))
    assert (first.created, first.updated) == (N, 0)
    moved = {7, 500, 501, 999, 1000, 1202}  # either side of the old list boundaries
    again = import_contacts(crm, write_file("b.csv", rows(lambda i: "Köln" if i in moved else "Bonn", ("Team", lambda i: f"t{i % 3}"))))
    assert (again.created, again.updated, again.rejected) == (0, N, [])
    assert crm.store.count("contacts") == N
    for i in (0, 499, 500, 1202):
        found = crm.find_contact(f"c{i}@example.com")
        assert found["custom"] == {"Shoe size": str(30 + i % 10), "Team": f"t{i % 3}"}
        assert found["city"] == ("Köln" if i in moved else "Bonn")
    audited = crm.store.query("SELECT record_id, changes FROM _crm_audit WHERE action = 'import' AND table_name = 'contacts' "
                              "AND changes LIKE '%city%'")
    ids = {crm.find_contact(f"c{i}@example.com")["id"]: i for i in range(N)}
    assert sorted(ids[r["record_id"]] for r in audited) == sorted(moved)


def test_rows_where_in_takes_any_number_of_values(crm):
    ids = crm.add_many([Contact(email=f"r{i}@example.com", first_name=f"R{i}") for i in range(1100)])
    wanted = [f"r{i}@example.com" for i in range(0, 1100, 2)] + ["nobody@example.com"]
    found = crm.store.rows_where_in("contacts", "email", wanted, ["id", "email"])
    assert sorted((r["email"], r["id"]) for r in found) == sorted((f"r{i}@example.com", ids[i]) for i in range(0, 1100, 2))
    whole = crm.store.rows_where_in("contacts", "id", ids[495:505])
    assert sorted(r["first_name"] for r in whole) == sorted(f"R{i}" for i in range(495, 505))
    assert crm.store.rows_where_in("contacts", "id", [], ["id"]) == []


def test_rows_where_in_gives_each_row_once_however_often_its_value_is_asked(crm):
    ids = crm.add_many([Contact(email=f"d{i}@example.com") for i in range(3)])
    asked = ["d0@example.com"] * 600 + ["d1@example.com"] + ["d0@example.com"]  # the same value on both sides of a list of 500
    found = crm.store.rows_where_in("contacts", "email", asked, ["id"])
    assert sorted(r["id"] for r in found) == [ids[0], ids[1]]
