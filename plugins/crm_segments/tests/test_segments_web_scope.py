"""Territories decide which contacts a sales user sees in `crm serve` (through
the core's ``crm_contact_scope`` hook); without the plugin, ownership does."""

import re

import pytest

import crm_segments
from crm_segments import territories
from crmcore import access, users
from crmcore.entities import Contact, Deal

PASSWORD = "correct horse battery"


@pytest.fixture
def north(make_crm, monkeypatch):
    from argon2 import PasswordHasher

    monkeypatch.setattr(users, "_hasher", lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    crm = make_crm(plugins=[crm_segments])
    territories.add(crm, "North", countries=["DE"], postal_prefixes=["20", "22"])
    ids = {
        "hamburg": crm.add(Contact(first_name="Hanna", last_name="Hamburg", country="DE", postal_code="20095", owner="x@example.com")),
        "altona": crm.add(Contact(first_name="Alto", last_name="Altona", country="DE", postal_code="22765")),
        "munich": crm.add(Contact(first_name="Max", last_name="Munich", country="DE", postal_code="80331", owner="y@example.com")),
        "own": crm.add(Contact(first_name="Olga", last_name="Own", country="FR", owner="sales@example.com")),
    }
    crm.add(Deal(title="Munich deal", contact_id=ids["munich"], owner="y@example.com"))
    crm.add(Deal(title="Hamburg deal", contact_id=ids["hamburg"], owner="x@example.com"))
    users.add_user(crm, "sales@example.com", "sales", PASSWORD, territories=["North"])
    crm.ids = ids
    return crm


def visible(crm):
    user = users.get_user(crm, "sales@example.com")
    rows, _ = access.page(crm, user, "contacts")
    return {r["last_name"] for r in rows}


def test_sales_user_sees_their_territories_and_own_contacts(north):
    assert visible(north) == {"Hamburg", "Altona", "Own"}
    user = users.get_user(north, "sales@example.com")
    deals, _ = access.page(north, user, "deals")
    assert [d["title"] for d in deals] == ["Hamburg deal"]
    assert [c["last_name"] for c in access.search_contacts(north, user, "munich")] == []
    with pytest.raises(access.NotFound):
        access.get(north, user, "contacts", north.ids["munich"])


def test_a_territory_follows_its_rules_when_they_change(north):
    territories.add(north, "North", countries=["DE"], postal_prefixes=["80"], replace=True)
    assert visible(north) == {"Munich", "Own"}


def test_unknown_territory_adds_nothing(north):
    users.set_role(north, "sales@example.com", "sales", territories=["Nowhere"])
    assert visible(north) == {"Own"}


def test_with_the_plugin_disabled_ownership_alone_decides(north):
    north.set_enabled("segments", False)
    assert visible(north) == {"Own"}


def test_the_web_answers_404_outside_the_territory(north):
    from starlette.testclient import TestClient

    from crmcore.web.app import create_app

    c = TestClient(create_app(north))
    page = c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    c.post("/login", data={"email": "sales@example.com", "password": PASSWORD, "csrf_token": token})
    assert c.get(f"/contacts/{north.ids['hamburg']}").status_code == 200
    assert c.get(f"/contacts/{north.ids['munich']}").status_code == 404
    assert "Munich" not in c.get("/contacts?q=max").text
    assert "Hamburg" in c.get("/contacts?q=hanna").text
    board = c.get("/deals").text
    assert "Hamburg deal" in board and "Munich deal" not in board
