"""Segment definitions, refresh with history, static lists, the membership
hook, the core's segment_contact_ids, dump/load and contact clean-up."""

import datetime as dt
import json

import pytest

import crm_segments
from crm_segments import segments as seg
from crmcore import hookimpl
from crmcore import CRMError
from crmcore.entities import Contact, Order

TODAY = dt.date(2025, 6, 30)


class Listener:
    """A plugin that records membership events, as other plugins would react."""

    crm_plugin_name = "listener"

    def __init__(self):
        self.events = []

    @hookimpl
    def crm_segment_membership_changed(self, segment, entered, left):
        self.events.append((segment["name"], list(entered), list(left)))


@pytest.fixture
def listener():
    return Listener()


@pytest.fixture
def crm(make_crm, listener):
    crm = make_crm(plugins=[crm_segments, listener])
    crm.ids = crm.add_many([
        Contact(first_name="Ada", email="ada@example.com", country="DE"),
        Contact(first_name="Bo", email="bo@example.com", country="AT"),
        Contact(first_name="Cy", email="cy@example.com", country="US"),
    ])
    return crm


def test_membership_history_across_two_refreshes(crm, listener):
    a, b, c = crm.ids
    seg.create_segment(crm, "dach", 'country in ("DE", "AT")')
    first = seg.refresh(crm, ["dach"], TODAY, at="2025-06-01T08:00:00")
    assert first == [{"segment": "dach", "size": 2, "entered": 2, "left": 0, "at": "2025-06-01T08:00:00"}]

    crm.update("contacts", b, {"country": "US"})   # Bo moves away
    crm.update("contacts", c, {"country": "DE"})   # Cy moves in
    second = seg.refresh(crm, ["dach"], TODAY, at="2025-06-02T08:00:00")
    assert second[0] | {} == {"segment": "dach", "size": 2, "entered": 1, "left": 1, "at": "2025-06-02T08:00:00"}

    assert crm.segment_contact_ids("dach") == [a, c]
    events = [(h["at"], h["change"], h["contact_id"]) for h in seg.history(crm, "dach")]
    assert events == [
        ("2025-06-02T08:00:00", "entered", c),
        ("2025-06-02T08:00:00", "left", b),
        ("2025-06-01T08:00:00", "entered", a),
        ("2025-06-01T08:00:00", "entered", b),
    ]
    assert [(r["size"], r["entered"], r["left"]) for r in seg.refreshes(crm, "dach")] == [(2, 2, 0), (2, 1, 1)]
    assert listener.events == [("dach", [a, b], []), ("dach", [c], [b])]
    members = {m["email"]: m["since"] for m in seg.members(crm, "dach")}
    assert members == {"ada@example.com": "2025-06-01T08:00:00", "cy@example.com": "2025-06-02T08:00:00"}

    # A refresh without changes records the refresh but fires no event.
    seg.refresh(crm, ["dach"], TODAY)
    assert len(listener.events) == 2
    info = seg.show(crm, "dach", TODAY)
    assert (info["size"], info["entered_last_refresh"], info["left_last_refresh"]) == (2, 0, 0)


def test_show_tells_who_would_move_now(crm):
    seg.create_segment(crm, "us", 'country == "US"')
    seg.refresh(crm, ["us"], TODAY)
    crm.update("contacts", crm.ids[0], {"country": "US"})
    info = seg.show(crm, "us", TODAY)
    assert (info["size"], info["would_enter_now"], info["would_leave_now"]) == (1, 1, 0)


def test_contact_ids_evaluates_a_segment_never_refreshed(crm):
    seg.create_segment(crm, "de", 'country == "DE"')
    assert crm.segment_contact_ids("de") == [crm.ids[0]]
    with pytest.raises(CRMError, match="no segment named 'nope'"):
        crm.segment_contact_ids("nope")


def test_refreshed_membership_is_what_other_plugins_see(crm):
    seg.create_segment(crm, "de", 'country == "DE"')
    seg.refresh(crm, ["de"], TODAY)
    crm.update("contacts", crm.ids[1], {"country": "DE"})
    assert crm.segment_contact_ids("de") == [crm.ids[0]]  # until the next refresh
    seg.refresh(crm, ["de"], TODAY)
    assert crm.segment_contact_ids("de") == crm.ids[:2]


def test_static_lists_by_id_email_and_file(crm, listener, write_file):
    a, b, c = crm.ids
    seg.create_segment(crm, "fair", static=True)
    seg.add_members(crm, "fair", [(None, str(a)), (None, "BO@example.com")])
    assert crm.segment_contact_ids("fair") == [a, b]
    path = write_file("people.csv", "Name,E-Mail\nCy,cy@example.com\n")
    seg.add_members(crm, "fair", seg.emails_from_file(path))
    assert crm.segment_contact_ids("fair") == [a, b, c]
    seg.add_members(crm, "fair", [(None, "ada@example.com")], remove=True)
    assert crm.segment_contact_ids("fair") == [b, c]
    assert listener.events == [("fair", [a, b], []), ("fair", [c], []), ("fair", [], [a])]
    assert [h["change"] for h in seg.history(crm, "fair")] == ["left", "entered", "entered", "entered"]


def test_a_bad_member_changes_nothing_and_names_the_row(crm, write_file):
    seg.create_segment(crm, "fair", static=True)
    path = write_file("people.csv", "email\nada@example.com\nnobody@example.com\n")
    with pytest.raises(CRMError, match=r"people.csv: row 3: email: no contact 'nobody@example.com'"):
        seg.add_members(crm, "fair", seg.emails_from_file(path))
    assert crm.segment_contact_ids("fair") == []
    with pytest.raises(CRMError, match="dynamic segment"):
        seg.create_segment(crm, "de", 'country == "DE"')
        seg.add_members(crm, "de", [(None, "ada@example.com")])


def test_segments_combine_other_segments(crm):
    a, b, c = crm.ids
    seg.create_segment(crm, "dach", 'country in ("DE", "AT")')
    seg.create_segment(crm, "blocked", static=True)
    seg.add_members(crm, "blocked", [(None, str(b))])
    seg.create_segment(crm, "reachable-dach", 'segment("dach") and not segment("blocked")')
    assert crm.segment_contact_ids("reachable-dach") == [a]
    results = seg.refresh(crm, today=TODAY)
    assert [r["segment"] for r in results] == ["dach", "reachable-dach"]


def test_circular_and_self_references_are_refused(crm):
    seg.create_segment(crm, "x", 'country == "DE"')
    seg.create_segment(crm, "y", 'segment("x") or country == "AT"')
    with pytest.raises(CRMError, match="circle"):
        seg.edit_segment(crm, "x", rule='segment("y")')
    with pytest.raises(CRMError, match="cannot refer to itself"):
        seg.edit_segment(crm, "x", rule='segment("x")')
    with pytest.raises(CRMError, match="used by y"):
        seg.delete_segment(crm, "x")
    with pytest.raises(CRMError, match="used by y; change those rules before renaming"):
        seg.edit_segment(crm, "x", new_name="z")


def test_rename_keeps_targets(crm):
    from crm_segments import targets

    seg.create_segment(crm, "x", 'country == "DE"')
    targets.set_target(crm, "segment", "x", "2025", revenue=10)
    seg.edit_segment(crm, "x", new_name="germany", description="Germany")
    assert [(r["name"], r["target"]) for r in targets.show(crm, as_of=TODAY)] == [("germany", 10.0)]
    assert seg.get_segment(crm, "x") is None and seg.get_segment(crm, "germany")["description"] == "Germany"


def test_definitions_are_validated(crm):
    with pytest.raises(CRMError, match="exists already"):
        seg.create_segment(crm, "a", 'country == "DE"')
        seg.create_segment(crm, "a", 'country == "DE"')
    with pytest.raises(CRMError, match="segment 'no spaces': invalid name: use letters, digits"):
        seg.create_segment(crm, "no spaces", 'country == "DE"')
    with pytest.raises(CRMError, match="position 1: unknown field"):
        seg.create_segment(crm, "b", 'contry == "DE"')
    assert seg.get_segment(crm, "b") is None


def test_dump_and_load_round_trip(crm, make_crm, tmp_path):
    seg.create_segment(crm, "de", 'country == "DE"', "Germany")
    seg.create_segment(crm, "fair", static=True)
    seg.add_members(crm, "fair", [(None, "cy@example.com")])
    data = seg.dump(crm)
    assert data == {"segments": [
        {"name": "de", "kind": "dynamic", "description": "Germany", "rule": 'country == "DE"'},
        {"name": "fair", "kind": "static", "members": ["cy@example.com"]},
    ]}
    import yaml

    path = tmp_path / "segments.yaml"
    path.write_text(yaml.safe_dump(data))
    other = make_crm(plugins=[crm_segments], name="other.db")
    other.add_many([Contact(email="cy@example.com", country="DE")])
    assert seg.load(other, str(path)) == {"created": 2, "updated": 0}
    assert seg.dump(other) == data
    assert seg.load(other, str(path)) == {"created": 0, "updated": 2}


def test_load_is_all_or_nothing_with_a_clear_error(crm, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"segments": [{"name": "ok", "rule": 'country == "DE"'}, {"name": "bad", "rule": "age >> 3"}]}))
    with pytest.raises(CRMError, match=r"bad.json: segment 2 \(bad\): invalid rule at position 6"):
        seg.load(crm, str(path))
    assert seg.list_segments(crm) == []
    path.write_text("segments: [unclosed")
    with pytest.raises(CRMError, match="not valid JSON"):
        seg.load(crm, str(path))


def test_deleted_and_merged_contacts_leave_no_dangling_members(crm):
    a, b, c = crm.ids
    seg.create_segment(crm, "fair", static=True)
    seg.add_members(crm, "fair", [(None, str(b)), (None, str(c))])
    crm.delete("contacts", [c])
    assert crm.segment_contact_ids("fair") == [b]
    assert crm.store.query_value("SELECT count(*) FROM segment_history WHERE contact_id = ?", (c,)) == 0
    crm.merge_contacts(a, b)
    assert crm.segment_contact_ids("fair") == [a]


def test_days_since_last_order_uses_the_as_of_date(crm):
    crm.add(Order(contact_id=crm.ids[0], ordered_at="2025-06-01", total=10))
    seg.create_segment(crm, "recent", "days_since_last_order <= 30")
    assert seg.refresh(crm, ["recent"], dt.date(2025, 7, 1))[0]["size"] == 1
    assert seg.refresh(crm, ["recent"], dt.date(2025, 7, 2))[0]["left"] == 1


class NPSPlugin:
    """What the surveys plugin does: add a metric to the comparison report."""

    crm_plugin_name = "fakesurveys"

    @hookimpl
    def crm_segment_metrics(self, segment, contact_ids):
        return {"NPS": 10.0 * len(contact_ids) if segment["name"] == "de" else None}


def test_comparison_report_takes_metrics_from_other_plugins(make_crm):
    from crm_segments.reports import segments_context
    from crmcore.reports import render

    crm = make_crm(plugins=[crm_segments, NPSPlugin()])
    a, b = crm.add_many([Contact(email="a@example.com", country="DE"), Contact(email="b@example.com", country="DE")])
    crm.add_many([Order(contact_id=a, ordered_at="2025-01-01", total=30), Order(contact_id=a, ordered_at="2025-02-01", total=10)])
    seg.create_segment(crm, "de", 'country == "DE"')
    seg.refresh(crm)
    row = segments_context(crm, {})["rows"][0]
    assert (row["customers"], row["share"], row["revenue"], row["average_order_value"], row["orders_per_customer"]) == (2, 100.0, 40.0, 20.0, 1.0)
    assert row["extra"] == {"NPS": 20.0}
    assert '<tr><th scope="row">NPS</th><td class="num">20</td></tr>' in render(crm, "segments")  # no needless ".0"


def test_members_of_a_segment_never_refreshed_are_evaluated(crm):
    seg.create_segment(crm, "dach", 'country in ("DE", "AT")')
    assert [(m["email"], m["since"]) for m in seg.members(crm, "dach", limit=1)] == [("ada@example.com", None)]
    seg.refresh(crm, ["dach"], at="2025-01-01T00:00:00")
    assert [(m["email"], m["since"]) for m in seg.members(crm, "dach")] == [
        ("ada@example.com", "2025-01-01T00:00:00"), ("bo@example.com", "2025-01-01T00:00:00")]


class BrokenField:
    crm_plugin_name = "brokenfield"

    @hookimpl
    def crm_register_segment_fields(self, register):
        register("loyalty", "SELECT points FROM no_such_table WHERE contact_id = c.id", "number")


def test_a_plugin_field_with_broken_sql_is_a_one_line_error(make_crm):
    crm = make_crm(plugins=[crm_segments, BrokenField()])
    # SQLite: "no such table: no_such_table"; PostgreSQL: 'relation "no_such_table" does not exist'
    with pytest.raises(CRMError, match=r"segment 'x': the database refused the rule's SQL \([^\n]*no_such_table[^\n]*\); a field"):
        seg.create_segment(crm, "x", "loyalty > 5")
    assert seg.get_segment(crm, "x") is None
