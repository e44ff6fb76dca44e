"""The JSON API of `crm serve`: bearer tokens, every endpoint and role, keyset
paging, JSON errors, the OpenAPI description, and the territory rule (a sales
user gets 404 outside their territories, in lists, gets, search and segment members)."""

import json

import pytest

from crmcore import tokens, users
from crmcore.entities import Contact, Deal
from starlette.testclient import TestClient  # noqa: E402
from test_web import PASSWORD, ROLES, fast_hashes, shop  # noqa: F401  (fixtures)

from crmcore.web.app import create_app  # noqa: E402


def api(crm, role):
    c = TestClient(create_app(crm), base_url="http://testserver")
    c.headers["Authorization"] = "Bearer " + tokens.create_token(crm, f"{role}@example.com", "tests")
    return c


def ids_of(r):
    assert r.status_code == 200, r.text
    return sorted(x["id"] for x in r.json()["items"])


def test_tokens_are_stored_hashed_and_refused_when_wrong_revoked_or_disabled(shop):
    token = tokens.create_token(shop, "admin@example.com", "zapier")
    assert token.startswith("crm_") and len(token) > 40
    assert shop.store.query_value("SELECT count(*) FROM _crm_api_tokens WHERE token_hash = ?", (token,)) == 0
    c = TestClient(create_app(shop))
    assert c.get("/api/contacts", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"}):
        r = c.get("/api/contacts", headers=headers)
        assert r.status_code == 401 and "bearer token" in r.json()["error"] and r.headers["www-authenticate"] == "Bearer"
    c.cookies.set("crm_session", "x")
    assert c.get("/api/contacts").status_code == 401  # a session cookie does not open the API
    users.disable_user(shop, "admin@example.com")
    assert c.get("/api/contacts", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    token2 = tokens.create_token(shop, "viewer@example.com")
    tokens.revoke_token(shop, tokens.list_tokens(shop)[-1]["id"])
    assert c.get("/api/contacts", headers={"Authorization": f"Bearer {token2}"}).status_code == 401


def test_every_api_route_refuses_an_anonymous_request(shop):
    app = create_app(shop)
    c = TestClient(app)
    checked = 0
    for route in app.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/api/"):
            continue
        concrete = path.replace("{id:int}", str(shop.ids["mine"])).replace("{name}", "vip").replace("{rest:path}", "x")
        for method in route.methods - {"HEAD"}:
            r = c.request(method, concrete, json={} if method in ("POST", "PATCH") else None)
            assert r.status_code == 401 and r.json()["error"], (method, path)
            checked += 1
    assert checked >= 20


def test_tokens_create_command(run_cli):
    run_cli(["init"])
    run_cli(["users", "add", "ann@example.com", "--role", "sales", "--password-stdin"], input=PASSWORD + "\n")
    r = run_cli(["tokens", "create", "--user", "ann@example.com", "--name", "shop sync"])
    assert r.exit_code == 0 and r.output.startswith("crm_")
    listed = json.loads(run_cli(["tokens", "list", "--json"]).output)
    assert [(t["user"], t["name"]) for t in listed] == [("ann@example.com", "shop sync")]
    assert r.output.strip() not in run_cli(["tokens", "list"]).output
    r = run_cli(["tokens", "create", "--user", "nobody@example.com"])
    assert r.exit_code == 1 and "no user" in r.output


# -- reading -------------------------------------------------------------------------

READABLE = {
    "admin": {"contacts", "companies", "deals", "activities", "orders"},
    "manager": {"contacts", "companies", "deals", "activities", "orders"},
    "viewer": {"contacts", "companies", "deals", "activities", "orders"},
    "sales": {"contacts", "companies", "deals", "activities", "orders"},
    "service": {"contacts", "activities"},
}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reads_exactly_its_resources(shop, role):
    c = api(shop, role)
    for table in ("contacts", "companies", "deals", "activities", "orders"):
        r = c.get(f"/api/{table}")
        if table in READABLE[role]:
            assert r.status_code == 200 and "items" in r.json(), (role, table)
        else:
            assert r.status_code == 403 and table in r.json()["error"], (role, table)


def test_sales_gets_404_outside_their_scope_and_sees_only_their_records(shop):
    c = api(shop, "sales")
    mine, theirs = shop.ids["mine"], shop.ids["theirs"]
    assert ids_of(c.get("/api/contacts")) == [mine]
    assert c.get(f"/api/contacts/{mine}").json()["email"] == "sam@example.com"
    r = c.get(f"/api/contacts/{theirs}")
    assert r.status_code == 404 and r.json()["error"]
    assert c.get("/api/contacts?q=tara").json()["items"] == []
    assert [x["title"] for x in c.get("/api/deals").json()["items"]] == ["Mine deal"]
    assert c.get("/api/orders").json()["items"] == []  # the only order is Tara's
    assert [x["name"] for x in c.get("/api/companies").json()["items"]] == ["Acme"]
    their_deal = shop.store.query_value("SELECT id FROM deals WHERE title = 'Their deal'")
    assert c.get(f"/api/deals/{their_deal}").status_code == 404
    assert c.patch(f"/api/deals/{their_deal}", json={"stage": "won"}).status_code == 404
    assert c.delete(f"/api/deals/{their_deal}").status_code == 404
    assert c.patch(f"/api/contacts/{theirs}", json={"city": "X"}).status_code == 404
    assert c.post("/api/activities", json={"contact_id": theirs, "subject": "x"}).status_code == 404
    assert shop.get("deals", their_deal)["stage"] == "proposal"
    manager = api(shop, "manager")
    assert ids_of(manager.get("/api/contacts")) == [mine, theirs]
    assert manager.get(f"/api/orders/{shop.store.query_value('SELECT id FROM orders')}").json()["ref"] == "T-1"


def test_keyset_paging(shop):
    shop.add_many([Contact(first_name=f"P{i}", email=f"p{i}@example.com") for i in range(7)])
    c = api(shop, "admin")
    seen, after = [], None
    while True:
        page = c.get("/api/contacts", params={"limit": 3, **({"after": after} if after else {})}).json()
        seen += [x["id"] for x in page["items"]]
        assert len(page["items"]) <= 3
        after = page["next_after"]
        if after is None:
            break
    assert seen == sorted(r["id"] for r in shop.store.query("SELECT id FROM contacts")) and len(seen) == 9
    for bad in ("limit=0", "limit=501", "limit=x", "after=-1", "after=abc"):
        r = c.get(f"/api/contacts?{bad}")
        assert r.status_code == 400 and r.json()["error"].startswith("?"), bad


# -- writing -------------------------------------------------------------------------


def test_create_update_delete_a_contact_with_history(shop):
    c = api(shop, "manager")
    r = c.post("/api/contacts", json={"first_name": "Ivy", "email": "IVY@example.com", "tags": ["b2b"], "country": "Austria"})
    assert r.status_code == 201, r.text
    ivy = r.json()
    assert (ivy["email"], ivy["country"], ivy["tags"]) == ("ivy@example.com", "AT", ["b2b"])
    assert r.headers["location"] == f"/api/contacts/{ivy['id']}"
    r = c.patch(f"/api/contacts/{ivy['id']}", json={"city": "Wien", "owner": "sales@example.com"})
    assert r.status_code == 200 and r.json()["city"] == "Wien"
    assert [(h["user"], h["action"]) for h in shop.history("contacts", ivy["id"])] == [
        ("manager@example.com", "add"), ("manager@example.com", "update")]
    assert c.delete(f"/api/contacts/{ivy['id']}").status_code == 204
    assert shop.get("contacts", ivy["id"]) is None
    assert c.get(f"/api/contacts/{ivy['id']}").status_code == 404


def test_bad_input_gets_a_json_error_and_writes_nothing(shop):
    c = api(shop, "admin")
    before = shop.store.query_value("SELECT count(*) FROM contacts")
    cases = [
        (c.post, "/api/contacts", {"email": "not an address"}, "email"),
        (c.post, "/api/contacts", {"shoe_size": 42}, "unknown field 'shoe_size'"),
        (c.post, "/api/contacts", {"id": 5}, "'id' is set by the CRM"),
        (c.post, "/api/deals", {"title": "x", "stage": "nowhere"}, "stage"),
        (c.post, "/api/deals", {"title": "x", "amount": -1}, "amount"),
        (c.patch, f"/api/contacts/{shop.ids['mine']}", {"birth_date": "31/31/2020"}, "birth_date"),
    ]
    for method, path, body, words in cases:
        r = method(path, json=body)
        assert r.status_code == 400 and words in r.json()["error"], (path, body, r.text)
    for raw in (b"[1, 2]", b"{not json", b'"text"'):
        r = c.post("/api/contacts", content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json() == {"error": "the body must be a JSON object"}
    assert c.get("/api/nothing-here").status_code == 404 and c.get("/api/nothing-here").json()["error"]
    assert shop.store.query_value("SELECT count(*) FROM contacts") == before
    assert shop.get("contacts", shop.ids["mine"])["birth_date"] is None


def test_sales_writes_stay_theirs_and_land_in_the_contacts_history(shop):
    c = api(shop, "sales")
    mine = shop.ids["mine"]
    r = c.post("/api/contacts", json={"first_name": "Neo"})
    assert r.status_code == 201 and r.json()["owner"] == "sales@example.com"
    r = c.post("/api/contacts", json={"first_name": "Gift", "owner": "someone@example.com"})
    assert r.status_code == 403 and "another owner" in r.json()["error"]
    assert c.patch(f"/api/contacts/{mine}", json={"owner": "someone@example.com"}).status_code == 403
    deal = c.post("/api/deals", json={"title": "API deal", "contact_id": mine, "amount": 70}).json()
    assert (deal["owner"], deal["stage"], deal["status"]) == ("sales@example.com", "lead", "open")
    r = c.patch(f"/api/deals/{deal['id']}", json={"stage": "won"})
    assert r.status_code == 200 and (r.json()["stage"], r.json()["status"]) == ("won", "won")
    act = c.post("/api/activities", json={"contact_id": mine, "kind": "call", "subject": "Rang"}).json()
    assert c.patch(f"/api/activities/{act['id']}", json={"body": "left a message"}).json()["body"] == "left a message"
    assert c.delete(f"/api/activities/{act['id']}").status_code == 204
    assert c.delete(f"/api/contacts/{mine}").status_code == 403  # sales cannot delete contacts
    history = [(h["user"], h["action"]) for h in shop.history("contacts", mine)]
    assert history == [("sales@example.com", a) for a in ("add deal", "update deal", "add activity", "update activity",
                                                             "delete activity")]


@pytest.mark.parametrize("role", ["viewer", "service"])
def test_read_only_roles_cannot_write(shop, role):
    c = api(shop, role)
    mine = shop.ids["mine"]
    assert c.post("/api/contacts", json={"first_name": "X"}).status_code == 403
    assert c.patch(f"/api/contacts/{mine}", json={"first_name": "X"}).status_code == 403
    assert c.delete(f"/api/contacts/{mine}").status_code == 403
    assert c.post("/api/deals", json={"title": "X"}).status_code == 403
    assert shop.store.query_value("SELECT count(*) FROM contacts WHERE first_name = 'X'") == 0


def test_companies_and_orders_are_read_only(shop):
    c = api(shop, "admin")
    assert c.post("/api/companies", json={"name": "X"}).status_code in (404, 405)
    assert c.delete(f"/api/orders/{shop.store.query_value('SELECT id FROM orders')}").status_code in (404, 405)
    assert shop.store.query_value("SELECT count(*) FROM orders") == 1


def test_openapi_describes_every_endpoint(shop):
    doc = api(shop, "viewer").get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for table in ("contacts", "deals", "activities"):
        assert set(doc["paths"][f"/api/{table}"]) == {"get", "post"}
        assert {"get", "patch", "delete"} <= set(doc["paths"][f"/api/{table}/{{id}}"])
    for table in ("companies", "orders"):
        assert set(doc["paths"][f"/api/{table}"]) == {"get"}
    assert "/api/segments/{name}/members" in doc["paths"]
    assert doc["components"]["schemas"]["Contact"]["properties"]["email"]["type"] == "string"


def test_segment_members_need_the_segments_plugin(shop):
    r = api(shop, "admin").get("/api/segments/vip/members")
    assert r.status_code == 404 and "segments plugin" in r.json()["error"]


def test_segment_members_follow_the_territory_rule(make_crm, fast_hashes):  # noqa: F811
    import crm_segments
    from crm_segments import segments, territories

    crm = make_crm(plugins=[crm_segments])
    territories.add(crm, "North", countries=["DE"], postal_prefixes=["20"])
    hamburg = crm.add(Contact(first_name="Hanna", country="DE", postal_code="20095", tags=["vip"]))
    munich = crm.add(Contact(first_name="Max", country="DE", postal_code="80331", tags=["vip"]))
    crm.add(Contact(first_name="Plain", country="DE", postal_code="20099"))
    crm.add(Deal(title="Munich deal", contact_id=munich))
    segments.create_segment(crm, "vip", rule="tags contains 'vip'")
    users.add_user(crm, "sales@example.com", "sales", PASSWORD, territories=["North"])
    users.add_user(crm, "manager@example.com", "manager", PASSWORD)
    sales, manager = api(crm, "sales"), api(crm, "manager")
    assert ids_of(manager.get("/api/segments/vip/members")) == [hamburg, munich]
    assert ids_of(sales.get("/api/segments/vip/members")) == [hamburg]
    assert sales.get(f"/api/contacts/{munich}").status_code == 404
    assert sales.get("/api/contacts?q=max").json()["items"] == []
    page = manager.get("/api/segments/vip/members?limit=1").json()
    assert [x["id"] for x in page["items"]] == [hamburg] and page["next_after"] == hamburg
    assert ids_of(manager.get(f"/api/segments/vip/members?after={hamburg}")) == [munich]
    r = manager.get("/api/segments/nosuch/members")
    assert r.status_code == 404 and "nosuch" in r.json()["error"]
