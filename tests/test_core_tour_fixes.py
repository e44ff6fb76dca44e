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
