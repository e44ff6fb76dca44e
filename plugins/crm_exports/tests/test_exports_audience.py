"""Who gets exported (consent, suppression, segments), the export log,
erasure, and that a failed export leaves nothing behind."""

import collections
import csv
import hashlib
import os
import re
import shutil
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crm_exports
from crm_exports.exporter import export, export_log, list_formats, where_sent
from crmcore import hookimpl
from crmcore import CRM, CRMError
from crmcore.entities import Contact
from crmcore.plugins import PluginError


class FakeSegments:
    """Stands in for the segments plugin: answers crm_segment_contact_ids."""

    crm_plugin_name = "fakesegments"

    def __init__(self, segments):
        self.segments = segments

    @hookimpl
    def crm_segment_contact_ids(self, crm, name):
        return self.segments.get(name)


def emails_in(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [row["Email Address"] for row in csv.DictReader(f)]


@pytest.fixture
def crm(make_crm):
    crm = make_crm(plugins=[crm_exports, FakeSegments({"vip": [1, 3, 4], "none": []})])
    crm.add_many([
        Contact(first_name="Ada", email="ada@example.com", consent=True),
        Contact(first_name="Bob", email="bob@example.com", consent=False),
        Contact(first_name="Cy", email="cy@example.com", consent=True),
        Contact(first_name="Di", email="di@example.com", consent=True),
        Contact(first_name="Ed", phone="+4930123456", consent=True),
    ])
    return crm


def test_default_export_keeps_only_consenting_unsuppressed_contacts_and_says_why(crm, tmp_path):
    crm.suppress("CY@example.com")
    crm.update("contacts", 3, {"consent": True})  # consent given again later: the suppression still wins
    out = tmp_path / "a.csv"
    result = export(crm, "mailchimp", str(out), everyone=True)
    assert emails_in(out) == ["ada@example.com", "di@example.com"]
    assert result.rows == 2
    assert result.excluded == {"no consent": 1, "suppressed": 1, "no email": 1}
    assert result.summary() == (f"Exported 2 contact(s) as mailchimp to {out}; "
                                "left out 3: 1 no consent, 1 no email, 1 suppressed")


def test_include_unconsented_never_includes_suppressed(crm, tmp_path):
    crm.suppress("cy@example.com")
    out = tmp_path / "a.csv"
    result = export(crm, "mailchimp", str(out), everyone=True, include_unconsented=True)
    assert emails_in(out) == ["ada@example.com", "bob@example.com", "di@example.com"]
    assert result.excluded == {"suppressed": 1, "no email": 1}


def test_reimport_never_resubscribes_a_suppressed_address(crm, tmp_path, write_file):
    from crmcore.importing import import_contacts

    crm.suppress("di@example.com")
    path = write_file("again.csv", "email,first_name,consent\ndi@example.com,Di,yes\nnew@example.com,New,yes\n")
    import_contacts(crm, path)
    assert crm.find_contact("di@example.com")["consent"] is False
    result = export(crm, "mailchimp", str(tmp_path / "a.csv"), everyone=True)
    assert emails_in(tmp_path / "a.csv") == ["ada@example.com", "cy@example.com", "new@example.com"]
    assert result.excluded["suppressed"] == 1


def test_segment_comes_from_the_segment_hook(crm, tmp_path):
    result = export(crm, "mailchimp", str(tmp_path / "a.csv"), segment="vip")
    assert emails_in(tmp_path / "a.csv") == ["ada@example.com", "cy@example.com", "di@example.com"]
    assert result.segment == "vip"
    assert export(crm, "mailchimp", str(tmp_path / "b.csv"), segment="none").rows == 0
    with pytest.raises(CRMError, match="no segment named 'nope'"):
        export(crm, "mailchimp", str(tmp_path / "c.csv"), segment="nope")


def test_audience_must_be_chosen(crm, tmp_path):
    with pytest.raises(CRMError, match="--segment NAME or --all"):
        export(crm, "csv", str(tmp_path / "a.csv"))
    with pytest.raises(CRMError, match="--segment and --all cannot be combined"):
        export(crm, "csv", str(tmp_path / "a.csv"), segment="vip", everyone=True)


def test_formats_requiring_email_or_phone(crm, tmp_path):
    result = export(crm, "google-customer-match", str(tmp_path / "g.csv"), everyone=True)
    assert result.rows == 4  # Ed has a phone and no e-mail: still matchable
    crm.update("contacts", 5, {"phone": None})
    result = export(crm, "google-customer-match", str(tmp_path / "g.csv"), everyone=True)
    assert result.excluded == {"no consent": 1, "no email or phone": 1}


def test_export_is_logged_with_checksum_and_contacts(crm, tmp_path):
    out = tmp_path / "vip.csv"
    result = export(crm, "hubspot", str(out), segment="vip")
    (entry,) = export_log(crm)
    assert entry["format"] == "hubspot" and entry["segment"] == "vip" and entry["row_count"] == 3
    assert entry["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest() == result.sha256
    assert entry["path"] == str(out) and entry["user"] == "tester"
    logged = crm.store.query("SELECT contact_id, export_id FROM export_log_contacts ORDER BY contact_id")
    assert logged == [{"contact_id": 1, "export_id": 1}, {"contact_id": 3, "export_id": 1}, {"contact_id": 4, "export_id": 1}]


def test_exported_file_is_private_and_replaces_the_old_one(crm, tmp_path):
    out = tmp_path / "a.csv"
    out.write_text("old")
    export(crm, "mailchimp", str(out), everyone=True)
    assert out.stat().st_mode & 0o777 == 0o600
    assert out.read_text(encoding="utf-8").startswith("Email Address,")
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("crm.db")] == ["a.csv"]  # no temp file left


def test_dry_run_counts_but_writes_and_logs_nothing(crm, tmp_path):
    out = tmp_path / "a.csv"
    result = export(crm, "mailchimp", str(out), everyone=True, dry_run=True)
    assert (result.rows, result.excluded) == (3, {"no consent": 1, "no email": 1})
    assert result.summary() == "Would export 3 contact(s) as mailchimp; left out 2: 1 no consent, 1 no email"
    assert not out.exists() and export_log(crm) == []


_DIGEST = re.compile(r"\b[0-9a-f]{64}\b")


def test_where_sent_survives_erasure_without_personal_data(crm, tmp_path):
    export(crm, "mailchimp", str(tmp_path / "a.csv"), everyone=True)
    export(crm, "vcard", str(tmp_path / "b.vcf"), segment="vip")
    vcard_log, mailchimp_log = export_log(crm)  # newest first
    assert [r["format"] for r in where_sent(crm, "ada@example.com")] == ["mailchimp", "vcard"]
    assert [r["format"] for r in where_sent(crm, "4")] == ["mailchimp", "vcard"]

    # An erasure: every plugin drops its personal data, then the contact goes.
    with crm.store.transaction():
        notes = crm.emit("crm_contact_erased", crm=crm, contact_id=1, email="ada@example.com")
        crm.delete("contacts", [1])
    assert notes == [[f"was exported in export 1: mailchimp at {mailchimp_log['exported_at']} to {tmp_path / 'a.csv'}; ask that destination to erase it too",
                      f"was exported in export 2: vcard segment vip at {vcard_log['exported_at']} to {tmp_path / 'b.vcf'}; ask that destination to erase it too"]]
    by_id = where_sent(crm, "1")
    assert [(r["format"], r["erased"]) for r in by_id] == [("mailchimp", True), ("vcard", True)]
    assert [r["format"] for r in where_sent(crm, "ADA@example.com")] == ["mailchimp", "vcard"]
    # The log keeps ids and hashes only: no name, no address.
    (erasure,) = crm.store.query("SELECT contact_id, email_hash FROM export_erasures")
    assert erasure == {"contact_id": 1, "email_hash": hashlib.sha256(b"ada@example.com").hexdigest()}
    for table in ("export_log", "export_log_contacts", "export_erasures"):
        for row in crm.store.query(f"SELECT * FROM {table}"):
            # Checksums and hashes are hex digits, where "ada" turns up by chance (one run in 60).
            assert not any("ada" in _DIGEST.sub("", str(v)).lower() for v in row.values())

    # A new contact that reuses the freed id is not mistaken for Ada.
    crm.store.execute("INSERT INTO contacts (id, first_name, email, consent, tags, custom) VALUES (1, 'Zed', 'zed@example.com', 0, '[]', '{}')")
    assert where_sent(crm, "1") == []


def test_where_sent_unknown_contact(crm):
    with pytest.raises(CRMError, match="no contact 'x@example.com'"):
        where_sent(crm, "x@example.com")


def test_merge_moves_log_entries(crm, tmp_path):
    export(crm, "mailchimp", str(tmp_path / "a.csv"), segment="vip")  # Ada and Cy
    export(crm, "hubspot", str(tmp_path / "b.csv"), everyone=True, include_unconsented=True)  # Ada, Bob, Cy, Di
    crm.merge_contacts("bob@example.com", "cy@example.com")
    assert [r["format"] for r in where_sent(crm, "bob@example.com")] == ["mailchimp", "hubspot"]
    crm.merge_contacts("ada@example.com", "bob@example.com")  # both were in both exports
    assert [(r["format"], r["contact_id"]) for r in where_sent(crm, "1")] == [("mailchimp", 1), ("hubspot", 1)]


def test_deleting_a_contact_keeps_where_it_was_sent(crm, tmp_path):
    export(crm, "mailchimp", str(tmp_path / "a.csv"), segment="vip")
    crm.delete("contacts", [4])
    assert [(r["format"], r["erased"]) for r in where_sent(crm, "di@example.com")] == [("mailchimp", True)]


class BrokenFormat:
    crm_plugin_name = "broken"

    @hookimpl
    def crm_register_export_formats(self, register):
        def writer(contacts, fileobj, options):
            for c in contacts:
                fileobj.write(c["email"] + "\n")  # fails on the contact without an e-mail
        register("broken", writer, "fails half-way")


def test_failed_export_leaves_no_file_and_no_log(make_crm, tmp_path):
    crm = make_crm(plugins=[crm_exports, BrokenFormat()])
    crm.add_many([Contact(email="a@example.com", consent=True), Contact(first_name="No mail", consent=True)])
    (tmp_path / "out.txt").write_text("previous export\n")
    with pytest.raises(PluginError, match="broken"):
        export(crm, "broken", str(tmp_path / "out.txt"), everyone=True)
    assert (tmp_path / "out.txt").read_text() == "previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []
    assert export_log(crm) == []


def test_third_party_formats_are_listed_and_used(make_crm, tmp_path):
    crm = make_crm(plugins=[crm_exports, BrokenFormat()])
    formats = {f["name"]: f["plugin"] for f in list_formats(crm)}
    assert formats == {"broken": "broken", "csv": "exports", "google-customer-match": "exports", "hubspot": "exports",
                       "json": "exports", "mailchimp": "exports", "meta-custom-audience": "exports", "vcard": "exports"}
    with pytest.raises(CRMError, match="unknown export format 'nope'"):
        export(crm, "nope", str(tmp_path / "x"), everyone=True)


class Recording:
    """A third-party format that records what it was given."""

    crm_plugin_name = "recording"

    def __init__(self):
        self.seen = {}

    @hookimpl
    def crm_register_export_formats(self, register):
        def narrow(contacts, fileobj, options):
            self.seen["narrow"] = [dict(c) for c in contacts]

        narrow.fields, narrow.requires = ("city",), ("phone",)

        def wide(contacts, fileobj, options):
            self.seen["wide"] = [dict(c) for c in contacts]

        register("narrow", narrow, "reads city, needs a phone")
        register("wide", wide, "reads everything")


def test_writer_fields_and_requires(make_crm, tmp_path):
    plugin = Recording()
    crm = make_crm(plugins=[crm_exports, plugin])
    crm.add_many([Contact(email="a@example.com", city="Köln", phone="+4930123456", tags=["x"], consent=True),
                  Contact(email="b@example.com", city="Bonn", consent=True)])
    result = export(crm, "narrow", str(tmp_path / "n"), everyone=True)
    assert plugin.seen["narrow"] == [{"id": 1, "email": "a@example.com", "consent": True, "city": "Köln", "phone": "+4930123456"}]
    assert result.excluded == {"no phone": 1}
    export(crm, "wide", str(tmp_path / "w"), everyone=True)
    first = plugin.seen["wide"][0]
    assert first == crm.get("contacts", 1) and first["tags"] == ["x"] and first["custom"] == {}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans()), max_size=12), st.booleans())
def test_exactly_the_allowed_contacts_are_exported(people, include_unconsented):
    """(has_email, consent, suppressed) per contact, against a filter written out here."""
    folder = tempfile.mkdtemp()
    crm = CRM(":memory:", plugins=[crm_exports])
    try:
        crm.migrate()
        for i, (has_email, consent, suppressed) in enumerate(people):
            crm.add(Contact(first_name=f"P{i}", email=f"p{i}@example.com" if has_email else None, consent=consent))
            if suppressed and has_email:
                crm.store.execute("INSERT INTO suppressions (email_hash, reason, at) VALUES (?, 'test', 'now')",
                                  (hashlib.sha256(f"p{i}@example.com".encode()).hexdigest(),))
        result = export(crm, "mailchimp", os.path.join(folder, "a.csv"), everyone=True, include_unconsented=include_unconsented)
        expected, reasons = [], collections.Counter()
        for i, (has_email, consent, suppressed) in enumerate(people):
            if has_email and suppressed:
                reasons["suppressed"] += 1
            elif not consent and not include_unconsented:
                reasons["no consent"] += 1
            elif not has_email:
                reasons["no email"] += 1
            else:
                expected.append(f"p{i}@example.com")
        assert emails_in(os.path.join(folder, "a.csv")) == expected
        assert result.excluded == dict(reasons) and result.rows == len(expected)
    finally:
        crm.close()
        shutil.rmtree(folder)


def test_dashboard_section_lists_recent_exports_escaped(make_crm, tmp_path):
    from crmcore.reports import render

    crm = make_crm(plugins=[crm_exports, FakeSegments({"<b>vip</b>": [1, 2]})])
    crm.add_many([Contact(email="a@example.com", consent=True), Contact(email="b@example.com", consent=False)])
    crm.suppress("gone@example.com")
    export(crm, "hubspot", str(tmp_path / "h.csv"), segment="<b>vip</b>")
    html = render(crm, "dashboard")
    section = html[html.index('data-plugin="exports"'):]
    assert "Marketing exports" in section and "hubspot" in section
    assert "&lt;b&gt;vip&lt;/b&gt;" in section and "<b>vip</b>" not in section
    assert re.search(r'<div class="label">Suppressed addresses</div><div class="value"[^>]*>1</div>', section)
