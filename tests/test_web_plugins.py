"""Every built-in plugin's pages in `crm serve` together: each route refuses an
anonymous request, each role opens exactly the pages its permissions allow,
and hostile values in plugin records render inert."""

import re

import pytest

import crm_exports
import crm_products
import crm_segments
import crm_surveys
from crm_products import catalogue
from crm_segments import segments
from crm_surveys.definitions import create_survey
from crmcore.entities import Contact

pytest.importorskip("httpx")
from starlette.testclient import TestClient  # noqa: E402

from crmcore.web.app import create_app  # noqa: E402

HOSTILE = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>{{7*7}}"


@pytest.fixture
def full(make_crm):
    crm = make_crm(plugins=[crm_products, crm_segments, crm_surveys, crm_exports])
    crm.add(Contact(first_name=HOSTILE, email="h@example.com", consent=True))
    catalogue.add(crm, {"sku": "S-1", "name": HOSTILE, "category": HOSTILE, "description": HOSTILE})
    segments.create_segment(crm, "all", rule="email contains '@'", description=HOSTILE)
    create_survey(crm, "pulse", HOSTILE, [{"key": "nps", "type": "nps", "text": HOSTILE}])
    return crm


PLUGIN_PAGES = {
    "/products": {"admin", "manager", "sales", "viewer"},
    "/products/S-1": {"admin", "manager", "sales", "viewer"},
    "/segments": {"admin", "manager", "viewer"},
    "/segments/all": {"admin", "manager", "viewer"},
    "/segments/new": {"admin", "manager"},
    "/segments/all/edit": {"admin", "manager"},
    "/surveys": {"admin", "manager", "viewer"},
    "/surveys/pulse": {"admin", "manager", "viewer"},
    "/exports": {"admin", "manager", "sales"},
}


def test_every_route_of_every_plugin_refuses_an_anonymous_request(full):
    app = create_app(full)
    c = TestClient(app)
    plugin_routes = [r for r in app.state.web.routes if r.plugin == "plugin"]
    assert len(plugin_routes) >= 10
    for route in app.state.web.routes:
        if route.path == "/login" or route.permission == "public":
            assert route.path == "/login" or route.path.startswith(("/s/", "/unsubscribe/"))
            continue
        path = (route.path.replace("{id:int}", "1").replace("{name}", "all").replace("{sku:path}", "S-1")
                .replace("{token}", "x" * 22))
        for method in route.methods:
            r = c.request(method, path, follow_redirects=False)
            expected = (303,) if method == "GET" else (401,)
            assert r.status_code in expected, (method, path, r.status_code)


@pytest.mark.parametrize("role", ["admin", "manager", "sales", "service", "viewer"])
def test_each_role_opens_exactly_its_plugin_pages(full, web_user, role):
    c = web_user(full, role)
    home = c.get("/").text
    for path, roles in PLUGIN_PAGES.items():
        r = c.get(path)
        assert r.status_code == (200 if role in roles else 403), (role, path, r.status_code)
        if r.status_code == 200:
            assert "<script>alert" not in r.text and "<img" not in r.text and not re.search(r"(?<![\w:.-])49(?![\w:.-])", r.text), (role, path)
    for menu_path in ("/products", "/segments", "/surveys", "/exports"):
        assert (f'href="{menu_path}"' in home) == (role in PLUGIN_PAGES[menu_path]), (role, menu_path)


def test_a_plugin_cannot_declare_a_malformed_permission(make_crm):
    from crmcore import CRMError, hookimpl

    class Bad:
        @hookimpl
        def crm_register_permissions(self, register):
            register("nocolon", ["manager"])

    with pytest.raises(CRMError, match="AREA:ACTION"):
        create_app(make_crm(plugins=[("bad", Bad())]))
