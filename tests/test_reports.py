"""HTML reports: the dashboard's figures, template search order, the sandbox,
reproducible bytes, capped tables and the `crm report` commands."""

import datetime as dt
import re
import types

import pytest

from crmcore import hookimpl, reports
from crmcore import CRM, CRMError
from crmcore.entities import Contact, Deal, Order

TODAY = dt.date(2025, 6, 15)


def plugin(name, **hooks):
    """A plugin module made of the given hook functions."""
    module = types.ModuleType(f"crm_{name}")
    for hook_name, fn in hooks.items():
        setattr(module, hook_name, hookimpl(fn))
    return (name, module)


@pytest.fixture
def small(crm):
    """Two contacts, three orders and two open deals: figures computable by hand."""
    a = crm.add(Contact(first_name="Ada", last_name="<script>alert(1)</script>", email="ada@example.com", country="DE",
                        consent=True, created_at="2025-05-02T10:00:00"))
    b = crm.add(Contact(first_name="Bo", email="bo@example.com", country="FR", created_at="2025-06-01T10:00:00"))
    crm.add_many([
        Order(contact_id=a, ordered_at="2025-06-10", total=100.0, channel="web"),
        Order(contact_id=a, ordered_at="2025-05-01", total=50.0, channel="store"),
        Order(contact_id=b, ordered_at="2024-05-01", total=30.0, channel="web"),  # the previous 12 months
    ])
    crm.add_many([Deal(title="big", amount=1000.0, stage="proposal"), Deal(title="small", amount=200.0, stage="lead")])
    return crm


def test_dashboard_figures_on_a_small_crm(small):
    from crmcore import dashboard

    ctx = dashboard.context(small, {})
    t = ctx["totals"]
    assert ctx["as_of"] == "2025-06-10"
    # the last 12 months: Jun 2024 - May 2025 in full, plus Jun 2025 up to the newest date, partial
    assert ctx["period"].description == "Last 12 months: Jun 2024 – May 2025 in full, plus Jun 2025 so far (partial month, to 10 Jun 2025)"
    assert t["contacts"] == 2 and t["new_contacts_12"] == 2
    assert t["revenue_12"] == 150.0 and t["orders_12"] == 2 and t["avg_order"] == 75.0
    assert t["revenue_change"] == 400.0  # 150 vs 30
    assert t["pipeline_value"] == 1200.0
    assert t["pipeline_weighted"] == 1000 * 0.5 + 200 * 0.1
    assert t["consent_rate"] == 50.0 and t["win_rate"] is None
    assert ctx["revenue_by_month"][-2:] == [("May 2025", 50.0), ("Jun 2025", 100.0)]
    assert len(ctx["revenue_by_month"]) == 25 and ctx["revenue_by_month"][0] == ("Jun 2023", 0)
    assert ctx["chart_period"].partial_label == "Jun 2025"
    assert ctx["new_contacts"][-2:] == [("May 2025", 1), ("Jun 2025", 1)] and len(ctx["new_contacts"]) == 13
    assert ctx["revenue_by_channel"] == [("web", 100.0), ("store", 50.0)]
    assert [(r["name"], r["orders"], r["revenue"]) for r in ctx["top_customers"]] == [("Ada <script>alert(1)</script>", 2, 150.0)]


def test_dashboard_compares_a_partial_month_with_the_same_days_a_year_earlier(small):
    from crmcore import dashboard

    small.add_many([Order(ordered_at="2024-06-05", total=20.0), Order(ordered_at="2024-06-20", total=1000.0)])
    t = dashboard.context(small, {})["totals"]
    # now: 1 Jun 2024 - 10 Jun 2025 = 150 + 20 (5 Jun 2024 is inside it) + 1000 (20 Jun 2024 too)
    assert t["revenue_12"] == 1170.0
    # a year earlier: 1 Jun 2023 - 10 Jun 2024 = 30 (1 May 2024) + 20 (5 Jun 2024); 20 Jun 2024 is past the 10th
    assert t["revenue_change"] == round(100 * (1170 - 50) / 50, 1)


def test_dashboard_page_states_its_period_and_draws_the_partial_month(small):
    html = reports.render(small, "dashboard")
    assert "Last 12 months: Jun 2024 – May 2025 in full, plus Jun 2025 so far (partial month, to 10 Jun 2025)" in html
    assert "New contacts per month, Jun 2024 – 10 Jun 2025" in html
    assert html.count("<g class='bar partial'>") == 1 and "Jun 2025 (partial)" in html


def test_dashboard_owner_param_narrows_pipeline_and_win_rate(small):
    from crmcore import dashboard

    small.add_many([Deal(title="mine", amount=400.0, stage="qualified", owner="anna"),
                    Deal(title="won", amount=50.0, stage="won", status="won", owner="anna"),
                    Deal(title="gone", amount=70.0, stage="lost", status="lost", owner="bert")])
    everyone = dashboard.context(small, {})["totals"]
    anna = dashboard.context(small, {"owner": "anna"})["totals"]
    assert everyone["pipeline_value"] == 1600.0 and everyone["win_rate"] == 50.0
    assert anna["pipeline_value"] == 400.0 and anna["pipeline_weighted"] == 100.0 and anna["win_rate"] == 100.0
    assert anna["revenue_12"] == everyone["revenue_12"]  # revenue is not per rep
    assert "open deals of anna" in reports.render(small, "dashboard", {"owner": "anna"})
    with pytest.raises(CRMError, match="unknown --param 'ownr'"):
        dashboard.context(small, {"ownr": "anna"})


def test_dashboard_renders_and_escapes_user_data(small):
    html = reports.render(small, "dashboard")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "€150.00" in html  # revenue of the last 12 months


def test_dashboard_on_an_empty_crm(crm):
    html = reports.render(crm, "dashboard")
    assert "No data yet" in html


def test_report_is_self_contained(small):
    html = reports.render(small, "dashboard")
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html), "a report must not load anything"
    assert "@import" not in html and "url(" not in html
    assert "@media print" in html and "viewport" in html


def test_same_database_gives_same_bytes(sample_crm, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = sample_crm(contacts=150, seed=7, name="a/crm.db", today=TODAY)
    second = sample_crm(contacts=150, seed=7, name="b/crm.db", today=TODAY)
    assert first.store.count("orders") > 500
    html = reports.render(first, "dashboard")
    assert html == reports.render(first, "dashboard")
    assert html == reports.render(second, "dashboard")
    assert "Generated" not in html


def test_stamp_adds_time_and_content_hash_to_the_footer_only(small):
    plain = reports.render(small, "dashboard")
    stamped = reports.render(small, "dashboard", stamp=True)
    match = re.search(r"Generated (\d{4}-\d\d-\d\d \d\d:\d\d UTC) · content ([0-9a-f]{16})", stamped)
    assert match
    import hashlib

    assert match.group(2) == hashlib.sha256(plain.encode()).hexdigest()[:16]
    assert stamped.replace(match.group(0), "<!--stamp-->") == plain


@pytest.fixture
def sections_plugin(tmp_path):
    folder = tmp_path / "sec_templates"
    folder.mkdir()
    (folder / "sec_section.html").write_text("<p class='sec'>Stock alerts: {{ ctx.alerts }} for {{ ctx.name }}</p>")
    return plugin(
        "sec",
        crm_register_template_dirs=lambda register: register(folder),
        crm_register_dashboard_sections=lambda register: register("Stock", "sec_section.html", lambda crm: {"alerts": 3, "name": "<b>x</b>"}),
    )


def test_plugin_section_appears_and_disappears_with_the_plugin(make_crm, sections_plugin):
    crm = make_crm(plugins=[sections_plugin])
    html = reports.render(crm, "dashboard")
    assert 'data-plugin="sec"' in html and "Stock alerts: 3 for &lt;b&gt;x&lt;/b&gt;" in html
    crm.set_enabled("sec", False)
    assert "Stock alerts" not in reports.render(crm, "dashboard")


def test_user_folder_overrides_a_template_by_name(make_crm, tmp_path):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "dashboard.html").write_text('{% extends "base.html" %}{% block content %}<p>ACME board: {{ totals.contacts }} contacts</p>{% endblock %}')
    core_base = open(reports.core_template_dir() + "/base.html", encoding="utf-8").read()
    (user / "base.html").write_text(core_base.replace("--accent: #2563eb", "--accent: #ff6600"))
    crm = make_crm(templates=str(user))
    html = reports.render(crm, "dashboard")
    assert "ACME board: 0 contacts" in html
    assert "--accent: #ff6600" in html  # the restyled base is used too


def test_custom_css_in_the_user_folder_restyles_every_report(make_crm, tmp_path):
    user = tmp_path / "brand"
    user.mkdir()
    (user / "custom.css").write_text(":root { --accent: #7a0019; } header.page { background: #7a0019; }\n")
    html = reports.render(make_crm(templates=str(user)), "dashboard")
    styles = html.split("<style>")[1].split("</style>")[0]
    assert styles.rstrip().endswith("header.page { background: #7a0019; }")  # last, so it wins
    assert "#7a0019" not in reports.render(make_crm(name="plain.db"), "dashboard")


def test_user_folder_beats_plugin_templates_which_beat_core(make_crm, tmp_path, sections_plugin):
    crm = make_crm(plugins=[sections_plugin])
    plugin_dir = crm.registry.template_dirs[0]
    with open(f"{plugin_dir}/macros.html", "w") as f:  # a plugin folder shadowing a core template
        f.write(open(reports.core_template_dir() + "/macros.html").read().replace('<div class="kpi">', '<div class="kpi plugin-kpi">'))
    assert "plugin-kpi" in reports.render(crm, "dashboard")
    user = tmp_path / "user"
    user.mkdir()
    (user / "sec_section.html").write_text("<p>user section</p>")
    crm2 = make_crm(plugins=[sections_plugin], name="two.db", templates=str(user))
    html = reports.render(crm2, "dashboard")
    assert "<p>user section</p>" in html and "Stock alerts" not in html


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ report.context.__globals__ }}",
    "{% set x = params.update({'a': 1}) %}{{ x }}",
])
def test_sandbox_refuses_unsafe_user_templates(make_crm, tmp_path, source):
    user = tmp_path / "evil"
    user.mkdir()
    (user / "dashboard.html").write_text(source)
    crm = make_crm(templates=str(user))
    with pytest.raises(CRMError) as info:
        reports.render(crm, "dashboard")
    message = str(info.value)
    assert "\n" not in message
    assert "refused by the sandbox" in message or "template error" in message
    assert "subclasses" not in message.replace(source, "")


def test_unsafe_template_through_the_cli_fails_cleanly_and_writes_nothing(run_cli, tmp_path):
    user = tmp_path / "evil"
    user.mkdir()
    (user / "dashboard.html").write_text("{{ ''.__class__.__mro__ }}")
    assert run_cli(["init"]).exit_code == 0
    out = tmp_path / "out.html"
    result = run_cli(["--templates", str(user), "report", "render", "dashboard", "-o", str(out)])
    assert result.exit_code != 0
    assert "refused by the sandbox" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_user_folder_is_a_one_line_error(make_crm, tmp_path):
    crm = make_crm(templates=str(tmp_path / "nope"))
    with pytest.raises(CRMError, match="does not exist"):
        reports.render(crm, "dashboard")


def test_tables_are_capped(make_crm, tmp_path):
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "big.html").write_text(
        '{% extends "base.html" %}{% import "macros.html" as m %}{% block content %}'
        '{{ m.table(rows, [("n", "N", "num"), ("name", "Name", "")]) }}'
        '{{ bar_chart(pairs, "Many bars", "item", "value") }}{% endblock %}')
    rows = [{"n": i, "name": f"row {i}"} for i in range(100_000)]
    big = plugin(
        "big",
        crm_register_template_dirs=lambda register: register(folder),
        crm_register_reports=lambda register: register("big", "big.html", "Many rows", lambda crm, params: {"rows": rows, "pairs": [(r["name"], r["n"]) for r in rows]}),
    )
    html = reports.render(make_crm(plugins=[big]), "big")
    assert "Showing the first 50 of 100,000 rows." in html
    assert "row 49<" in html and "row 50<" not in html.split("Many bars")[0]
    assert len(html) < 100_000


def test_report_list_and_render_through_the_cli(run_cli, tmp_path):
    assert run_cli(["init"]).exit_code == 0
    listed = run_cli(["report", "list"])
    assert listed.exit_code == 0
    description = next(r.description for r in CRM(run_cli.db, plugins=[]).registry.reports.values() if r.name == "dashboard")
    assert len(description) > 40 and re.search(rf"dashboard\s+core\s+{re.escape(description)}$", listed.output, re.M)
    out = tmp_path / "dash.html"
    result = run_cli(["report", "render", "dashboard", "-o", str(out), "--param", "owner=anna"])
    assert result.exit_code == 0 and result.output.strip() == str(out)
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and "CRM dashboard" in html and "owner=anna" in html
    assert not (tmp_path / "dash.html.tmp").exists()


@pytest.mark.parametrize("args, message", [
    (["report", "render", "nope"], "no report named 'nope' (reports: accounts, dashboard, team)"),
    (["report", "render", "dashboard", "--param", "oops"], "--param 'oops' must look like key=value"),
])
def test_report_render_user_errors(run_cli, args, message):
    assert run_cli(["init"]).exit_code == 0
    result = run_cli(args)
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output


def test_the_example_in_docs_reports_md_renders(make_crm, tmp_path, small):
    """The replacement dashboard shown to businesses in docs/reports.md works as printed."""
    import pathlib

    doc = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "reports.md").read_text(encoding="utf-8")
    example = doc.split("```jinja\n")[1].split("```")[0]
    user = tmp_path / "acme"
    user.mkdir()
    (user / "dashboard.html").write_text(example)
    small.templates = str(user)
    html = reports.render(small, "dashboard")
    assert "ACME sales" in html and "Pipeline value by stage" in html and "proposal" in html


def test_a_report_subtitle_leaves_out_command_line_hints():
    from crmcore.registry import Report

    def summary(text):
        return Report("x", "x.html", text, None, "core").summary

    assert summary("One product (--param sku=...): specs, sales trend") == "One product: specs, sales trend"
    assert summary("Retention cohorts (--param by=month|quarter, as_of=DATE): heat grid") == "Retention cohorts: heat grid"
    assert summary("Orders (not cancelled) per month") == "Orders (not cancelled) per month"
