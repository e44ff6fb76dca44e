"""What the README's tour needed: demo data added to existing data, pipeline
stages changed while deals sit in them, German yes/no cells."""

import datetime as dt
import json

import pytest

from crmcore import normalize


@pytest.fixture
def cli(run_cli):
    assert run_cli(["init"]).exit_code == 0
    return run_cli


def ok(result):
    assert result.exit_code == 0, result.output
    return result.output


def deal_stages(cli):
    return {d["id"]: (d["stage"], d["status"]) for d in json.loads(ok(cli(["deals", "list", "--json", "--limit", "0"])))}


def test_stages_move_the_deals_of_dropped_stages(cli):
    ok(cli(["contacts", "add", "--first-name", "Ada", "--email", "ada@example.com"]))
    for stage in ("lead", "qualified", "proposal", "negotiation"):
        ok(cli(["deals", "add", "--title", f"in {stage}", "--contact", "ada@example.com", "--stage", stage, "--amount", "100"]))
    refused = cli(["deals", "stages", "lead=10", "demo=40", "won=100", "lost=0", "--move", "qualified=lead"])
    assert refused.exit_code == 1
    assert "negotiation, proposal" in refused.output and "--move negotiation=NEW --move proposal=NEW" in refused.output
    assert [line.split()[0] for line in ok(cli(["deals", "stages"])).splitlines()] == \
        ["lead", "qualified", "proposal", "negotiation", "won", "lost"], "a refused change changes nothing"

    bad = cli(["deals", "stages", "lead=10", "won=100", "lost=0", "--move", "qualified=nowhere"])
    assert bad.exit_code == 1 and "'nowhere' is not a stage of the new pipeline" in bad.output

    out = ok(cli(["deals", "stages", "lead=10", "demo=40", "won=100", "lost=0",
                  "--move", "qualified=lead", "--move", "proposal=demo", "--move", "negotiation=won"]))
    assert out.split() == ["lead", "10%", "demo", "40%", "won", "100%", "lost", "0%"]
    today = dt.date.today().isoformat()
    assert deal_stages(cli) == {1: ("lead", "open"), 2: ("lead", "open"), 3: ("demo", "open"), 4: ("won", "won")}
    closed = json.loads(ok(cli(["deals", "show", "4", "--json"])))
    assert closed["closed_at"] == today
    assert [d["title"] for d in json.loads(ok(cli(["deals", "list", "--stage", "demo", "--json"])))] == ["in proposal"]


def test_stage_rename_takes_its_deals_along(cli):
    ok(cli(["contacts", "add", "--first-name", "Ada", "--email", "ada@example.com"]))
    ok(cli(["deals", "add", "--title", "Spring", "--contact", "ada@example.com", "--stage", "proposal"]))
    ok(cli(["deals", "add", "--title", "Won one", "--contact", "ada@example.com", "--stage", "won"]))
    out = ok(cli(["deals", "stages", "rename", "proposal", "offer"]))
    assert out.split()[:8] == ["lead", "10%", "qualified", "25%", "offer", "50%", "negotiation", "75%"]
    assert deal_stages(cli) == {1: ("offer", "open"), 2: ("won", "won")}
    for args, message in ((["rename", "won", "closed"], "keeps its name"), (["rename", "offer", "lead"], "is a stage already"),
                          (["rename", "nope", "x"], "no stage 'nope'"), (["rename", "offer"], "rename takes two names")):
        result = cli(["deals", "stages", *args])
        assert result.exit_code == 1 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_demo_adds_to_existing_data(make_crm):
    from crmcore.demo import generate

    crm = make_crm()
    today = dt.date(2026, 6, 30)
    first = generate(crm, 60, seed=42, today=today)
    refs = {r["ref"] for r in crm.store.query("SELECT ref FROM orders")}
    second = generate(crm, 40, seed=1, today=today)
    assert crm.store.count("contacts") == 100 and crm.store.count("companies") == first["companies"] + second["companies"]
    assert crm.store.count("orders") == first["orders"] + second["orders"]
    assert refs < {r["ref"] for r in crm.store.query("SELECT ref FROM orders")}, "the first run's orders are untouched"
    emails = [r["email"] for r in crm.store.query("SELECT email FROM contacts")]
    assert len(set(emails)) == 100


def test_yes_and_no_in_the_demo_countries_languages():
    assert [normalize.boolean(w) for w in ("ja", "Nein", "oui", "non", "sí")] == [True, False, True, False, True]
    with pytest.raises(ValueError):
        normalize.boolean("vielleicht")


PLUGINS = "campaigns,exports,products,segments,service,surveys"


def test_a_top_level_typo_gets_a_suggestion(cli):
    result = cli(["deal", "list"])
    assert result.exit_code == 2 and "No such command 'deal'. Did you mean 'deals'?" in result.output
    plugin_command = cli(["segmnts"], plugins=PLUGINS)  # lazily registered by a plugin
    assert plugin_command.exit_code == 2 and "Did you mean 'segments'?" in plugin_command.output
    assert "Did you mean" not in cli(["xyzzy"]).output


def test_plugins_list_fits_80_columns_and_lists_hooks_on_request(cli):
    plain = ok(cli(["plugins", "list"], plugins=PLUGINS))
    assert max(len(line) for line in plain.splitlines()) <= 80
    assert "crm_register_commands" not in plain
    rows = {line.split()[0]: line.split() for line in plain.splitlines()[2:]}
    listed = {p["name"]: p for p in json.loads(ok(cli(["plugins", "list", "--json"], plugins=PLUGINS)))}
    assert set(rows) == set(PLUGINS.split(","))
    assert int(rows["segments"][3]) == len(listed["segments"]["hooks"]) > 3
    verbose = ok(cli(["plugins", "list", "--verbose"], plugins=PLUGINS))
    assert max(len(line) for line in verbose.splitlines()) <= 80
    assert "\nsegments:\n" in verbose and all(h in verbose for h in listed["segments"]["hooks"])


def test_report_open_without_a_browser_says_so(cli, tmp_path, monkeypatch):
    import webbrowser

    opened = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or False)
    target = tmp_path / "dash.html"
    result = cli(["report", "render", "dashboard", "-o", str(target), "--open"])
    assert result.exit_code == 1 and "no browser found to open" in result.output
    assert target.exists() and opened == [target.resolve().as_uri()]
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    assert ok(cli(["report", "render", "dashboard", "-o", str(target), "--open"])).strip() == str(target)


def test_dash_o_writes_to_standard_output(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ok(cli(["contacts", "add", "--first-name", "Ada", "--email", "ada@example.com", "--country", "GB", "--consent"]))
    html = ok(cli(["report", "render", "dashboard", "-o", "-"]))
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    assert "ada@example.com" in ok(cli(["contacts", "export", "-o", "-"]))
    ok(cli(["segments", "create", "all", "--rule", 'country == "GB"'], plugins=PLUGINS))
    audience = cli(["export", "mailchimp", "--segment", "all", "-o", "-"], plugins=PLUGINS)
    assert audience.exit_code == 0, audience.output
    assert audience.stdout.splitlines()[1].startswith("ada@example.com,Ada")
    assert "to standard output" in audience.stderr
    log = json.loads(ok(cli(["export", "log", "--json"], plugins=PLUGINS)))
    assert [e["path"] for e in log] == ["standard output"]
    refused = cli(["report", "render", "dashboard", "-o", "-", "--open"])
    assert refused.exit_code == 1 and "--open needs a file" in refused.output
    assert sorted(p.name for p in tmp_path.iterdir() if p.name == "-") == [], "no file named -"


def test_segments_delete_asks_first(cli):
    ok(cli(["segments", "create", "de", "--rule", 'country == "DE"'], plugins=PLUGINS))
    kept = cli(["segments", "delete", "de"], plugins=PLUGINS, input="n\n")
    assert kept.exit_code == 1 and "Aborted" in kept.output
    assert "de" in ok(cli(["segments", "list"], plugins=PLUGINS))
    typo = cli(["segments", "delete", "dee"], plugins=PLUGINS, input="y\n")
    assert typo.exit_code == 1 and "Delete segment" not in typo.output
    assert "Deleted segment de" in ok(cli(["segments", "delete", "de"], plugins=PLUGINS, input="y\n"))
    ok(cli(["segments", "create", "de", "--rule", 'country == "DE"'], plugins=PLUGINS))
    assert "Deleted segment de" in ok(cli(["segments", "delete", "de", "--yes"], plugins=PLUGINS))
    assert "(none)" in ok(cli(["segments", "list"], plugins=PLUGINS))
