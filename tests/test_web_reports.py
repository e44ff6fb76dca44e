"""Reports in `crm serve`: each report's declared parameters as a GET form,
checked by the same code as `crm report render --param`, a bad value a
one-line 400, values kept in the address and rendered inert; reports
registered without parameters keep working as before."""

import re
import types

import pytest

import crm_products
import crm_segments
from crm_products import catalogue
from crm_segments import segments
from crmcore import CRMError, ReportParam, hookimpl, reports
from crmcore.entities import Contact, Deal

pytest.importorskip("httpx")

HOSTILE = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>{{7*7}}"


@pytest.fixture
def shop(make_crm):
    crm = make_crm(plugins=[crm_products, crm_segments])
    catalogue.add(crm, {"sku": "S-1", "name": "Kettle"})
    catalogue.add(crm, {"sku": "S-2", "name": "Teapot"})
    crm.add(Contact(first_name="Ada", email="ada@example.com"))
    crm.add(Deal(title="d", amount=10, owner="ann@example.com"))
    segments.create_segment(crm, "all", rule="email contains '@'")
    return crm


def options(html, name):
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option value="([^"]*)"( selected)?>', select)


def test_a_report_that_needs_a_choice_asks_for_it_with_a_select_of_the_choices(shop, web_user):
    c = web_user(shop, "manager")
    r = c.get("/reports/product")
    assert r.status_code == 200 and 'class="error"' not in r.text
    assert 'action="/reports/product"' in r.text and 'method="get"' in r.text
    assert [v for v, _ in options(r.text, "sku")] == ["", "S-1", "S-2"]
    assert "S-2 · Teapot" in r.text


def test_chosen_values_stay_in_the_address_and_in_the_form(shop, web_user):
    c = web_user(shop, "manager")
    r = c.get("/reports/product?sku=S-2")
    assert r.status_code == 200 and "Teapot" in r.text
    assert ("S-2", " selected") in options(r.text, "sku")
    r = c.get("/reports/supply?window=30&excess_days=&as_of=2025-01-31")
    assert r.status_code == 200
    assert re.search(r'name="window" value="30"', r.text)
    assert re.search(r'type="date" name="as_of" value="2025-01-31"', r.text)
    assert re.search(r'name="excess_days" value="90"', r.text)  # empty: the default shows
    # the report itself is the report's page, under its bar, with the report's own policy
    assert r.text.index("crm-report-bar") < r.text.index("</nav>") < r.text.index("<h1")
    assert "script-src" not in r.headers["content-security-policy"] and "default-src 'none'" in r.headers["content-security-policy"]


@pytest.mark.parametrize("query, error", [
    ("supply?window=soon", "report 'supply': --param window='soon' is not a whole number"),
    ("supply?window=0", "report 'supply': --param window=0 is outside 1-3650"),
    ("supply?as_of=31.02.2025", "report 'supply': --param as_of: invalid date '31.02.2025' (use YYYY-MM-DD)"),
    ("cohorts?by=week", "report 'cohorts': --param by='week': use one of month, quarter"),
    ("product?sku=", "report 'product' needs --param sku=SKU"),
    ("product?sku=NOPE", "no product with SKU 'NOPE' (see crm products list)"),
    ("team?when=today", "report 'team': unknown --param 'when' (known: as_of)"),
])
def test_a_bad_value_is_a_one_line_400_with_the_form_again(shop, web_user, run_cli, query, error):
    c = web_user(shop, "viewer")
    r = c.get("/reports/" + query)
    assert r.status_code == 400
    assert re.search(r'<p class="error" role="alert">(.*?)</p>', r.text).group(1) == error.replace("'", "&#39;")
    assert "Traceback" not in r.text and "<form" in r.text


def test_the_command_line_checks_params_with_the_same_code(shop):
    with pytest.raises(CRMError, match=r"^report 'supply': --param window=0 is outside 1-3650$"):
        reports.render(shop, "supply", {"window": "0"})
    # dates are passed on as YYYY-MM-DD, empty values not at all (the context's default applies)
    report = shop.registry.reports["supply"]
    assert reports.check_params(shop, report, {"as_of": " 2025-01-31", "window": "07", "excess_days": ""}) == \
        {"as_of": "2025-01-31", "window": "7"}
    # an older name of a parameter still works
    assert reports.check_params(shop, shop.registry.reports["segment"], {"segment": "all"}) == {"name": "all"}


def test_hostile_values_in_the_address_render_inert(shop, web_user):
    c = web_user(shop, "manager")
    for query in ({"owner": HOSTILE}, {"sku": HOSTILE}):
        name = "dashboard" if "owner" in query else "product"
        r = c.get(f"/reports/{name}", params=query)
        assert "<script>alert(1)" not in r.text and "<img src=x onerror" not in r.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text


def test_the_reports_page_shows_each_reports_form(shop, web_user):
    c = web_user(shop, "viewer")
    r = c.get("/reports")
    assert r.status_code == 200
    for name in ("product", "supply", "segment", "cohorts", "team"):
        assert f'action="/reports/{name}"' in r.text
    assert [v for v, _ in options(r.text.split('action="/reports/segment"')[1], "name")] == ["", "all"]
    assert 'list="dashboard-owner-list"' in r.text and '<option value="ann@example.com">' in r.text
    # the form is the page's way to give parameters: no command-line hints in the descriptions
    assert "--param" not in r.text
    assert "--param" not in c.get("/reports/product", params={"sku": "GRD-001"}).text


def _plugin(**hooks):
    module = types.ModuleType("crm_oldstyle")
    for name, fn in hooks.items():
        setattr(module, name, hookimpl(fn))
    return module


def test_a_report_registered_without_params_gets_them_as_before(make_crm, web_user, tmp_path):
    (tmp_path / "echo.html").write_text("<html><body><p>{{ seen }}</p></body></html>")

    def crm_register_reports(register):
        register("echo", "echo.html", "echoes its params", lambda crm, params: {"seen": sorted(params.items())})
        register("typed", "echo.html", "declared as dicts", lambda crm, params: {"seen": sorted(params.items())},
                 params=[{"name": "n", "type": "int", "min": 2}, ReportParam("d", type="date")])

    def crm_register_template_dirs(register):
        register(str(tmp_path))

    crm = make_crm(plugins=[_plugin(crm_register_reports=crm_register_reports, crm_register_template_dirs=crm_register_template_dirs)])
    assert crm.registry.reports["echo"].params is None
    assert "[(&#39;anything&#39;, &#39;x&#39;)]" in reports.render(crm, "echo", {"anything": "x"})
    c = web_user(crm, "viewer")
    r = c.get("/reports/echo?anything=x")
    assert r.status_code == 200 and "anything" in r.text and "<form" not in r.text
    assert c.get("/reports/typed?n=1").status_code == 400
    r = c.get("/reports/typed?n=3&d=2025-02-01")
    assert "[(&#39;d&#39;, &#39;2025-02-01&#39;), (&#39;n&#39;, &#39;3&#39;)]" in r.text


def test_a_malformed_parameter_declaration_names_the_plugin(make_crm):
    from crmcore import PluginError

    def crm_register_reports(register):
        register("bad", "x.html", "", None, params=[{"name": "n", "type": "colour"}])

    with pytest.raises(PluginError, match=r"oldstyle.*report parameter .n.: type .colour. is not one of text, int, date, choice"):
        make_crm(plugins=[_plugin(crm_register_reports=crm_register_reports)])
