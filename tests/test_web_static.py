"""Plugins' static files in `crm serve` (the `crm_register_static` hook):
served under /static/plugins/NAME/ with the core's static headers and
access, nothing outside the plugin's folder, nothing of a disabled plugin."""

import os
import types

import pytest

import crm_service
from crmcore import CRMError, hookimpl

pytest.importorskip("httpx")
from starlette.testclient import TestClient  # noqa: E402

from crmcore.web.app import create_app  # noqa: E402

SERVICE_CSS = "/static/plugins/service/service.css"


def plugin(name, folder):
    module = types.ModuleType(f"crm_{name}")
    module.crm_register_static = hookimpl(lambda register: register(folder))
    return module


@pytest.fixture
def gift(make_crm, tmp_path):
    """A plugin serving tmp/gift/public; a secret file lies next to that folder."""
    public = tmp_path / "gift" / "public"
    public.mkdir(parents=True)
    (public / "gift.css").write_text(".gift { color: teal; }")
    (tmp_path / "gift" / "secret.txt").write_text("the secret")
    os.symlink(tmp_path / "gift" / "secret.txt", public / "link.txt")
    return make_crm(plugins=[crm_service, plugin("gift", str(public))])


def test_a_plugins_file_is_served_with_the_core_static_headers_without_login(gift):
    c = TestClient(create_app(gift))
    core = c.get("/static/crm.css")
    for path, text in ((SERVICE_CSS, ".svc-"), ("/static/plugins/gift/gift.css", ".gift { color: teal; }")):
        r = c.get(path)
        assert r.status_code == 200 and text in r.text and r.headers["content-type"].startswith("text/css")
        for header in ("content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options"):
            assert r.headers[header] == core.headers[header]
        assert "cache-control" not in r.headers and "cache-control" not in core.headers  # (pages say no-store)
    # the Internet-facing instance serves static files as the core's
    public = TestClient(create_app(gift, public_only=True))
    assert public.get(SERVICE_CSS).status_code == 200 and public.get("/static/crm.css").status_code == 200
    assert public.get("/contacts").status_code == 404


@pytest.mark.parametrize("path", [
    "/static/plugins/gift/../secret.txt", "/static/plugins/gift/..%2fsecret.txt", "/static/plugins/gift/%2e%2e/secret.txt",
    "/static/plugins/gift/%2e%2e%2fsecret.txt", "/static/plugins/gift/link.txt", "/static/plugins/gift//etc/passwd",
    "/static/plugins/gift/..%5csecret.txt", "/static/plugins/service/../../__init__.py", "/static/plugins/service/%2e%2e/__init__.py",
    "/static/plugins/../plugins/gift/../secret.txt", "/static/plugins/gift/nothing.css",
])
def test_nothing_outside_a_plugins_folder_is_served(gift, path):
    c = TestClient(create_app(gift))
    r = c.get(path)
    assert r.status_code == 404 and "the secret" not in r.text and "hookimpl" not in r.text


def test_a_disabled_plugins_files_are_not_served(gift):
    gift.set_enabled("service", False)
    c = TestClient(create_app(gift))
    assert c.get(SERVICE_CSS).status_code == 404
    assert c.get("/static/plugins/gift/gift.css").status_code == 200


def test_the_service_pages_use_the_served_stylesheet(gift, web_user):
    c = web_user(gift, "service")
    page = c.get("/service")
    assert page.status_code == 200
    head = page.text.split("</head>")[0]
    assert f'<link rel="stylesheet" href="{SERVICE_CSS}">' in head
    assert c.get("/service/service.css").status_code == 404  # the old route is gone


def test_a_missing_folder_or_a_second_one_is_a_clear_error(make_crm, tmp_path):
    crm = make_crm(plugins=[plugin("nofolder", str(tmp_path / "nope"))])
    with pytest.raises(CRMError, match=r"plugin nofolder: static folder .*nope.* does not exist"):
        create_app(crm)
    twice = types.ModuleType("crm_twice")

    def crm_register_static(register):
        register(str(tmp_path))
        register(str(tmp_path))

    twice.crm_register_static = hookimpl(crm_register_static)
    crm = make_crm(plugins=[twice], name="twice.db")
    with pytest.raises(CRMError, match="plugin twice: registers a second static folder"):
        create_app(crm)
