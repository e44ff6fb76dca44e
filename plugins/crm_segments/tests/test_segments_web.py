"""The segments pages of `crm serve`: list, members through the access filter,
and the rule editor (count before saving, clear errors, nothing saved on an error)."""

import re

import pytest

pytest.importorskip("httpx")

import crm_segments  # noqa: E402
from crm_segments import segments  # noqa: E402
from crmcore.entities import Contact  # noqa: E402


@pytest.fixture
def scrm(make_crm):
    crm = make_crm(plugins=[crm_segments])
    crm.add_many([Contact(first_name=f"DE{i}", country="DE", tags=["vip"] if i < 2 else []) for i in range(3)]
                 + [Contact(first_name="Fr", country="FR", tags=["vip"])])
    segments.create_segment(crm, "vip", rule="tags contains 'vip'", description="Our best")
    return crm


def test_list_and_members(scrm, web_user):
    c = web_user(scrm, "viewer")
    listing = c.get("/segments")
    assert listing.status_code == 200 and 'href="/segments/vip"' in listing.text and "New segment" not in listing.text
    page = c.get("/segments/vip").text
    assert "3 members" in page
    assert sorted(re.findall(r'href="/contacts/\d+">(\w+)<', page)) == ["DE0", "DE1", "Fr"]
    assert c.get("/segments/nosuch").status_code == 404
    assert c.get("/segments/vip/edit").status_code == 403


def test_rule_editor_counts_then_saves(scrm, web_user):
    c = web_user(scrm, "manager")
    form = c.get("/segments/new")
    assert form.status_code == 200 and 'name="rule"' in form.text and "country" in form.text  # fields listed
    r = c.post("/segments/new", data={"name": "germans", "rule": "country = 'DE'", "action": "count", "csrf_token": c.csrf})
    assert r.status_code == 200 and "<strong>3</strong> contacts match" in r.text
    assert segments.get_segment(scrm, "germans") is None  # counting saves nothing
    r = c.post("/segments/new", data={"name": "germans", "rule": "country = 'DE'", "action": "save", "csrf_token": c.csrf},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/segments/germans"
    assert sorted(scrm.segment_contact_ids("germans")) == sorted(
        x["id"] for x in scrm.store.query("SELECT id FROM contacts WHERE country = 'DE'"))
    r = c.post("/segments/germans/edit", data={"name": "germans", "rule": "country = 'DE' and tags contains 'vip'",
                                               "action": "save", "csrf_token": c.csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert len(scrm.segment_contact_ids("germans")) == 2
    assert scrm.history("segments", segments.get_segment(scrm, "germans")["id"])[-1]["user"] == "manager@example.com"


def test_rule_errors_are_clear_and_nothing_is_saved(scrm, web_user):
    c = web_user(scrm, "manager")
    for rule, words in (("country = ", "invalid rule"), ("shoe_size > 3", "shoe_size"), ("", "write a rule")):
        r = c.post("/segments/new", data={"name": "bad", "rule": rule, "action": "save", "csrf_token": c.csrf})
        assert r.status_code == 400 and words in r.text and 'aria-invalid="true"' in r.text, rule
    r = c.post("/segments/new", data={"name": "vip", "rule": "country = 'FR'", "action": "save", "csrf_token": c.csrf})
    assert r.status_code == 400 and "exists already" in r.text
    r = c.post("/segments/new", data={"name": "<script>x</script>", "rule": "country = '<script>'", "action": "count",
                                      "csrf_token": c.csrf})
    assert "<script>" not in r.text and "&lt;script&gt;" in r.text
    assert [s["name"] for s in segments.list_segments(scrm)] == ["vip"]
    assert c.post("/segments/new", data={"name": "x", "rule": "country = 'DE'", "action": "save"}).status_code == 403


def test_sales_users_do_not_see_segment_pages(scrm, web_user):
    c = web_user(scrm, "sales")
    assert c.get("/segments").status_code == 403
    assert 'href="/segments"' not in c.get("/").text
