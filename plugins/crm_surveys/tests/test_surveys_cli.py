"""The `crm surveys` commands, the survey report, the dashboard section, the form and `crm demo`."""

import csv
import json
import re

import pytest

import crm_surveys

SURVEY_ARGS = ["surveys", "create", "feedback", "--description", "After purchase",
               "--question", "nps:recommend:How likely are you to recommend us?",
               "--question", "csat:satisfaction:How satisfied are you?",
               "--question", "choice(Web,Store):where:Where did you buy?",
               "--question", "text?:comment:Anything else?"]


@pytest.fixture
def cli(run_cli):
    def run(args, **kw):
        return run_cli(args, plugins="surveys", **kw)

    assert run(["init"]).exit_code == 0
    return run


@pytest.fixture
def contact(cli):
    result = cli(["contacts", "add", "--first-name", "Ada", "--email", "ada@example.com", "--owner", "alice", "--consent"])
    assert result.exit_code == 0, result.output
    return "ada@example.com"


def test_create_list_show_close(cli):
    assert cli(SURVEY_ARGS).output == "Created survey 1 (feedback) with 4 questions\n"
    listed = json.loads(cli(["surveys", "list", "--json"]).output)
    assert [(s["name"], s["status"], s["questions"], s["responses"]) for s in listed] == [("feedback", "open", 4, 0)]
    shown = json.loads(cli(["surveys", "show", "feedback", "--json"]).output)
    assert [(q["key"], q["type"], q["required"]) for q in shown["questions"]] == [
        ("recommend", "nps", True), ("satisfaction", "csat", True), ("where", "choice", True), ("comment", "text", False)]
    assert "recommend" in cli(["surveys", "show", "feedback", "--csv"]).output.splitlines()[1]
    assert cli(["surveys", "close", "feedback"]).exit_code == 0
    result = cli(["surveys", "answer", "feedback", "1", "--answer", "recommend=9"])
    assert result.exit_code == 1 and "survey 'feedback' is closed" in result.output


def test_bad_question_option_is_one_line(cli):
    result = cli(["surveys", "create", "x", "--question", "stars:a:A"])
    assert result.exit_code == 1
    assert result.output == "Error: --question 1: question 1: type 'stars' is not one of nps, csat, ces, rating, choice, multiple, text\n"


def test_load_from_yaml(cli, write_file):
    path = write_file("s.yaml", "name: effort\nquestions:\n  - key: ces\n    type: ces\n    text: How easy was it?\n")
    assert cli(["surveys", "load", path]).output == "Created survey 1 (effort) with 1 questions\n"


def test_interactive_answer_reprompts_until_valid_and_creates_the_follow_up(cli, contact):
    cli(SURVEY_ARGS)
    result = cli(["surveys", "answer", "feedback", contact], input="11\n4\n2\n\n2\nToo slow\n")
    assert result.exit_code == 0, result.output
    assert "11 is out of range 0-10" in result.output
    assert re.search(r"Recorded response 1; follow-up task \d+ created", result.output)
    comments = json.loads(cli(["surveys", "comments", "feedback", "--json"]).output)
    assert [(c["email"], c["score"], c["category"], c["comment"]) for c in comments] == [("ada@example.com", 4.0, "detractor", "Too slow")]
    tasks = json.loads(cli(["activities", "list", "--kind", "task", "--json"]).output)
    assert [(t["owner"], t["channel"]) for t in tasks] == [("alice", "phone")]
    where = json.loads(cli(["surveys", "scores", "feedback", "--by", "channel", "--json"]).output)
    assert where[0]["group"] == "phone"


def test_non_interactive_answer(cli, contact):
    cli(SURVEY_ARGS)
    ok = cli(["surveys", "answer", "feedback", contact, "--channel", "store", "--answer", "recommend=10",
              "--answer", "satisfaction=5", "--answer", "where=store"])
    assert ok.exit_code == 0 and ok.output == "Recorded response 1\n"
    bad = cli(["surveys", "answer", "feedback", contact, "--answer", "recommend=10", "--answer", "where=store"])
    assert bad.exit_code == 1 and bad.output == "Error: invalid answer to satisfaction: an answer is required\n"
    scores = json.loads(cli(["surveys", "scores", "feedback", "--json"]).output)
    assert [(s["question"], s["responses"], s["score"], s["margin"]) for s in scores] == [("recommend", 1, 100.0, None), ("satisfaction", 1, 100.0, None)]
    table = cli(["surveys", "scores", "feedback"]).output
    assert "±" not in table and "recommend" in table  # one answer: no margin to show


def test_import_responses_command_reports_row_and_column(cli, contact, write_file):
    cli(SURVEY_ARGS)
    bad = cli(["surveys", "import-responses", "feedback", write_file("r.csv", "email,recommend,satisfaction,where\nada@example.com,11,5,Web\n")])
    assert bad.exit_code == 1
    assert bad.output.startswith("Error: ") and "r.csv: row 2: recommend: 11 is out of range 0-10" in bad.output
    assert len(bad.output.splitlines()) == 1
    good = cli(["surveys", "import-responses", "feedback", write_file("s.csv", "E-mail,Q1,satisfaction,where\nada@example.com,9,5,Web\n"),
                "--map", "Q1=recommend", "--json"])
    assert json.loads(good.output)["created"] == 1


def test_invite_command_writes_the_csv(cli, contact, monkeypatch, tmp_path):
    from crmcore import hookimpl, plugins

    class Segments:
        @hookimpl
        def crm_segment_contact_ids(self, crm, name):
            return [r["id"] for r in crm.store.query("SELECT id FROM contacts")] if name == "everyone" else None

    found = ([plugins.Plugin("surveys", crm_surveys), plugins.Plugin("segments", Segments())], [])
    monkeypatch.setattr("crmcore.plugins.discover", lambda: found)
    monkeypatch.setattr("crmcore.activation.discover", lambda: found)
    cli(SURVEY_ARGS)
    cli(["contacts", "add", "--email", "no@example.com", "--no-consent"])
    out = tmp_path / "invites.csv"
    result = cli(["surveys", "invite", "feedback", "--segment", "everyone", "--base-url", "https://shop.example/f?lang=en", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Invited 1 contact(s); skipped 1 no consent" in result.output
    rows = list(csv.DictReader(out.open()))
    assert [r["email"] for r in rows] == ["ada@example.com"]
    assert rows[0]["link"] == f"https://shop.example/f?lang=en&token={rows[0]['token']}"
    batches = json.loads(cli(["surveys", "batches", "feedback", "--json"]).output)
    assert [(b["segment"], b["invitations"], b["responses"]) for b in batches] == [("everyone", 1, 0)]
    # a response through the form's CSV (same columns the form downloads) uses the token
    form_csv = tmp_path / "form.csv"
    form_csv.write_text(f"token,email,submitted_at,channel,recommend,satisfaction,where,comment\n{rows[0]['token']},,2024-05-01T10:00:00,web,10,5,Web,\"Nice, thanks\"\n")
    assert cli(["surveys", "import-responses", "feedback", str(form_csv)]).exit_code == 0
    assert json.loads(cli(["surveys", "batches", "feedback", "--json"]).output)[0]["response_rate"] == 100.0


def test_form_is_self_contained_and_escapes_labels(cli, tmp_path):
    cli(["surveys", "create", "evil", "--question", "choice(<b>A</b>,B&C):pick:<script>alert(1)</script> pick one",
         "--question", "nps:recommend:Recommend </script><script>alert(2)</script>?"])
    out = tmp_path / "form.html"
    assert cli(["surveys", "form", "evil", "-o", str(out)]).exit_code == 0
    html = out.read_text()
    assert "<script>alert" not in html and "<b>A</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; pick one" in html and "B&amp;C" in html
    assert html.count("<script") == 2  # the JSON spec and the inline script, nothing else
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", html) and "<link" not in html
    spec = json.loads(re.search(r'<script type="application/json" id="spec">(.*?)</script>', html, re.S).group(1))
    assert [q["key"] for q in spec["questions"]] == ["pick", "recommend"]


def test_report_and_dashboard_after_demo(cli, tmp_path):
    result = cli(["demo", "--contacts", "200"])
    assert result.exit_code == 0, result.output
    listed = json.loads(cli(["surveys", "list", "--json"]).output)
    assert listed[0]["name"] == "post-purchase" and listed[0]["responses"] > 10
    scores = {s["question"]: s for s in json.loads(cli(["surveys", "scores", "post-purchase", "--json"]).output)}
    nps = scores["recommend"]
    assert nps["promoters"] > 0 and nps["passives"] > 0 and nps["detractors"] > 0 and -100 < nps["score"] < 100
    tasks = json.loads(cli(["activities", "list", "--kind", "task", "--limit", "0", "--json"]).output)
    assert sum(1 for t in tasks if t["subject"].startswith("Survey follow-up")) >= nps["detractors"]
    out = tmp_path / "survey.html"
    assert cli(["report", "render", "survey", "--param", "survey=post-purchase", "-o", str(out)]).exit_code == 0
    html = out.read_text()
    assert f"{nps['score']:.1f} ± {nps['margin']:.1f}" in html
    assert "What detractors said" in html and "Follow-ups" in html and html.count("<figure") >= 4
    dash = tmp_path / "dash.html"
    assert cli(["report", "render", "dashboard", "-o", str(dash)]).exit_code == 0
    assert "Customer feedback" in dash.read_text() and f"{nps['score']:.1f} ± {nps['margin']:.1f}" in dash.read_text()


def test_report_of_an_unknown_survey_is_a_one_line_error(cli):
    result = cli(["report", "render", "survey", "--param", "survey=nope"])
    assert result.exit_code == 1 and result.output == "Error: no survey 'nope' (surveys: none yet)\n"


def test_dashboard_section_without_surveys(cli, tmp_path):
    out = tmp_path / "dash.html"
    assert cli(["report", "render", "dashboard", "-o", str(out)]).exit_code == 0
    html = out.read_text()
    assert "Customer feedback" in html and "No surveys yet" in html


def test_form_default_file_name_stays_in_the_current_folder(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli(["surveys", "create", "../up/and away", "--question", "nps:recommend:Recommend?"])
    result = cli(["surveys", "form", "../up/and away"])
    assert result.output.strip() == "up-and-away-form.html" and (tmp_path / "up-and-away-form.html").exists()
