"""`crm segments ...` end to end through the CLI, reports and the demo."""

import json

import pytest


@pytest.fixture
def cli(run_cli):
    def run(args, ok=True, **kw):
        result = run_cli(args, plugins="segments", **kw)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    run(["init"])
    for email, country, tags in [("ada@example.com", "DE", "vip"), ("bo@example.com", "AT", ""), ("cy@example.com", "US", "")]:
        run(["contacts", "add", "--email", email, "--country", country, "--tags", tags])
    return run


def as_json(result):
    return json.loads(result.output)


def test_create_refresh_members_show_history(cli):
    assert "2 members" in cli(["segments", "create", "dach", "--rule", 'country in ("DE", "AT")', "--description", "DACH"]).output
    listed = as_json(cli(["segments", "list", "--json"]))
    assert [(s["name"], s["kind"], s["size"]) for s in listed] == [("dach", "dynamic", 2)]
    members = cli(["segments", "members", "dach", "--csv"]).output.splitlines()
    assert members[0] == "id,first_name,last_name,email,country,city,owner,since"
    assert [m.split(",")[3] for m in members[1:]] == ["ada@example.com", "bo@example.com"]

    cli(["contacts", "edit", "cy@example.com", "--country", "AT"])
    refreshed = as_json(cli(["segments", "refresh", "dach", "--json"]))
    assert [(r["segment"], r["size"], r["entered"], r["left"]) for r in refreshed] == [("dach", 3, 1, 0)]
    shown = as_json(cli(["segments", "show", "dach", "--json"]))
    assert (shown["size"], shown["entered_last_refresh"], shown["left_last_refresh"]) == (3, 1, 0)
    assert (shown["rule"], shown["description"], shown["would_enter_now"], shown["would_leave_now"]) == ('country in ("DE", "AT")', "DACH", 0, 0)
    history = as_json(cli(["segments", "history", "dach", "--json"]))
    assert [(h["change"], h["email"]) for h in history] == [("entered", "cy@example.com"), ("entered", "ada@example.com"),
                                                           ("entered", "bo@example.com")]
    per_refresh = as_json(cli(["segments", "history", "dach", "--refreshes", "--json"]))
    assert [(r["size"], r["entered"], r["left"]) for r in per_refresh] == [(2, 2, 0), (3, 1, 0)]


def test_bad_rule_is_one_line_with_position_and_nothing_saved(cli):
    result = cli(["segments", "create", "x", "--rule", 'country == "DE" and totl_spent > 5'], ok=False)
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [
        "Error: invalid rule at position 21: unknown field 'totl_spent'; did you mean total_spent?"]
    assert as_json(cli(["segments", "list", "--json"])) == []
    result = cli(["segments", "members", "nope"], ok=False)
    assert result.exit_code != 0 and "no segment named 'nope'" in result.output and "Traceback" not in result.output


def test_check_prints_count_and_bound_sql(cli):
    out = cli(["segments", "check", 'tags contains "vip" or country == "Austria"', "--sql"]).output
    assert out.startswith("2 contacts match")
    assert "parameters: ['vip', 'AT']" in out
    assert '"vip"' not in out.split("\n")[1]


def test_static_segment_from_a_file_and_dump_load(cli, write_file, tmp_path):
    cli(["segments", "create", "fair", "--static"])
    path = write_file("fair.csv", "email\nada@example.com\ncy@example.com\n")
    assert "2 added" in cli(["segments", "add-members", "fair", "--file", path]).output
    assert "1 removed" in cli(["segments", "remove-members", "fair", "cy@example.com"]).output
    bad = write_file("bad.csv", "email\nbo@example.com\nnobody@example.com\n")
    result = cli(["segments", "add-members", "fair", "--file", bad], ok=False)
    assert result.exit_code != 0 and "bad.csv: row 3: email: no contact 'nobody@example.com'" in result.output
    cli(["segments", "create", "de", "--rule", 'country == "DE"'])
    dumped = str(tmp_path / "segments.yaml")
    cli(["segments", "dump", "-o", dumped])
    text = open(dumped, encoding="utf-8").read()
    assert "name: de" in text and "ada@example.com" in text

    other = str(tmp_path / "other.db")
    cli(["init"], db=other)
    cli(["contacts", "add", "--email", "ada@example.com", "--country", "DE"], db=other)
    assert "2 created, 0 updated" in cli(["segments", "load", dumped], db=other).output
    listed = as_json(cli(["segments", "list", "--json"], db=other))
    assert [(s["name"], s["size"]) for s in listed] == [("de", 1), ("fair", 1)]


def test_rfm_and_table(cli, write_file):
    cli(["orders", "import", write_file("orders.csv", "ref,email,ordered_at,total\n1,ada@example.com,2025-06-01,100\n"
                                                      "2,bo@example.com,2025-01-01,20\n")])
    summary = as_json(cli(["segments", "rfm", "--as-of", "2025-06-30", "--json"]))
    # n = 2: the better value has rank 2, score 1 + 5 * 1 // 2 = 3; equal frequencies share rank 1.
    assert {r["segment"]: r["customers"] for r in summary if r["customers"]} == {"About to Sleep": 1, "Lost": 1}
    rows = as_json(cli(["segments", "rfm", "--as-of", "2025-06-30", "--customers", "--json"]))
    assert [(r["email"], r["score"], r["recency_days"]) for r in rows] == [("ada@example.com", "313", 29), ("bo@example.com", "111", 180)]
    table = write_file("table.yaml", "- [Active, 3, 5, 1, 5]\n- [Sleeping, 1, 2, 1, 5]\n")
    cli(["segments", "rfm-table", "--load", table])
    summary = as_json(cli(["segments", "rfm", "--as-of", "2025-06-30", "--json"]))
    assert [(r["segment"], r["customers"]) for r in summary] == [("Active", 1), ("Sleeping", 1)]
    result = cli(["segments", "rfm-table", "--load", write_file("t.yaml", "- [X, 9, 5, 1, 5]\n")], ok=False)
    assert result.exit_code != 0 and "t.yaml: row 1: r_min: must be a whole number 1-5" in result.output


def test_territories_targets_pipeline(cli, write_file):
    cli(["segments", "territories", "add", "DACH", "--owner", "alice", "--country", "DE", "--country", "AT"])
    assert "2 contacts got a new owner" in cli(["segments", "territories", "assign"]).output
    listed = as_json(cli(["segments", "territories", "list", "--json"]))
    assert [(t["name"], t["owner"], t["countries"], t["contacts"]) for t in listed] == [("DACH", "alice", ["AT", "DE"], 2)]
    cli(["orders", "import", write_file("orders.csv", "ref,email,ordered_at,total\n1,ada@example.com,2025-04-10,300\n")])
    cli(["segments", "targets", "set", "--territory", "DACH", "--period", "2025-Q2", "--revenue", "1000"])
    rows = as_json(cli(["segments", "targets", "show", "--as-of", "2025-05-15", "--json"]))
    assert [(r["name"], r["actual"], r["gap"], r["attainment"], r["forecast"]) for r in rows] == [("DACH", 300.0, 700.0, 30.0, 606.67)]
    result = cli(["segments", "targets", "set", "--period", "2025"], ok=False)
    assert result.exit_code != 0 and "exactly one of --segment or --territory" in result.output
    cli(["segments", "create", "de", "--rule", 'country == "DE"'])
    cli(["deals", "add", "--title", "Big", "--contact", "ada@example.com", "--amount", "1000", "--stage", "proposal"])
    pipe = as_json(cli(["segments", "pipeline", "de", "--json"]))
    assert (pipe["open_amount"], pipe["open_weighted"]) == (1000.0, 500.0)


def test_reports_render_and_escape_user_text(cli, tmp_path):
    cli(["segments", "create", "vip", "--rule", 'tags contains "vip"', "--description", "<script>alert(1)</script>"])
    cli(["segments", "rfm"])
    for name, params in [("segments", []), ("segment", ["--param", "name=vip"]), ("rfm", []), ("dashboard", [])]:
        out = str(tmp_path / f"{name}.html")
        cli(["report", "render", name, "-o", out, *params])
        html = open(out, encoding="utf-8").read()
        assert "<script>" not in html
    assert "&lt;script&gt;" in open(tmp_path / "segment.html", encoding="utf-8").read()
    assert "Segment sizes" in open(tmp_path / "dashboard.html", encoding="utf-8").read()
    result = cli(["report", "render", "segment", "-o", str(tmp_path / "x.html")], ok=False)
    assert result.exit_code != 0 and "--param name=SEGMENT" in result.output


def test_demo_creates_refreshed_segments_territories_and_targets(run_cli):
    assert run_cli(["init"], plugins="segments").exit_code == 0
    result = run_cli(["demo", "--contacts", "200"], plugins="segments")
    assert result.exit_code == 0, result.output
    listed = json.loads(run_cli(["segments", "list", "--json"], plugins="segments").output)
    names = {s["name"]: s for s in listed}
    assert {"vip", "churn-risk", "DE-garden"} <= set(names)
    assert all(s["refreshed_at"] for s in listed)
    assert names["vip"]["size"] > 0
    assert json.loads(run_cli(["segments", "territories", "list", "--json"], plugins="segments").output)
    assert json.loads(run_cli(["segments", "targets", "show", "--json"], plugins="segments").output)


def test_fields_lists_contact_purchase_and_rfm_fields(cli):
    rows = as_json(cli(["segments", "fields", "--json"]))
    types = {r["name"]: r["type"] for r in rows}
    assert types["country"] == "text" and types["tags"] == "set" and types["age"] == "number"
    assert types["days_since_last_order"] == "number" and types["rfm_segment"] == "text" and types["last_order_date"] == "date"
