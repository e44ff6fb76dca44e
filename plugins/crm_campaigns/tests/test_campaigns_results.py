"""Results against the control group, the report, the timeline, erase and
merge, templates' RFM and suggestions, and one-click unsubscribe through `crm serve`."""

import pytest

from crmcore.entities import Contact, Order

from crm_campaigns.campaigns import create_campaign
from crm_campaigns.results import results, status
from crm_campaigns.sending import send


def test_results_compare_recipients_with_the_holdout_over_the_window(ccrm, segments, smtp):
    ids = ccrm.add_many([Contact(email=f"p{i}@example.com", consent=True) for i in range(4)])
    segments.segments["four"] = ids
    create_campaign(ccrm, "win-back", "four", ["Come back"], "Hi", "", "news@shop.example", holdout=50)
    send(ccrm, "win-back", url=smtp.url)
    ccrm.store.execute("UPDATE campaigns SET started_at = '2026-03-01T10:00:00'")
    sent = [r["contact_id"] for r in ccrm.store.query("SELECT contact_id FROM campaign_outbox WHERE status = 'sent' ORDER BY contact_id")]
    held = [r["contact_id"] for r in ccrm.store.query("SELECT contact_id FROM campaign_outbox WHERE status = 'holdout' ORDER BY contact_id")]
    assert len(sent) == len(held) == 2
    ccrm.add_many([
        Order(contact_id=sent[0], ordered_at="2026-03-05", total=100, ref="in-window"),
        Order(contact_id=sent[0], ordered_at="2026-02-28", total=40, ref="before-the-send"),
        Order(contact_id=sent[1], ordered_at="2026-03-31", total=50, ref="day-30-is-outside"),
        Order(contact_id=held[0], ordered_at="2026-03-01", total=20, ref="holdout-same-day"),
    ])

    r = results(ccrm, "win-back", days=30)

    assert (r["since"], r["until"]) == ("2026-03-01", "2026-03-31")
    recipients, holdout = r["groups"][0], r["groups"][-1]
    assert recipients == {"group": "recipients", "members": 2, "buyers": 1, "orders": 1, "revenue": 100.0,
                          "revenue_per_member": 50.0, "conversion_pct": 50.0}
    assert holdout == {"group": "holdout", "members": 2, "buyers": 1, "orders": 1, "revenue": 20.0,
                       "revenue_per_member": 10.0, "conversion_pct": 50.0}
    assert (r["revenue_per_recipient"], r["revenue_per_holdout"], r["uplift_per_recipient"], r["uplift_pct"]) == (50.0, 10.0, 40.0, 400.0)
    assert results(ccrm, "win-back", days=31)["groups"][0]["revenue"] == 150.0


def test_campaign_report_and_dashboard_section(ccrm, people, campaign, smtp):
    from crmcore import render

    send(ccrm, campaign, url=smtp.url)
    html = render(ccrm, "campaign", {"campaign": campaign})
    assert "Campaign “spring”" in html and "Spring for {{ first_name }}" in html
    assert "Revenue per recipient" in html
    dashboard = render(ccrm, "dashboard")
    assert "Campaigns" in dashboard and "spring" in dashboard


def test_each_sent_message_is_on_the_contacts_timeline(ccrm, people, campaign, smtp):
    send(ccrm, campaign, url=smtp.url)
    events = [e for e in ccrm.timeline(people["ada"]) if e["kind"] == "campaign"]
    assert len(events) == 1 and events[0]["summary"] == "e-mail campaign spring" and events[0]["at"]
    assert not [e for e in ccrm.timeline(people["cy"]) if e["kind"] == "campaign"]  # skipped: nothing sent


def test_erase_removes_the_persons_outbox_rows_and_says_where_mail_went(ccrm, people, campaign, smtp):
    send(ccrm, campaign, url=smtp.url)
    notes = ccrm.erase_contact("ada@example.com")
    assert any("spring" in n for n in notes)
    assert ccrm.store.query_value("SELECT count(*) FROM campaign_outbox WHERE email = 'ada@example.com'") == 0
    assert ccrm.store.query_value("SELECT count(*) FROM campaign_outbox") == 3


def test_merge_moves_the_outbox_rows_to_the_kept_contact(ccrm, people, campaign, smtp):
    send(ccrm, campaign, url=smtp.url)
    ccrm.merge_contacts("eve@example.com", "ada@example.com")
    assert ccrm.store.query_value("SELECT contact_id FROM campaign_outbox WHERE email = 'ada@example.com'") == people["eve"]


def test_templates_see_rfm_and_product_suggestions_when_there_are_any(make_crm, segments, smtp, parts):
    import crm_campaigns
    from crmcore import hookimpl

    class Products:
        @hookimpl
        def crm_contact_suggestions(self, crm, contact, limit):
            return [{"sku": "KIT-1", "name": f"Kit for {contact['first_name']}", "price": 9.5}][:limit]

    crm = make_crm(plugins=[crm_campaigns, ("segments", segments), ("products", Products())])
    ids = crm.add_many([Contact(first_name="Ann", email="ann@example.com", consent=True),
                        Contact(first_name="Ben", email="ben@example.com", consent=True)])
    segments.segments["two"] = ids
    crm.store.execute("CREATE TABLE segment_rfm (contact_id INTEGER PRIMARY KEY, as_of TEXT, last_order TEXT, recency_days INTEGER, "
                      "frequency INTEGER, monetary REAL, r INTEGER, f INTEGER, m INTEGER, score TEXT, segment TEXT)")
    crm.store.execute("INSERT INTO segment_rfm (contact_id, as_of, r, f, m, score, segment) VALUES (?, '2026-01-01', 5, 4, 3, '543', 'Loyal')",
                      (ids[0],))
    body = "{{ rfm_segment or 'new' }}{% if rfm %} {{ rfm.score }}{% endif %}|{% for p in suggestions %}{{ p.name }} {{ p.price | money }}{% endfor %}"
    create_campaign(crm, "personal", "two", ["Hi"], body, "", "news@shop.example")
    send(crm, "personal", url=smtp.url)
    assert parts(smtp.handler.to("ann@example.com")[0])[0] == "Loyal 543|Kit for Ann €9.50\n"
    assert parts(smtp.handler.to("ben@example.com")[0])[0] == "new|Kit for Ben €9.50\n"


def test_without_the_products_plugin_suggestions_are_empty(ccrm, segments, smtp, parts):
    cid = ccrm.add(Contact(first_name="Ann", email="ann@example.com", consent=True))
    segments.segments["one"] = [cid]
    create_campaign(ccrm, "plain", "one", ["Hi"], "[{% for p in suggestions %}{{ p.name }}{% endfor %}]{{ rfm_segment }}", "", "news@shop.example")
    send(ccrm, "plain", url=smtp.url)
    assert parts(smtp.handler.messages[0]["message"])[0] == "[]\n"


def test_one_click_unsubscribe_through_crm_serve_keeps_them_out_of_the_next_campaign(ccrm, people, campaign, smtp):
    pytest.importorskip("httpx")
    from starlette.testclient import TestClient

    from crmcore.web.app import create_app

    send(ccrm, campaign, url=smtp.url)
    link = smtp.handler.to("ada@example.com")[0]["List-Unsubscribe"].strip("<>")
    path = link.removeprefix("https://crm.example.com")
    response = TestClient(create_app(ccrm), base_url="https://crm.example.com").post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert ccrm.is_suppressed("ada@example.com")

    create_campaign(ccrm, "summer", "news", ["Summer"], "Hi", "", "news@shop.example")
    smtp.handler.messages.clear()
    send(ccrm, "summer", url=smtp.url)
    assert [m["to"] for m in smtp.handler.messages] == [["juergen@example.de"]]
    assert status(ccrm, "summer")["skipped"] == 3
    assert results(ccrm, campaign)["unsubscribed"] == 1
