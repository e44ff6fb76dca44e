"""`crm serve`: login, sessions, CSRF, roles, the access filter, public links.

Every route of the app is exercised through Starlette's TestClient on the
store under test (``--store=postgres`` runs the same tests on PostgreSQL)."""

import json
import re

import pytest

from crmcore import links, users
from crmcore.entities import Activity, Company, Contact, Deal, Order

pytest.importorskip("httpx")
from starlette.testclient import TestClient  # noqa: E402

from crmcore.web.app import create_app  # noqa: E402

PASSWORD = "correct horse battery"
ROLES = ("admin", "manager", "sales", "service", "viewer")


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch):
    """argon2 with small costs: the tests check the flow, not the hash's strength."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(users, "_hasher", lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def shop(make_crm):
    """A core-only CRM with one user per role; the sales user owns Sam's contact and deal."""
    crm = make_crm()
    crm.set_setting("base_url", "https://crm.example.com")
    acme = crm.add(Company(name="Acme", owner="sales@example.com"))
    crm.add(Company(name="Other Co"))
    mine = crm.add(Contact(first_name="Sam", last_name="Mine", email="sam@example.com", owner="sales@example.com", company_id=acme))
    theirs = crm.add(Contact(first_name="Tara", last_name="Theirs", email="tara@example.com", owner="someone@example.com"))
    crm.add(Deal(title="Mine deal", contact_id=mine, amount=100, owner="sales@example.com"))
    crm.add(Deal(title="Their deal", contact_id=theirs, amount=900, owner="someone@example.com", stage="proposal"))
    crm.add(Activity(contact_id=mine, kind="task", subject="Call Sam back", owner="sales@example.com", due_at="2020-01-01T09:00:00"))
    crm.add(Activity(contact_id=theirs, kind="task", subject="Call Tara", owner="someone@example.com"))
    crm.add(Order(contact_id=theirs, ordered_at="2024-01-02", total=50, ref="T-1"))
    for role in ROLES:
        users.add_user(crm, f"{role}@example.com", role, PASSWORD)
    crm.ids = {"mine": mine, "theirs": theirs}
    return crm


def client(crm, **kwargs):
    return TestClient(create_app(crm, **kwargs), base_url="http://testserver")


def csrf_of(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(crm, role, **kwargs):
    c = client(crm, **kwargs)
    page = c.get("/login")
    r = c.post("/login", data={"email": f"{role}@example.com", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
               follow_redirects=False)
    assert r.status_code == 303, r.text
    c.csrf = csrf_of(c.get("/").text)
    return c


def concrete(path, crm):
    """A route path with its parameters filled in."""
    return (path.replace("{id:int}", str(crm.ids["mine"])).replace("{name}", "dashboard").replace("{token}", "x" * 22))


# -- anonymous ----------------------------------------------------------------------


def test_every_route_but_login_and_public_links_refuses_an_anonymous_request(shop):
    app = create_app(shop)
    c = TestClient(app)
    checked = 0
    for route in app.state.web.routes:
        if route.path == "/login" or route.path.startswith(("/s/", "/unsubscribe/")):
            continue
        path = concrete(route.path, shop)
        for method in route.methods:
            r = c.request(method, path, follow_redirects=False)
            if method == "GET":
                assert r.status_code == 303 and r.headers["location"].startswith("/login"), (method, path, r.status_code)
            else:
                assert r.status_code == 401, (method, path, r.status_code)
            checked += 1
    assert checked >= 10
    assert c.get("/static/crm.css").status_code == 200


def test_login_page_and_its_form_fields(shop):
    r = client(shop).get("/login")
    assert r.status_code == 200
    for field in ("email", "password", "csrf_token"):
        assert f'name="{field}"' in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "http" not in csp
    assert "<script" not in r.text and "//" not in r.text.replace("http://www.w3.org", "")


# -- login, sessions ----------------------------------------------------------------


def test_login_sets_a_httponly_lax_cookie_and_logout_ends_the_session(shop):
    c = client(shop)
    page = c.get("/login")
    r = c.post("/login", data={"email": "admin@example.com", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
               follow_redirects=False)
    cookie = r.headers["set-cookie"]
    assert "crm_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    token = c.cookies["crm_session"]
    assert shop.store.query_value("SELECT count(*) FROM _crm_sessions WHERE token_hash = ?", (token,)) == 0  # only its hash is kept
    csrf = csrf_of(c.get("/").text)
    assert c.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    c.cookies.set("crm_session", token)
    assert c.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_https_requests_get_a_secure_cookie(shop):
    c = TestClient(create_app(shop), base_url="https://testserver")
    page = c.get("/login")
    r = c.post("/login", data={"email": "admin@example.com", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
               follow_redirects=False)
    assert "Secure" in r.headers["set-cookie"]


def test_wrong_password_then_lockout_per_account(shop):
    c = client(shop)
    token = csrf_of(c.get("/login").text)
    for _ in range(users.MAX_FAILURES_ACCOUNT):
        r = c.post("/login", data={"email": "sales@example.com", "password": "wrong password!", "csrf_token": token})
        assert r.status_code == 400 and "wrong e-mail or password" in r.text
    r = c.post("/login", data={"email": "sales@example.com", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 429 and "too many failed logins" in r.text
    # another account from the same address still logs in
    r = c.post("/login", data={"email": "viewer@example.com", "password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303


def test_lockout_per_address(shop, monkeypatch):
    monkeypatch.setattr(users, "MAX_FAILURES_IP", 3)
    c = client(shop)
    token = csrf_of(c.get("/login").text)
    for n in range(3):
        c.post("/login", data={"email": f"nobody{n}@example.com", "password": "x" * 12, "csrf_token": token})
    r = c.post("/login", data={"email": "admin@example.com", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 429


def test_idle_and_absolute_timeouts(shop):
    c = login(shop, "admin")
    assert c.get("/", follow_redirects=False).status_code == 200
    shop.store.execute("UPDATE _crm_sessions SET seen_at = '2000-01-01T00:00:00'")
    assert c.get("/", follow_redirects=False).status_code == 303
    c = login(shop, "admin")
    shop.store.execute("UPDATE _crm_sessions SET created_at = '2000-01-01T00:00:00'")
    assert c.get("/", follow_redirects=False).status_code == 303


def test_disabled_user_is_logged_out(shop):
    c = login(shop, "sales")
    users.disable_user(shop, "sales@example.com")
    assert c.get("/", follow_redirects=False).status_code == 303


def test_login_redirects_only_to_local_paths(shop):
    c = client(shop)
    token = csrf_of(c.get("/login").text)
    r = c.post("/login", data={"email": "admin@example.com", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"},
               follow_redirects=False)
    assert r.headers["location"] == "/"


# -- CSRF ---------------------------------------------------------------------------


def test_posts_without_the_csrf_token_are_refused(shop):
    c = client(shop)
    c.get("/login")
    r = c.post("/login", data={"email": "admin@example.com", "password": PASSWORD})
    assert r.status_code == 403
    c = login(shop, "admin")
    assert c.post("/logout", data={}).status_code == 403
    assert c.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert c.get("/", follow_redirects=False).status_code == 200  # still logged in


# -- roles --------------------------------------------------------------------------

PAGES = ["/", "/contacts", "/contacts/{mine}", "/companies", "/deals", "/reports", "/reports/dashboard", "/admin/users",
         "/admin/plugins"]
ALLOWED = {
    "admin": set(PAGES),
    "manager": set(PAGES[:7]),
    "viewer": set(PAGES[:7]),
    "sales": {"/", "/contacts", "/contacts/{mine}", "/companies", "/deals"},
    "service": {"/", "/contacts", "/contacts/{mine}"},
}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_exactly_its_pages(shop, role):
    c = login(shop, role)
    for page in PAGES:
        r = c.get(page.format(mine=shop.ids["mine"]), follow_redirects=False)
        expected = 200 if page in ALLOWED[role] else 403
        assert r.status_code == expected, (role, page, r.status_code)


def test_sales_sees_only_their_own_contacts_deals_and_companies(shop):
    c = login(shop, "sales")
    assert c.get(f"/contacts/{shop.ids['mine']}").status_code == 200
    assert c.get(f"/contacts/{shop.ids['theirs']}").status_code == 404
    listing = c.get("/contacts").text
    assert "Sam" in listing and "Tara" not in listing
    assert "Tara" not in c.get("/contacts?q=tara").text
    assert "Sam Mine" in c.get("/contacts?q=sam").text
    board = c.get("/deals").text
    assert "Mine deal" in board and "Their deal" not in board
    companies = c.get("/companies").text
    assert "Acme" in companies and "Other Co" not in companies
    home = c.get("/").text
    assert "Call Sam back" in home and "Call Tara" not in home


def test_manager_sees_every_contact(shop):
    c = login(shop, "manager")
    assert c.get(f"/contacts/{shop.ids['theirs']}").status_code == 200
    assert "Tara" in c.get("/contacts?q=tara").text


def test_the_access_filter_refuses_unknown_and_malformed_ids(shop):
    c = login(shop, "admin")
    assert c.get("/contacts/999999").status_code == 404
    assert c.get("/contacts?after=abc").status_code == 400


# -- listing ------------------------------------------------------------------------


def test_contacts_page_by_keyset_cursor(shop):
    shop.add_many([Contact(first_name=f"P{i:03d}", email=f"p{i}@example.com") for i in range(60)])
    c = login(shop, "admin")
    first = c.get("/contacts").text
    after = re.search(r'/contacts\?after=(\d+)', first).group(1)
    ids = [int(x) for x in re.findall(r'href="/contacts/(\d+)"', first)]
    assert len(ids) == 50 and int(after) == ids[-1]
    second = c.get(f"/contacts?after={after}").text
    rest = [int(x) for x in re.findall(r'href="/contacts/(\d+)"', second)]
    assert len(rest) == 12 and min(rest) > ids[-1]  # 2 + 60 contacts in all
    assert "?after=" not in second  # the last page has no next link


# -- hostile values -----------------------------------------------------------------


def test_hostile_values_render_inert(shop):
    cid = shop.add(Contact(first_name="<script>alert(1)</script>", last_name='"><img src=x onerror=alert(2)>',
                           company="{{7*7}}", notes="{% raw %}x", email="evil@example.com", custom={"k": "<b>bold</b>"}))
    c = login(shop, "admin")
    for page in (f"/contacts/{cid}", "/contacts", "/contacts?q=evil", "/contacts?q=%3Cscript%3E"):
        html = c.get(page).text
        assert "<script>" not in html and "<img" not in html and "<b>bold" not in html, page
        assert "&lt;script&gt;" in html or "&lt;script&gt;" in c.get("/contacts?q=evil").text
        assert not re.search(r"(?<![\w:.-])49(?![\w:.-])", html)  # {{7*7}} never evaluated (random tokens and clock times may hold "49")
    html = c.get(f"/contacts/{cid}").text
    assert "{{7*7}}" in html and "&#34;&gt;&lt;img" in html


# -- debug footer -------------------------------------------------------------------


def test_debug_footer_shows_query_time(shop):
    c = login(shop, "admin", debug=True)
    assert re.search(r"\d+ queries, [\d.]+ ms in the database", c.get("/contacts").text)
    assert "ms in the database" not in login(shop, "admin").get("/contacts").text


# -- public links -------------------------------------------------------------------


def test_unsubscribe_link_confirm_page_and_one_click(shop):
    url = links.unsubscribe_url(shop, shop.ids["mine"])
    assert url.startswith("https://crm.example.com/unsubscribe/")
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 22
    assert shop.store.query_value("SELECT count(*) FROM _crm_link_tokens WHERE token_hash = ?", (token,)) == 0
    c = client(shop)
    page = c.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and "sam@example.com" in page.text and "List-Unsubscribe" in page.text
    assert not shop.is_suppressed("sam@example.com")
    # RFC 8058: a bare POST with the one-click body, no cookie, no CSRF token
    r = c.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200 and "You are unsubscribed" in r.text
    assert shop.is_suppressed("sam@example.com")
    row = shop.store.query("SELECT reason, at FROM suppressions")[0]
    assert row["reason"] == "unsubscribed (one-click)" and row["at"]
    audit = shop.store.query("SELECT \"user\", action, changes FROM _crm_audit WHERE table_name = 'contacts' AND record_id = ?",
                             (shop.ids["mine"],))
    assert [(a["user"], a["action"]) for a in audit] == [("tester", "create"), ("public link", "update"), ("public link", "unsubscribe")]
    assert json.loads(audit[1]["changes"])["consent_source"][1] == "unsubscribed (one-click)"  # the withdrawal
    assert c.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 200  # twice is harmless


def test_unsubscribe_refuses_unknown_tokens_and_other_bodies(shop):
    c = client(shop)
    assert c.get("/unsubscribe/nosuchtoken").status_code == 404
    assert c.post("/unsubscribe/nosuchtoken", data={"List-Unsubscribe": "One-Click"}).status_code == 404
    token = links.new_token(shop, shop.ids["mine"], links.UNSUBSCRIBE)
    assert c.post(f"/unsubscribe/{token}", data={"something": "else"}).status_code == 400
    assert not shop.is_suppressed("sam@example.com")
    other_purpose = links.new_token(shop, shop.ids["mine"], "survey")
    assert c.get(f"/unsubscribe/{other_purpose}").status_code == 404


def test_public_only_serves_only_public_links(shop):
    c = client(shop, public_only=True)
    assert c.get("/login").status_code == 404
    assert c.get("/contacts").status_code == 404
    token = links.new_token(shop, shop.ids["mine"], links.UNSUBSCRIBE)
    assert c.get(f"/unsubscribe/{token}").status_code == 200
    assert c.get("/static/crm.css").status_code == 200


def test_erasing_a_contact_drops_its_link_tokens(shop):
    links.new_token(shop, shop.ids["mine"], links.UNSUBSCRIBE)
    shop.erase_contact(shop.ids["mine"])
    assert shop.store.query_value("SELECT count(*) FROM _crm_link_tokens") == 0


# -- commands -----------------------------------------------------------------------


def test_users_commands(run_cli):
    assert run_cli(["init"]).exit_code == 0
    r = run_cli(["users", "add", "Boss@Example.com", "--role", "admin", "--password-stdin"], input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    r = run_cli(["users", "add", "s@example.com", "--role", "sales", "--territory", "North", "--password-stdin"], input="short\n")
    assert r.exit_code == 1 and "at least 10 characters" in r.output
    assert run_cli(["users", "add", "s@example.com", "--role", "sales", "--territory", "North", "--password-stdin"],
                   input=PASSWORD + "\n").exit_code == 0
    r = run_cli(["users", "add", "boss@example.com", "--role", "viewer", "--password-stdin"], input=PASSWORD + "\n")
    assert r.exit_code == 1 and "exists already" in r.output
    import json

    listed = json.loads(run_cli(["users", "list", "--json"]).output)
    assert [(u["email"], u["role"], u["territories"], u["active"]) for u in listed] == [
        ("boss@example.com", "admin", [], True), ("s@example.com", "sales", ["North"], True)]
    assert "password_hash" not in listed[0]
    assert run_cli(["users", "set-role", "s@example.com", "--role", "manager"]).exit_code == 0
    assert run_cli(["users", "disable", "s@example.com"]).exit_code == 0
    assert run_cli(["users", "set-password", "s@example.com", "--password-stdin"], input="another long one\n").exit_code == 0
    listed = json.loads(run_cli(["users", "list", "--json"]).output)
    assert (listed[1]["role"], listed[1]["active"]) == ("manager", True)
    r = run_cli(["users", "disable", "nobody@example.com"])
    assert r.exit_code == 1 and "no user" in r.output


def test_serve_refuses_a_database_without_an_admin(run_cli):
    run_cli(["init"])
    r = run_cli(["serve"])
    assert r.exit_code == 1 and "crm users add" in r.output and "--role admin" in r.output


def test_settings_and_unsubscribe_link_commands(run_cli):
    run_cli(["init"])
    run_cli(["contacts", "add", "--email", "ann@example.com"])
    r = run_cli(["unsubscribe-link", "ann@example.com"])
    assert r.exit_code == 1 and "crm settings set base_url" in r.output
    r = run_cli(["settings", "set", "base_url", "javascript:alert(1)"])
    assert r.exit_code == 1 and "http" in r.output
    assert run_cli(["settings", "set", "base_url", "https://crm.example.com/"]).exit_code == 0
    assert run_cli(["settings", "get", "base_url"]).output.strip() == "https://crm.example.com"
    r = run_cli(["unsubscribe-link", "ann@example.com"])
    assert r.exit_code == 0 and re.fullmatch(r"https://crm\.example\.com/unsubscribe/[A-Za-z0-9_-]{22,}\n", r.output)


# -- writes -------------------------------------------------------------------------


def test_logging_a_call_is_in_the_contacts_history_with_the_users_email(shop):
    c = login(shop, "sales")
    mine = shop.ids["mine"]
    r = c.post(f"/contacts/{mine}/activities", data={"kind": "call", "subject": "Asked about <b>prices</b>", "csrf_token": c.csrf},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/contacts/{mine}"
    logged = shop.store.query("SELECT kind, subject, owner FROM activities WHERE kind = 'call'")
    assert logged == [{"kind": "call", "subject": "Asked about <b>prices</b>", "owner": "sales@example.com"}]
    history = shop.store.query('SELECT "user", action FROM _crm_audit WHERE table_name = \'contacts\' AND record_id = ?', (mine,))
    assert [(h["user"], h["action"]) for h in history] == [("tester", "create"), ("sales@example.com", "log activity")]
    page = c.get(f"/contacts/{mine}").text
    assert "log activity by sales@example.com" in page and "&lt;b&gt;prices" in page and "<b>prices" not in page


def test_writes_are_refused_outside_scope_role_or_csrf(shop):
    theirs, mine = shop.ids["theirs"], shop.ids["mine"]
    sales = login(shop, "sales")
    assert sales.post(f"/contacts/{theirs}/activities", data={"subject": "x", "csrf_token": sales.csrf}).status_code == 404
    assert sales.post(f"/contacts/{mine}/activities", data={"subject": "x"}).status_code == 403
    assert sales.post(f"/contacts/{mine}/activities", data={"kind": "task", "subject": "x", "csrf_token": sales.csrf}).status_code == 400
    viewer = login(shop, "viewer")
    assert viewer.post(f"/contacts/{mine}/activities", data={"subject": "x", "csrf_token": viewer.csrf}).status_code == 403
    assert "Log it" not in viewer.get(f"/contacts/{mine}").text
    assert shop.store.query_value("SELECT count(*) FROM activities WHERE subject = 'x'") == 0


def test_admin_sees_users_but_never_their_password_hashes(shop):
    html = login(shop, "admin").get("/admin/users").text
    assert "sales@example.com" in html and "argon2" not in html
    assert 'href="/admin/users"' in html
    assert 'href="/admin/users"' not in login(shop, "manager").get("/").text


@pytest.mark.sqlite_only("several workers are refused on SQLite only")
def test_serve_refuses_several_workers_on_sqlite(run_cli):
    run_cli(["init"])
    assert run_cli(["users", "add", "a@example.com", "--role", "admin", "--password-stdin"], input=PASSWORD + "\n").exit_code == 0
    r = run_cli(["serve", "--workers", "2"])
    assert r.exit_code == 1 and "several workers need a PostgreSQL database" in r.output


def test_quickstart_creates_an_admin_who_can_log_in(run_cli, tmp_path):
    from crmcore.app import CRM

    r = run_cli(["quickstart", "--contacts", "30", "-o", str(tmp_path / "dash.html")])
    assert r.exit_code == 0, r.output
    password = re.search(r"admin@example\.com / (\S+)", r.output).group(1)
    with CRM(run_cli.db, plugins=[]) as crm:
        assert users.authenticate(crm, "admin@example.com", password, "127.0.0.1")["role"] == "admin"
