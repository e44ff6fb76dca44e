"""The `crm` command as a user and their scripts drive it."""

import csv
import io
import json

import pytest


@pytest.fixture
def cli(run_cli):
    assert run_cli(["init"]).exit_code == 0
    return run_cli


def ok(result):
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.sqlite_only("the default ./crm.db file and CRM_DB as a file path")
def test_init_uses_crm_db_then_default(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "Initialised crm.db" in ok(run_cli(["init"], db=None))
    assert (tmp_path / "crm.db").exists()
    monkeypatch.setenv("CRM_DB", str(tmp_path / "env.db"))
    from click.testing import CliRunner

    from crmcore.cli import cli

    result = CliRunner().invoke(cli, ["init"], env={"CRM_DB": str(tmp_path / "env.db"), "CRM_LOAD_PLUGINS": ""})
    assert result.exit_code == 0 and (tmp_path / "env.db").exists()


def test_uninitialised_database_is_a_clear_error(run_cli):
    import os

    result = run_cli(["contacts", "list"])
    assert result.exit_code == 1
    assert "not initialised: run `crm --db" in result.output and "Traceback" not in result.output
    if "://" not in run_cli.db:  # a mistyped --db leaves no empty file behind
        assert not os.path.exists(run_cli.db)


def test_a_list_cut_by_its_limit_says_how_many_there_are(run_cli):
    assert run_cli(["init"]).exit_code == 0
    for i in range(3):
        assert run_cli(["contacts", "add", "--email", f"p{i}@example.com"]).exit_code == 0
    cut = run_cli(["contacts", "list", "--limit", "2"])
    assert "showing 2 of 3 (use --limit N, or --limit 0 for all)" in cut.output
    assert "showing" not in run_cli(["contacts", "list", "--limit", "3"]).output
    assert "showing" not in run_cli(["contacts", "list", "--limit", "2", "--json"]).output


def test_contact_lifecycle(cli):
    ok(cli(["contacts", "add", "--first-name", "Ada", "--last-name", "Lovelace", "--email", "Ada@Example.com", "--phone", "020 7946 0000", "--country", "GB", "--tags", "vip,b2b", "--consent", "--set", "shoe=38", "--company", "Analytical Ltd"]))
    ok(cli(["contacts", "add", "--first-name", "Alan", "--email", "alan@example.com"]))
    rows = json.loads(ok(cli(["contacts", "list", "--json"])))
    assert [r["email"] for r in rows] == ["ada@example.com", "alan@example.com"]
    ada = rows[0]
    assert ada["phone"] == "+442079460000" and ada["tags"] == ["b2b", "vip"] and ada["consent"] is True and ada["custom"] == {"shoe": "38"}
    assert set(ada) >= {"id", "first_name", "last_name", "email", "phone", "company", "country", "owner", "tags", "consent", "consent_at", "created_at", "updated_at", "custom"}

    table = ok(cli(["contacts", "list"]))
    assert "Lovelace" in table and "email" in table.splitlines()[0]
    reader = list(csv.DictReader(io.StringIO(ok(cli(["contacts", "list", "--csv", "--tag", "vip"])))))
    assert [r["email"] for r in reader] == ["ada@example.com"]

    shown = json.loads(ok(cli(["contacts", "show", "ada@example.com", "--json"])))
    assert shown["company"] == "Analytical Ltd" and shown["orders"] == 0
    ok(cli(["contacts", "edit", "ada@example.com", "--city", "London"]))
    assert json.loads(ok(cli(["contacts", "show", "1", "--json"])))["city"] == "London"
    history = json.loads(ok(cli(["contacts", "history", "1", "--json"])))
    assert history[-1]["changes"]["city"] == ["", "London"] and history[-1]["user"] == "tester"

    found = json.loads(ok(cli(["contacts", "search", "lov analyt", "--json"])))
    assert [r["email"] for r in found] == ["ada@example.com"]
    assert json.loads(ok(cli(["contacts", "search", '" OR * NEAR(', "--json"]))) == []

    ok(cli(["contacts", "delete", "alan@example.com", "--yes"]))
    assert len(json.loads(ok(cli(["contacts", "list", "--json"])))) == 1


def test_user_mistakes_are_one_line(cli):
    ok(cli(["contacts", "add", "--email", "a@example.com"]))
    for args, message in [
        (["contacts", "add", "--email", "broken"], "invalid email"),
        (["contacts", "add", "--email", "a@example.com"], "already has this email"),
        (["contacts", "show", "nobody@example.com"], "no contact 'nobody@example.com'"),
        (["contacts", "list", "--sort", "email; DROP TABLE contacts"], "cannot sort by"),
        (["contacts", "import", "missing.csv"], "file not found"),
        (["deals", "move", "99", "won"], "no deals record with id 99"),
    ]:
        result = cli(args)
        assert result.exit_code != 0, args
        assert message in result.output and "Traceback" not in result.output, result.output


def test_import_export_and_merge(cli, write_file, tmp_path):
    path = write_file("c.csv", "E-mail,First Name,Last Name\nada@example.com,Ada,Lovelace\nada.l@example.com,,Lovelace\n")
    assert "2 created" in ok(cli(["contacts", "import", path]))
    assert json.loads(ok(cli(["contacts", "import", path, "--dry-run", "--json"])))["updated"] == 2
    bad = write_file("bad.csv", "email\nbroken\n")
    result = cli(["contacts", "import", bad])
    assert result.exit_code == 1 and "bad.csv: row 2: email: invalid e-mail address" in result.output
    rejects = str(tmp_path / "rej.csv")
    out = ok(cli(["contacts", "import", bad, "--rejects", rejects]))
    assert "1 rejected" in out and open(rejects).read().startswith("row,field,reason")

    out_file = str(tmp_path / "all.jsonl")
    ok(cli(["contacts", "export", "-o", out_file, "--format", "jsonl"]))
    assert [json.loads(l)["email"] for l in open(out_file)] == ["ada@example.com", "ada.l@example.com"]

    ok(cli(["deals", "add", "--title", "Engine", "--contact", "ada.l@example.com", "--amount", "5000"]))
    ok(cli(["contacts", "merge", "ada@example.com", "ada.l@example.com"]))
    deals = json.loads(ok(cli(["deals", "list", "--json"])))
    assert deals[0]["contact_id"] == 1
    assert len(json.loads(ok(cli(["contacts", "list", "--json"])))) == 1


def test_companies(cli):
    ok(cli(["companies", "add", "--name", "ACME GmbH", "--domain", "www.ACME.example", "--country", "Germany"]))
    rows = json.loads(ok(cli(["companies", "list", "--json"])))
    assert rows[0]["domain"] == "acme.example" and rows[0]["country"] == "DE"
    ok(cli(["companies", "edit", "ACME GmbH", "--industry", "Retail"]))
    assert json.loads(ok(cli(["companies", "show", "1", "--json"])))["industry"] == "Retail"
    result = cli(["companies", "add", "--name", "Other", "--domain", "acme.example"])
    assert result.exit_code == 1 and "already has this domain" in result.output
    ok(cli(["companies", "delete", "1", "--yes"]))


def test_deals_pipeline(cli):
    ok(cli(["contacts", "add", "--email", "a@example.com"]))
    ok(cli(["deals", "add", "--title", "A", "--contact", "a@example.com", "--amount", "1000", "--stage", "proposal"]))
    ok(cli(["deals", "add", "--title", "B", "--contact", "1", "--amount", "3000", "--stage", "lead"]))
    pipeline = {r["stage"]: r for r in json.loads(ok(cli(["deals", "pipeline", "--json"])))}
    assert pipeline["proposal"]["weighted"] == 500 and pipeline["lead"]["weighted"] == 300
    assert "won" in ok(cli(["deals", "move", "1", "won"]))
    deal = json.loads(ok(cli(["deals", "show", "1", "--json"])))
    assert deal["status"] == "won" and deal["closed_at"]
    assert json.loads(ok(cli(["deals", "pipeline", "--json"])))[2]["deals"] == 0
    result = cli(["deals", "move", "2", "nirvana"])
    assert result.exit_code == 1 and "unknown stage 'nirvana'" in result.output
    assert "demo" in ok(cli(["deals", "stages", "lead=10", "demo=40", "proposal=60", "won=100", "lost=0"]))


def test_activities(cli):
    ok(cli(["contacts", "add", "--email", "a@example.com"]))
    ok(cli(["activities", "log", "--contact", "a@example.com", "--kind", "task", "--subject", "Call back", "--due-at", "2030-01-01T09:00"]))
    ok(cli(["activities", "log", "--contact", "1", "--kind", "call", "--subject", "Intro", "--done-at", "2024-01-01T09:00"]))
    assert [r["subject"] for r in json.loads(ok(cli(["activities", "list", "--open", "--json"])))] == ["Call back"]
    ok(cli(["activities", "done", "1"]))
    assert json.loads(ok(cli(["activities", "list", "--open", "--json"]))) == []
    result = cli(["activities", "log", "--contact", "1", "--kind", "party"])
    assert result.exit_code != 0


def test_orders(cli, write_file):
    ok(cli(["contacts", "add", "--email", "a@example.com"]))
    path = write_file("o.csv", "ref,date,email,sku,qty,price\nSO-1,2024-01-05,a@example.com,X-1,2,10\n")
    ok(cli(["orders", "import", path]))
    orders = json.loads(ok(cli(["orders", "list", "--json", "--contact", "a@example.com"])))
    assert orders[0]["total"] == 20
    shown = json.loads(ok(cli(["orders", "show", "SO-1", "--json"])))
    assert shown["lines"][0]["sku"] == "X-1"


def test_demo_is_reproducible(run_cli, new_db):
    outputs = []
    for name in ("a.db", "b.db"):
        db = new_db(name)
        ok(run_cli(["demo", "--contacts", "120", "--seed", "7"], db=db))
        outputs.append(ok(run_cli(["contacts", "list", "--json", "--limit", "0"], db=db)))
    first = json.loads(outputs[0])
    assert len(first) == 120 and len({c["country"] for c in first}) >= 5
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("created_at", "updated_at")} for r in json.loads(rows)]
    assert strip(outputs[0]) == strip(outputs[1])


def test_report_render(run_cli, new_db, tmp_path):
    db = new_db("r.db")
    ok(run_cli(["demo", "--contacts", "60"], db=db))
    assert "dashboard" in ok(run_cli(["report", "list"], db=db))
    out = str(tmp_path / "dash.html")
    ok(run_cli(["report", "render", "dashboard", "-o", out], db=db))
    html = open(out, encoding="utf-8").read()
    assert "<svg" in html and "Pipeline" in html
    result = run_cli(["report", "render", "nope"], db=db)
    assert result.exit_code == 1 and "no report named 'nope'" in result.output


@pytest.mark.sqlite_only("quickstart creates ./crm.db in the current folder")
def test_quickstart(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = ok(run_cli(["quickstart", "--contacts", "80"], db=None))
    assert "Dashboard written to" in out and (tmp_path / "crm-dashboard.html").exists()
    again = run_cli(["quickstart", "--contacts", "80"], db=None)
    assert again.exit_code == 1 and "already has contacts" in again.output
