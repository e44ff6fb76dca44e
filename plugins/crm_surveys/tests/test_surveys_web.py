"""The public answer page /s/{token} of `crm serve`: one answer per link, the
same validation and follow-up as the response import, inert hostile text."""

import re

import pytest

from crm_surveys.definitions import close_survey
from crm_surveys.invitations import invite

pytest.importorskip("httpx")
from starlette.testclient import TestClient  # noqa: E402

from crmcore.web.app import create_app  # noqa: E402

GOOD = {"nps": "3", "csat": "4", "comment": "Too slow", "liked": ["Price", "Delivery"]}


@pytest.fixture
def link(scrm, survey, people, segments):
    scrm.set_setting("base_url", "https://crm.example.com")
    segments.segments["all"] = people
    survey["base_url"] = ""
    scrm.store.execute("UPDATE surveys SET base_url = '' WHERE id = ?", (survey["id"],))
    rows, _ = invite(scrm, "feedback", "all")
    ada = next(r for r in rows if r["email"] == "ada@example.com")
    assert ada["link"] == f"https://crm.example.com/s/{ada['token']}"
    return "/s/" + ada["token"]


def form_token(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_answering_once_stores_the_response_and_creates_the_follow_up(scrm, link, people):
    c = TestClient(create_app(scrm))
    page = c.get(link)
    assert page.status_code == 200 and "How likely are you to recommend us?" in page.text
    r = c.post(link, data={**GOOD, "csrf_token": form_token(page.text)})
    assert r.status_code == 200 and "Thank you" in r.text
    response = scrm.store.query("SELECT * FROM survey_responses")
    assert [(x["contact_id"], x["channel"]) for x in response] == [(people[0], "web")]
    answers = {(a["number"], a["value"]) for a in scrm.store.query("SELECT number, value FROM survey_answers")}
    assert answers == {(3.0, ""), (4.0, ""), (None, "Too slow"), (None, "Price;Delivery")}
    task = scrm.store.query("SELECT subject, owner FROM activities WHERE kind = 'task'")
    assert task == [{"subject": "Survey follow-up: detractor (NPS 3) in 'feedback'", "owner": "alice"}]
    history = scrm.store.query('SELECT "user", action FROM _crm_audit WHERE table_name = \'contacts\' AND record_id = ?', (people[0],))
    assert [(h["user"], h["action"]) for h in history] == [("tester", "create"), ("public link", "survey answer")]
    again = c.get(link)
    assert again.status_code == 410 and "Already answered" in again.text
    assert c.post(link, data={**GOOD, "csrf_token": form_token(page.text)}).status_code == 410
    assert scrm.store.count("survey_responses") == 1


def test_invalid_answers_are_shown_and_nothing_is_stored(scrm, link):
    c = TestClient(create_app(scrm))
    token = form_token(c.get(link).text)
    r = c.post(link, data={"nps": "11", "csat": "4", "comment": "x", "csrf_token": token})
    assert r.status_code == 400 and "11 is out of range 0-10" in r.text
    r = c.post(link, data={"nps": "9", "comment": "fine", "csrf_token": token})
    assert r.status_code == 400 and "csat: an answer is required" in r.text
    assert 'value="9" checked' in r.text and ">fine</textarea>" in r.text  # what was given stays
    assert scrm.store.count("survey_responses") == 0


def test_post_without_the_form_token_is_refused(scrm, link):
    c = TestClient(create_app(scrm))
    assert c.post(link, data=GOOD).status_code == 403
    assert scrm.store.count("survey_responses") == 0


def test_unknown_and_closed_links_get_a_plain_page(scrm, link):
    c = TestClient(create_app(scrm))
    r = c.get("/s/not-a-token")
    assert r.status_code == 404 and "Link not valid" in r.text and "<form" not in r.text
    close_survey(scrm, "feedback")
    r = c.get(link)
    assert r.status_code == 410 and "Survey closed" in r.text


def test_public_only_server_serves_the_survey_page(scrm, link):
    c = TestClient(create_app(scrm, public_only=True))
    assert c.get(link).status_code == 200
    assert c.get("/login").status_code == 404


def test_hostile_text_is_shown_inert(scrm, link):
    c = TestClient(create_app(scrm))
    token = form_token(c.get(link).text)
    r = c.post(link, data={"nps": "11", "csat": "4", "comment": '<script>alert(1)</script>"><img src=x onerror=1>{{7*7}}',
                           "csrf_token": token})
    assert "<script>alert" not in r.text and "<img src=x" not in r.text and "{{7*7}}" in r.text


def test_contact_page_shows_the_latest_answers(scrm, link, people, monkeypatch):
    from argon2 import PasswordHasher

    from crmcore import users

    c = TestClient(create_app(scrm))
    page = c.get(link)
    c.post(link, data={**GOOD, "comment": "<i>slow</i>", "csrf_token": form_token(page.text)})
    monkeypatch.setattr(users, "_hasher", lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    users.add_user(scrm, "boss@example.com", "manager", "correct horse battery")
    login = c.get("/login")
    c.post("/login", data={"email": "boss@example.com", "password": "correct horse battery", "csrf_token": form_token(login.text)})
    html = c.get(f"/contacts/{people[0]}").text
    assert "Survey answers" in html and "feedback" in html and "nps 3" in html and "&lt;i&gt;slow&lt;/i&gt;" in html


def test_links_sent_before_tokens_were_hashed_still_answer(scrm, survey, people):
    """m002 hashes the plain tokens of older databases; their links keep working."""
    from crm_surveys.migrations import m002_hash_invitation_tokens

    scrm.store.execute("INSERT INTO survey_invitations (survey_id, contact_id, token, batch, segment) VALUES (?, ?, ?, 'old', 'all')",
                       (survey["id"], people[1], "OldPlainToken1234567890"))
    with scrm.store.transaction():
        m002_hash_invitation_tokens(scrm.store)
    assert scrm.store.query_value("SELECT count(*) FROM survey_invitations WHERE token = 'OldPlainToken1234567890'") == 0
    c = TestClient(create_app(scrm))
    assert c.get("/s/OldPlainToken1234567890").status_code == 200
