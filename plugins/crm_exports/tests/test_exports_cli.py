"""The commands: crm export FORMAT / formats / log, crm contacts where-sent."""

import csv
import json

import pytest

import crm_exports
from crmcore import hookimpl
from crmcore import plugins as plugin_module


class ThirdParty:
    """An outside plugin: one extra format and a segment answer."""

    @hookimpl
    def crm_register_export_formats(self, register):
        def writer(contacts, fileobj, options):
            for c in contacts:
                fileobj.write(f"{c['email']}\n")
        register("plain-list", writer, "One e-mail per line")

    @hookimpl
    def crm_segment_contact_ids(self, crm, name):
        return {"firsttwo": [1, 2]}.get(name)


@pytest.fixture
def with_third_party(monkeypatch):
    """Installed plugins as if ``thirdparty`` were pip-installed next to exports."""
    found = ([plugin_module.Plugin("exports", crm_exports), plugin_module.Plugin("thirdparty", ThirdParty())], [])
    monkeypatch.setattr(plugin_module, "discover", lambda: found)
    monkeypatch.setattr("crmcore.activation.discover", lambda: found)


@pytest.fixture
def cli(run_cli, write_file):
    assert run_cli(["init"], plugins="exports").exit_code == 0
    path = write_file("people.csv", "email,first_name,last_name,consent,city\n"
                                     "ada@example.com,Ada,Lovelace,yes,London\n"
                                     "bob@example.com,Bob,\"Smith, Jr.\",no,Paris\n"
                                     "cy@example.com,=Cy,Lee,yes,Berlin\n")
    assert run_cli(["contacts", "import", path], plugins="exports").exit_code == 0
    return run_cli


def test_export_writes_file_and_reports_who_was_left_out(cli, tmp_path):
    out = tmp_path / "mc.csv"
    result = cli(["export", "mailchimp", "--all", "-o", str(out)], plugins="exports")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Exported 2 contact(s) as mailchimp to {out}; left out 1: 1 no consent"
    rows = list(csv.reader(out.open(newline="", encoding="utf-8")))
    assert [r[:2] for r in rows[1:]] == [["ada@example.com", "Ada"], ["cy@example.com", "'=Cy"]]


def test_unsubscribe_then_export_json_result(cli, tmp_path):
    assert cli(["contacts", "unsubscribe", "ADA@example.com"], plugins="exports").exit_code == 0
    result = cli(["export", "hubspot", "--all", "-o", str(tmp_path / "h.csv"), "--include-unconsented", "--json"],
                 plugins="exports")
    data = json.loads(result.output)
    assert (data["rows"], data["excluded"]) == (2, {"suppressed": 1})


def test_unhashed_option_and_dry_run(cli, tmp_path):
    out = tmp_path / "g.csv"
    result = cli(["export", "google-customer-match", "--all", "-o", str(out), "--unhashed", "--dry-run"], plugins="exports")
    assert result.output.strip() == "Would export 2 contact(s) as google-customer-match; left out 1: 1 no consent"
    assert not out.exists()
    cli(["export", "google-customer-match", "--all", "-o", str(out), "--unhashed"], plugins="exports")
    assert "ada@example.com" in out.read_text(encoding="utf-8")
    assert "--unhashed" not in cli(["export", "mailchimp", "--help"], plugins="exports").output


def test_user_errors_are_one_line(cli, tmp_path):
    cases = [
        (["export", "bogus", "--all", "-o", "x"], "unknown export format 'bogus'"),
        (["export", "csv", "--all"], "give the file to write with -o FILE"),
        (["export", "csv", "-o", str(tmp_path / "x.csv")], "choose the audience: --segment NAME or --all"),
        (["export", "csv", "--all", "--segment", "vip", "-o", str(tmp_path / "x.csv")], "--segment and --all cannot be combined"),
        (["export", "csv", "--segment", "vip", "-o", str(tmp_path / "x.csv")], "segments need the segments plugin"),
        (["export", "csv", "--all", "-o", str(tmp_path / "no" / "x.csv")], "folder"),
        (["contacts", "where-sent", "nobody@example.com"], "no contact 'nobody@example.com'"),
    ]
    for args, message in cases:
        result = cli(args, plugins="exports")
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_log_and_where_sent(cli, tmp_path):
    cli(["export", "vcard", "--all", "-o", str(tmp_path / "a.vcf")], plugins="exports")
    cli(["export", "json", "--all", "-o", str(tmp_path / "a.json"), "--include-unconsented"], plugins="exports")
    log = json.loads(cli(["export", "log", "--json"], plugins="exports").output)
    assert [(e["format"], e["row_count"], e["segment"]) for e in log] == [("json", 3, ""), ("vcard", 2, "")]
    assert set(log[0]) == {"id", "format", "segment", "exported_at", "user", "path", "row_count", "sha256", "excluded", "options"}
    assert log[0]["options"] == {"include_unconsented": True}
    included = json.loads(cli(["export", "log", str(log[1]["id"]), "--json"], plugins="exports").output)
    assert included == [{"contact_id": 1, "erased": False}, {"contact_id": 3, "erased": False}]
    result = cli(["export", "log", "99"], plugins="exports")
    assert result.exit_code == 1 and "no export 99 in the log" in result.output
    sent = json.loads(cli(["contacts", "where-sent", "bob@example.com", "--json"], plugins="exports").output)
    assert [s["format"] for s in sent] == ["json"]
    table = cli(["contacts", "where-sent", "1"], plugins="exports").output
    assert "vcard" in table and "json" in table


def test_formats_lists_third_party_formats(cli, with_third_party, tmp_path):
    result = cli(["export", "formats", "--json"], plugins="exports")
    formats = {f["name"]: f["plugin"] for f in json.loads(result.output)}
    assert formats["plain-list"] == "thirdparty" and formats["mailchimp"] == "exports"
    assert len(formats) == 8
    assert "plain-list" in cli(["export", "--help"], plugins="exports").output

    out = tmp_path / "list.txt"
    result = cli(["export", "plain-list", "--segment", "firsttwo", "-o", str(out)], plugins="exports")
    assert result.exit_code == 0, result.output
    assert "left out 1: 1 no consent" in result.output
    assert out.read_text() == "ada@example.com\n"
    assert json.loads(cli(["export", "log", "--json"], plugins="exports").output)[0]["segment"] == "firsttwo"


def test_disabled_plugin_hides_its_commands(cli):
    assert cli(["plugins", "disable", "exports"], plugins="exports").exit_code == 0
    result = cli(["export", "formats"], plugins="exports")
    assert result.exit_code != 0 and "disabled" in result.output
    result = cli(["contacts", "where-sent", "1"], plugins="exports")
    assert result.exit_code != 0 and "crm plugins enable exports" in result.output


def test_log_keeps_the_absolute_path(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli(["export", "csv", "--all", "-o", "rel.csv"], plugins="exports")
    assert "to rel.csv" in result.output
    (entry,) = json.loads(cli(["export", "log", "--json"], plugins="exports").output)
    assert entry["path"] == str(tmp_path / "rel.csv")


def test_help_never_creates_a_database(run_cli, tmp_path):
    db = str(tmp_path / "none.db")
    result = run_cli(["export", "google-customer-match", "--help"], db=db, plugins="exports")
    assert result.exit_code == 0 and "--unhashed" in result.output
    assert "mailchimp" in run_cli(["export", "--help"], db=db, plugins="exports").output
    assert not (tmp_path / "none.db").exists()
