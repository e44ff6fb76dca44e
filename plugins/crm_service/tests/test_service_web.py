"""The service desk in `crm serve`: the agent's queue, the case page with its
reply box and forms, the contact page's "Cases" panel; who sees and works what.

A sales user with the territory North (Hamburg postcodes) sees Hanna's cases
and not Max's (Munich); admins, managers and service agents work every case;
sales and viewers only read."""

import re

import pytest

import crm_segments
import crm_service
from crm_segments import territories
from crm_service import cases
from crmcore import users
from crmcore.entities import Contact

pytest.importorskip("httpx")
from starlette.testclient import TestClient  # noqa: E402

from crmcore.web.app import create_app  # noqa: E402

PASSWORD = "correct horse battery"
ROLES = ("admin", "manager", "sales", "service", "viewer")
WORKERS = ("admin", "manager", "service")
HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>{{7*7}}'


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch):
    from argon2 import PasswordHasher

    monkeypatch.setattr(users, "_hasher", lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def desk(make_crm):
    """Hanna (Hamburg, territory North) and Max (Munich, outside it), one user per role.

    Cases, by their running deadline (SLA: Mon-Fri 09:00-17:00 UTC):
    ``late`` urgent, opened Mon 2026-01-05 09:00, first response due 10:00;
    ``older`` normal, opened then too, due 17:00; ``fresh`` opened now (due in
    the future); ``waiting`` pending (clock paused, no deadline); ``done`` solved."""
    crm = make_crm(plugins=[crm_service, crm_segments])
    territories.add(crm, "North", countries=["DE"], postal_prefixes=["20"])
    hanna = crm.add(Contact(first_name="Hanna", last_name="Hamburg", email="hanna@example.com", country="DE", postal_code="20095"))
    max_ = crm.add(Contact(first_name="Max", last_name="Munich", email="max@example.com", country="DE", postal_code="80331"))
    for role in ROLES:
        users.add_user(crm, f"{role}@example.com", role, PASSWORD, territories=["North"] if role == "sales" else ())
    ids = {
        "late": cases.open_case(crm, hanna, "Kettle leaks", priority="urgent", at="2026-01-05T09:00:00",
                                description="Water everywhere"),
        "older": cases.open_case(crm, max_, "Wrong size", at="2026-01-05T09:00:00", assignee="service@example.com"),
        "fresh": cases.open_case(crm, hanna, "Invoice copy"),
        "waiting": cases.open_case(crm, max_, "Refund?", at="2026-01-05T09:00:00"),
        "done": cases.open_case(crm, hanna, "Thanks", at="2026-01-05T09:00:00"),
    }
    cases.set_status(crm, [ids["waiting"]], "pending")
    cases.set_status(crm, [ids["done"]], "solved")
    crm.ids = {**ids, "hanna": crm.get("contacts", hanna), "max": crm.get("contacts", max_)}
    return crm


def csrf_of(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(crm, role):
    c = TestClient(create_app(crm), base_url="http://testserver")
    page = c.get("/login")
    r = c.post("/login", data={"email": f"{role}@example.com", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
               follow_redirects=False)
    assert r.status_code == 303, r.text
    c.csrf = csrf_of(c.get("/service").text)
    return c


def queue_ids(html):
    return [int(i) for i in re.findall(r'<td data-label="Case" class="svc-subj"><a href="/service/cases/(\d+)">', html)]


def contact_history(crm, contact_id):
    return [(h["user"], h["action"], h["changes"]) for h in crm.history("contacts", contact_id)]


def test_every_service_route_refuses_an_anonymous_request(desk):
    app = create_app(desk)
    c = TestClient(app)
    mine = [r for r in app.state.web.routes if getattr(r.endpoint, "__module__", "") == "crm_service.web"]
    assert len(mine) == 7  # the stylesheet is a static file now (crm_register_static)
    for route in mine:
        path = route.path.replace("{id:int}", str(desk.ids["late"]))
        for method in route.methods:
            r = c.request(method, path, data={"body": "x", "kind": "internal", "status": "solved"}, follow_redirects=False)
            assert r.status_code == (303 if method == "GET" else 401), (method, path)
            if method == "GET":
                assert r.headers["location"].startswith("/login?next=")
    assert desk.store.count("service_messages") == 1 and cases.get_case(desk, desk.ids["late"])["status"] == "new"


def test_the_queue_puts_the_most_urgent_deadline_first_and_hides_solved_cases(desk):
    c = login(desk, "service")
    r = c.get("/service")
    assert r.status_code == 200 and 'href="/service"' in r.text  # the menu entry
    i = desk.ids
    assert queue_ids(r.text) == [i["late"], i["older"], i["fresh"], i["waiting"]]
    assert r.text.count("overdue</strong>") == 2 and "paused" in r.text
    assert queue_ids(c.get("/service?status=all").text) == [i["late"], i["older"], i["fresh"], i["waiting"], i["done"]]
    assert queue_ids(c.get("/service?status=pending").text) == [i["waiting"]]
    assert queue_ids(c.get("/service?priority=urgent").text) == [i["late"]]
    assert queue_ids(c.get("/service?assignee=mine").text) == [i["older"]]
    assert queue_ids(c.get("/service?assignee=unassigned").text) == [i["late"], i["fresh"], i["waiting"]]
    assert queue_ids(c.get("/service?breached=1").text) == [i["late"], i["older"]]
    assert c.get("/service?status=lost").status_code == 400
    assert c.get("/service?after=x").status_code == 400


def test_the_queue_pages_by_keyset_across_deadlines_and_paused_cases(desk, monkeypatch):
    monkeypatch.setattr(crm_service.web, "PAGE_SIZE", 2)
    i = desk.ids
    c = login(desk, "manager")
    seen, url = [], "/service?status=all"
    for _ in range(5):
        r = c.get(url)
        seen.append(queue_ids(r.text))
        found = re.search(r'<a href="([^"]+)" rel="next">', r.text)
        if not found:
            break
        url = found.group(1).replace("&amp;", "&")
        assert "status=all" in url  # the filter stays on every page
    assert seen == [[i["late"], i["older"]], [i["fresh"], i["waiting"]], [i["done"]]]
    assert "First page" in r.text


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_and_works_what_it_should(desk, role):
    i = desk.ids
    c = login(desk, role)
    listed = queue_ids(c.get("/service").text)
    case = c.get(f"/service/cases/{i['late']}")
    assert case.status_code == 200 and "Water everywhere" in case.text
    assert f'href="/contacts/{i["hanna"]["id"]}"' in case.text
    other = c.get(f"/service/cases/{i['older']}")
    note = c.post(f"/service/cases/{i['late']}/reply", data={"body": f"checked by {role}", "kind": "internal", "csrf_token": c.csrf},
                  follow_redirects=False)
    solved = c.post(f"/service/cases/{i['late']}/solve", data={"csrf_token": c.csrf}, follow_redirects=False)
    status = cases.get_case(desk, i["late"])["status"]
    if role == "sales":  # territory North only, read-only
        assert listed == [i["late"], i["fresh"]]
        assert other.status_code == 404 and "Wrong size" not in other.text
        assert 'action="/service/cases/' not in case.text
    else:
        assert listed == [i["late"], i["older"], i["fresh"], i["waiting"]]
        assert other.status_code == 200 and "Wrong size" in other.text
    if role in WORKERS:
        assert f'action="/service/cases/{i["late"]}/reply"' in case.text and "Solve</button>" in case.text
        assert note.status_code == 303 and note.headers["location"].startswith(f"/service/cases/{i['late']}#m")
        assert solved.status_code == 303 and status == "solved"
        author = desk.store.query_value("SELECT author FROM service_messages WHERE direction = 'internal'")
        assert author == f"{role}@example.com"
    else:
        assert 'action="/service/cases/' not in case.text
        assert note.status_code == 403 and solved.status_code == 403 and status == "new"
        assert desk.store.count("service_messages") == 1


def test_a_sales_user_gets_404_outside_the_territory_for_every_case_route(desk):
    c = login(desk, "sales")
    out = desk.ids["older"]
    assert c.get(f"/service/cases/{out}").status_code == 404
    assert c.get(f"/contacts/{desk.ids['max']['id']}").status_code == 404  # the same rule as the contact page
    assert c.get("/service/cases/999999").status_code == 404


def test_posts_without_the_form_token_are_refused(desk):
    c = login(desk, "service")
    late = desk.ids["late"]
    for action, data in [("reply", {"body": "hi", "kind": "internal"}), ("status", {"status": "open"}), ("solve", {}),
                         ("priority", {"priority": "low"}), ("assign", {"assignee": "x@example.com"})]:
        r = c.post(f"/service/cases/{late}/{action}", data=data)
        assert r.status_code == 403 and "Form expired" in r.text
        r = c.post(f"/service/cases/{late}/{action}", data={**data, "csrf_token": "forged"})
        assert r.status_code == 403
    case = cases.get_case(desk, late)
    assert (case["status"], case["priority"], case["assignee"]) == ("new", "urgent", "")
    assert desk.store.count("service_messages") == 1


def test_an_email_reply_without_smtp_is_queued_and_in_the_contacts_history(desk):
    desk.set_setting("service.from", "help@shop.example")
    c = login(desk, "service")
    late = desk.ids["late"]
    page = c.get(f"/service/cases/{late}")
    assert 'value="email" checked' in page.text and "No SMTP server is set" in page.text
    r = c.post(f"/service/cases/{late}/reply", data={"body": "We send a new kettle.", "kind": "email", "csrf_token": c.csrf})
    assert r.status_code == 200 and "queued, not sent yet" in r.text and "We send a new kettle." in r.text
    assert f"[#{late}] Kettle leaks" not in r.text  # the tagged subject is the case's own: not repeated
    m = desk.store.query("SELECT direction, author, delivery, subject FROM service_messages WHERE direction = 'outbound'")
    assert m == [{"direction": "outbound", "author": "help@shop.example", "delivery": "queued", "subject": f"[#{late}] Kettle leaks"}]
    case = cases.get_case(desk, late)
    assert case["status"] == "open" and case["first_response_at"] is not None
    mid = desk.store.query_value("SELECT id FROM service_messages WHERE direction = 'outbound'")
    assert ("service@example.com", "service reply", {"case": late, "message": mid}) in contact_history(desk, desk.ids["hanna"]["id"])


def test_an_email_reply_goes_to_the_smtp_server_when_one_is_set(desk, smtp_server, monkeypatch):
    url, inbox = smtp_server
    monkeypatch.setenv("CRM_SMTP_URL", url)
    monkeypatch.setenv("CRM_SERVICE_FROM", "help@shop.example")
    c = login(desk, "service")
    late = desk.ids["late"]
    r = c.post(f"/service/cases/{late}/reply", data={"body": "Kettle on its way.", "kind": "email", "csrf_token": c.csrf})
    assert r.status_code == 200 and "Kettle on its way." in r.text and "not sent" not in r.text
    (sender, recipients, mail), = inbox.mails
    assert (sender, recipients) == ("help@shop.example", ["hanna@example.com"])
    assert mail["Subject"] == f"[#{late}] Kettle leaks" and mail.get_content().strip() == "Kettle on its way."
    assert desk.store.query_value("SELECT delivery FROM service_messages WHERE direction = 'outbound'") == "sent"


def test_a_reply_the_server_refuses_stays_on_the_page_as_not_sent(desk, monkeypatch):
    monkeypatch.setenv("CRM_SMTP_URL", "smtp://127.0.0.1:1")
    desk.set_setting("service.from", "help@shop.example")
    c = login(desk, "service")
    r = c.post(f"/service/cases/{desk.ids['late']}/reply", data={"body": "Hello", "kind": "email", "csrf_token": c.csrf})
    assert r.status_code == 200 and "not sent: cannot reach the SMTP server smtp://127.0.0.1:1" in r.text
    assert desk.store.query_value("SELECT delivery FROM service_messages WHERE direction = 'outbound'") == "failed"


def test_empty_replies_and_bad_values_are_refused_with_one_line(desk):
    c = login(desk, "service")
    late = desk.ids["late"]
    r = c.post(f"/service/cases/{late}/reply", data={"body": "  ", "kind": "internal", "csrf_token": c.csrf})
    assert r.status_code == 400 and "write the reply or the note first" in r.text
    r = c.post(f"/service/cases/{late}/reply", data={"body": "hi", "kind": "email", "csrf_token": c.csrf})
    assert r.status_code == 400 and "e-mail replies need a sender address" in r.text  # none configured
    assert c.post(f"/service/cases/{late}/status", data={"status": "lost", "csrf_token": c.csrf}).status_code == 400
    assert c.post(f"/service/cases/{late}/assign", data={"assignee": "", "csrf_token": c.csrf}).status_code == 400
    assert desk.store.count("service_messages") == 1 and cases.get_case(desk, late)["status"] == "new"


def test_status_priority_and_assignment_from_the_page_are_in_the_contacts_history(desk):
    c = login(desk, "manager")
    late = desk.ids["late"]
    for action, data in [("status", {"status": "pending"}), ("priority", {"priority": "low"}), ("assign", {"me": "1"})]:
        r = c.post(f"/service/cases/{late}/{action}", data={**data, "csrf_token": c.csrf}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/service/cases/{late}"
    case = cases.get_case(desk, late)
    assert (case["status"], case["priority"], case["assignee"], case["breach_at"]) == ("pending", "low", "manager@example.com", None)
    c.post(f"/service/cases/{late}/assign", data={"assignee": "ann@example.com", "csrf_token": c.csrf})
    assert cases.get_case(desk, late)["assignee"] == "ann@example.com"
    history = [h for h in contact_history(desk, desk.ids["hanna"]["id"]) if h[1].startswith("case")]
    assert history == [
        ("manager@example.com", "case status", {"case": late, "status": ["new", "pending"]}),
        ("manager@example.com", "case priority", {"case": late, "priority": ["urgent", "low"]}),
        ("manager@example.com", "case assigned", {"case": late, "assignee": ["", "manager@example.com"]}),
        ("manager@example.com", "case assigned", {"case": late, "assignee": ["manager@example.com", "ann@example.com"]}),
    ]


def test_hostile_values_render_inert_in_the_queue_the_case_and_the_panel(desk):
    hanna = desk.ids["hanna"]["id"]
    desk.update("contacts", hanna, {"first_name": HOSTILE})
    cid = cases.open_case(desk, hanna, HOSTILE, description=HOSTILE, tags=["<b>tag</b>"])
    desk.store.execute("INSERT INTO service_attachments (message_id, filename, path, content_type, size) "
                       "SELECT id, ?, 'x/1', 'text/html', 5 FROM service_messages WHERE case_id = ?", (HOSTILE, cid))
    desk.set_setting("service.from", "help@shop.example")
    c = login(desk, "service")
    c.post(f"/service/cases/{cid}/reply", data={"body": HOSTILE, "kind": "internal", "csrf_token": c.csrf})
    c.post(f"/service/cases/{cid}/assign", data={"assignee": HOSTILE, "csrf_token": c.csrf})
    for path in ["/service", f"/service/cases/{cid}", f"/contacts/{hanna}", "/service?assignee=" + HOSTILE.replace("#", "")]:
        html = c.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>tag" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(2)&gt;{{7*7}}" in html, path
        assert ">49<" not in html


def test_the_contact_page_lists_the_contacts_cases(desk):
    c = login(desk, "sales")
    i = desk.ids
    page = c.get(f"/contacts/{i['hanna']['id']}")
    assert page.status_code == 200 and "<h2>Cases</h2>" in page.text
    panel = page.text.split("<h2>Cases</h2>", 1)[1].split("</section>", 1)[0]
    assert re.findall(r'href="/service/cases/(\d+)"', panel) == [str(i["done"]), str(i["fresh"]), str(i["late"])]
    assert "Kettle leaks" in panel and "overdue" in panel and "solved" in panel
    c = login(desk, "viewer")
    panel = c.get(f"/contacts/{i['max']['id']}").text.split("<h2>Cases</h2>", 1)[1].split("</section>", 1)[0]
    assert re.findall(r'href="/service/cases/(\d+)"', panel) == [str(i["waiting"]), str(i["older"])]


def test_a_macro_fills_the_reply_box(desk):
    from crm_service import macros

    macros.save(desk, "thanks", "Dear {{ contact.first_name }}, case {{ case.id }} is in hand.")
    macros.save(desk, "typo", "Hi {{ contact.nickname }}")
    c = login(desk, "service")
    late = desk.ids["late"]
    page = c.get(f"/service/cases/{late}?macro=thanks")
    assert f">Dear Hanna, case {late} is in hand.</textarea>" in page.text
    page = c.get(f"/service/cases/{late}?macro=typo")
    assert page.status_code == 200 and "macro &#39;typo&#39;" in page.text and "nickname" in page.text
    assert "?macro=" not in c.get(f"/service/cases/{late}").text
    viewer = login(desk, "viewer")
    assert "Dear Hanna" not in viewer.get(f"/service/cases/{late}?macro=thanks").text


def test_a_reply_to_a_customer_without_e_mail_is_refused(desk):
    desk.set_setting("service.from", "help@shop.example")
    nomail = desk.add(Contact(first_name="Paula", last_name="Phone", country="DE", postal_code="20100"))
    cid = cases.open_case(desk, nomail, "Called about a kettle", channel="phone")
    c = login(desk, "service")
    page = c.get(f"/service/cases/{cid}")
    assert 'value="email" disabled' in page.text and 'value="internal" checked' in page.text
    r = c.post(f"/service/cases/{cid}/reply", data={"body": "hi", "kind": "email", "csrf_token": c.csrf})
    assert r.status_code == 400 and "the customer has no e-mail address" in r.text
    assert desk.store.query_value("SELECT count(*) FROM service_messages WHERE case_id = ?", (cid,)) == 0


def test_solving_on_the_page_e_mails_the_csat_invitation(make_crm, smtp_server, monkeypatch):
    import crm_surveys
    from crm_surveys.definitions import create_survey, parse_question_option

    url, inbox = smtp_server
    monkeypatch.setenv("CRM_SMTP_URL", url)
    monkeypatch.setenv("CRM_SERVICE_FROM", "help@shop.example")
    crm = make_crm(plugins=[crm_service, crm_surveys])
    create_survey(crm, "csat", "After a case", [parse_question_option("csat:csat:How satisfied are you?", 1)],
                  base_url="https://shop.example/feedback")
    cid = cases.open_case(crm, crm.add(Contact(email="ada@example.com", consent=True)), "Kettle leaks")
    users.add_user(crm, "service@example.com", "service", PASSWORD)
    c = login(crm, "service")
    r = c.post(f"/service/cases/{cid}/solve", data={"csrf_token": c.csrf})
    assert r.status_code == 200 and "svc-status svc-solved" in r.text and "Solve</button>" not in r.text
    (sender, recipients, mail), = inbox.mails
    assert (sender, recipients) == ("help@shop.example", ["ada@example.com"])
    assert "https://shop.example/feedback?token=" in mail.get_content() and f"(case #{cid}) is solved" in mail.get_content()
    assert crm.store.query_value("SELECT delivery FROM service_messages WHERE case_id = ? AND direction = 'outbound'", (cid,)) == "sent"
