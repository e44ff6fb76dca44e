"""`crm serve` writes: add and edit a contact, create and move a deal.

Each goes through the access filter (404 outside the user's scope), needs the
session's CSRF token, and lands in the contact's history under the user's e-mail."""

import re

from test_web import PASSWORD, fast_hashes, login, shop  # noqa: F401  (fixtures)


def history(crm, cid):
    return [(h["user"], h["action"]) for h in crm.history("contacts", cid)]


def test_add_a_contact_from_the_form(shop):
    c = login(shop, "sales")
    form = c.get("/contacts/new")
    assert form.status_code == 200 and 'name="first_name"' in form.text and 'name="owner"' not in form.text
    r = c.post("/contacts/new", data={"first_name": "Nia", "last_name": "New", "email": "NIA@Example.com", "tags": "vip, b2b",
                                      "country": "Germany", "consent": "1", "owner": "someone@example.com", "csrf_token": c.csrf},
               follow_redirects=False)
    assert r.status_code == 303
    cid = int(r.headers["location"].rsplit("/", 1)[1])
    row = shop.get("contacts", cid)
    assert (row["email"], row["tags"], row["country"], row["consent"]) == ("nia@example.com", ["b2b", "vip"], "DE", True)
    assert row["owner"] == "sales@example.com"  # a sales user's new contact is theirs, whatever the form says
    assert row["consent_source"] == "web form (sales@example.com)" and row["consent_at"]
    assert history(shop, cid) == [("sales@example.com", "create")]
    assert c.get(f"/contacts/{cid}").status_code == 200  # and they can see it


def test_a_bad_value_comes_back_with_the_form_and_nothing_is_written(shop):
    c = login(shop, "manager")
    before = shop.store.query_value("SELECT count(*) FROM contacts")
    r = c.post("/contacts/new", data={"first_name": "<script>x</script>", "email": "not an address", "csrf_token": c.csrf})
    assert r.status_code == 400 and "E-mail:" in r.text and 'aria-invalid="true"' in r.text
    assert "&lt;script&gt;x" in r.text and "<script>x" not in r.text  # typed values come back, escaped
    assert shop.store.query_value("SELECT count(*) FROM contacts") == before


def test_edit_a_contact_records_the_change_with_the_users_email(shop):
    mine = shop.ids["mine"]
    c = login(shop, "sales")
    page = c.get(f"/contacts/{mine}/edit")
    assert page.status_code == 200 and 'value="Sam"' in page.text and 'value="sam@example.com"' in page.text
    r = c.post(f"/contacts/{mine}/edit", data={"first_name": "Samuel", "last_name": "Mine", "email": "sam@example.com",
                                               "city": "Köln", "csrf_token": c.csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/contacts/{mine}"
    row = shop.get("contacts", mine)
    assert (row["first_name"], row["city"], row["owner"]) == ("Samuel", "Köln", "sales@example.com")
    changes = shop.history("contacts", mine)[-1]
    assert (changes["user"], changes["action"]) == ("sales@example.com", "update")
    assert changes["changes"]["first_name"] == ["Sam", "Samuel"] and changes["changes"]["city"] == ["", "Köln"]
    assert "update by sales@example.com" in c.get(f"/contacts/{mine}").text


def test_a_manager_may_hand_a_contact_to_another_owner(shop):
    theirs = shop.ids["theirs"]
    c = login(shop, "manager")
    r = c.post(f"/contacts/{theirs}/edit", data={"first_name": "Tara", "email": "tara@example.com", "owner": "sales@example.com",
                                                 "csrf_token": c.csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert shop.get("contacts", theirs)["owner"] == "sales@example.com"
    assert login(shop, "sales").get(f"/contacts/{theirs}").status_code == 200


def test_editing_is_refused_outside_scope_role_and_without_csrf(shop):
    theirs, mine = shop.ids["theirs"], shop.ids["mine"]
    sales = login(shop, "sales")
    assert sales.get(f"/contacts/{theirs}/edit").status_code == 404
    assert sales.post(f"/contacts/{theirs}/edit", data={"first_name": "X", "csrf_token": sales.csrf}).status_code == 404
    assert sales.post(f"/contacts/{mine}/edit", data={"first_name": "X"}).status_code == 403
    assert sales.post("/contacts/new", data={"first_name": "X"}).status_code == 403
    for role in ("service", "viewer"):
        c = login(shop, role)
        assert c.get(f"/contacts/{mine}/edit").status_code == 403
        assert c.post(f"/contacts/{mine}/edit", data={"first_name": "X", "csrf_token": c.csrf}).status_code == 403
        assert "Edit contact" not in c.get(f"/contacts/{mine}").text
    assert shop.store.query_value("SELECT count(*) FROM contacts WHERE first_name = 'X'") == 0


def test_create_a_deal_from_the_contact_page(shop):
    mine = shop.ids["mine"]
    c = login(shop, "sales")
    page = c.get(f"/contacts/{mine}").text
    assert 'action="/deals/new"' in page
    r = c.post("/deals/new", data={"contact_id": mine, "title": "Bigger order", "amount": "250.50", "csrf_token": c.csrf},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/contacts/{mine}"
    deal = shop.store.query("SELECT title, amount, stage, owner, contact_id FROM deals WHERE title = 'Bigger order'")[0]
    assert deal == {"title": "Bigger order", "amount": 250.5, "stage": "lead", "owner": "sales@example.com", "contact_id": mine}
    assert history(shop, mine)[-1] == ("sales@example.com", "add deal")
    assert c.post("/deals/new", data={"contact_id": shop.ids["theirs"], "title": "Nope", "csrf_token": c.csrf}).status_code == 404
    assert c.post("/deals/new", data={"contact_id": mine, "title": "", "csrf_token": c.csrf}).status_code == 400
    assert c.post("/deals/new", data={"contact_id": mine, "title": "Neg", "amount": "-5", "csrf_token": c.csrf}).status_code == 400
    assert shop.store.query_value("SELECT count(*) FROM deals WHERE title IN ('Nope', 'Neg', '')") == 0


def test_move_a_deal_on_the_board_with_a_plain_form(shop):
    mine = shop.ids["mine"]
    deal_id = shop.store.query_value("SELECT id FROM deals WHERE title = 'Mine deal'")
    c = login(shop, "sales")
    board = c.get("/deals").text
    assert f'action="/deals/{deal_id}/move"' in board and "<script" not in board
    r = c.post(f"/deals/{deal_id}/move", data={"stage": "proposal", "back": "/deals", "csrf_token": c.csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/deals"
    assert shop.get("deals", deal_id)["stage"] == "proposal"
    column = re.search(r"<h2>proposal.*?</section>", c.get("/deals").text, re.S).group(0)
    assert "Mine deal" in column
    assert history(shop, mine)[-1] == ("sales@example.com", "move deal")
    assert shop.history("deals", deal_id)[-1]["user"] == "sales@example.com"
    c.post(f"/deals/{deal_id}/move", data={"stage": "won", "csrf_token": c.csrf})
    assert (shop.get("deals", deal_id)["status"], shop.get("deals", deal_id)["stage"]) == ("won", "won")
    assert c.post(f"/deals/{deal_id}/move", data={"stage": "nowhere", "csrf_token": c.csrf}).status_code == 400
    assert c.post(f"/deals/{deal_id}/move", data={"stage": "lead", "back": "//evil.example", "csrf_token": c.csrf},
                  follow_redirects=False).headers["location"] == "/deals"


def test_moving_is_refused_outside_scope_role_and_without_csrf(shop):
    theirs = shop.store.query_value("SELECT id FROM deals WHERE title = 'Their deal'")
    mine = shop.store.query_value("SELECT id FROM deals WHERE title = 'Mine deal'")
    sales = login(shop, "sales")
    assert sales.post(f"/deals/{theirs}/move", data={"stage": "won", "csrf_token": sales.csrf}).status_code == 404
    assert sales.post(f"/deals/{mine}/move", data={"stage": "won"}).status_code == 403
    viewer = login(shop, "viewer")
    assert viewer.post(f"/deals/{mine}/move", data={"stage": "won", "csrf_token": viewer.csrf}).status_code == 403
    assert 'action="/deals/' not in viewer.get("/deals").text
    assert shop.store.query_value("SELECT count(*) FROM deals WHERE stage = 'won'") == 0


def test_hostile_values_typed_into_the_forms_render_inert(shop):
    c = login(shop, "admin")
    hostile = {"first_name": "<script>alert(1)</script>", "last_name": '"><img src=x onerror=alert(2)>', "company": "{{7*7}}",
               "city": "{% raw %}", "notes": "</textarea><b>x</b>", "tags": "<i>t</i>"}
    r = c.post("/contacts/new", data={**hostile, "csrf_token": c.csrf}, follow_redirects=False)
    cid = int(r.headers["location"].rsplit("/", 1)[1])
    c.post("/deals/new", data={"contact_id": cid, "title": "<script>d</script>", "csrf_token": c.csrf})
    for page in (f"/contacts/{cid}", f"/contacts/{cid}/edit", "/deals", "/contacts"):
        html = c.get(page).text
        assert "<script>" not in html and "<img" not in html and "<b>x" not in html and "<i>t" not in html, page
        assert not re.search(r"(?<![\w:.-])49(?![\w:.-])", html), page  # {{7*7}} never evaluated (random tokens and clock times may hold "49")


def test_contacts_list_filters_and_the_contact_timeline(shop):
    from crmcore import Contact as _Contact, Order as _Order

    ada = shop.add(_Contact(first_name="Ada", email="ada.f@example.com", country="DE", tags=["vip"], consent=True, owner="kim"))
    shop.add(_Contact(first_name="Bea", email="bea.f@example.com", country="FR", tags=["vip"], consent=False))
    shop.add(_Order(ref="TL-77", contact_id=ada, ordered_at="2026-01-05", total=12.5, currency="EUR"))
    c = login(shop, "manager")
    page = c.get("/contacts?country=Germany&tag=vip&consent=yes").text
    names = re.findall(r'href="/contacts/\d+">([^<]+)</a>', page)
    assert names == ["Ada"], names
    assert "Bea" in c.get("/contacts?tag=vip&consent=no").text and "Ada" not in c.get("/contacts?tag=vip&consent=no").text
    bad = c.get("/contacts?country=Atlantis").text
    assert "country:" in bad and "Ada" not in bad
    contact = c.get(f"/contacts/{ada}").text
    assert "Timeline" in contact and "order TL-77 12.50 EUR" in contact
