"""The service report and dashboard section on hand-computed cases, and the demo data."""

import crm_products
import crm_service
import crm_surveys
from crm_service import cases, report
from crmcore.reports import render


def desk(crm):
    """Four cases in the default week (Mon-Fri 09-17 UTC); normal: 8h/40h, urgent: 1h/8h."""
    a = cases.open_case(crm, "ada@example.com", "A", priority="normal", tags=["defect"], assignee="sam", at="2026-11-30T09:00:00")
    b = cases.open_case(crm, "bob@example.com", "B", priority="normal", tags=["defect", "delivery"], assignee="kim", at="2026-11-30T09:00:00")
    c = cases.open_case(crm, "cy@example.com", "C", priority="urgent", tags=["invoice"], assignee="sam", at="2026-11-30T09:00:00")
    d = cases.open_case(crm, "dee@example.com", "D", priority="high", at="2026-11-30T09:00:00")
    for case_id, answered in ((a, "2026-11-30T10:00:00"), (b, "2026-11-30T13:00:00"), (c, "2026-11-30T11:00:00")):
        cases.transition(crm, cases.get_case(crm, case_id), status="open", at=answered, responded=True)
    cases.solve(crm, a, at="2026-11-30T15:00:00")   # 6h: met
    cases.solve(crm, c, at="2026-12-01T12:00:00")   # 11h > 8h, first response 2h > 1h: missed
    cases.set_status(crm, [d], "pending", at="2026-11-30T10:00:00")
    return a, b, c, d


def test_report_figures(service_crm):
    desk(service_crm)
    backlog = {r["status"]: r for r in report.backlog(service_crm)}
    assert backlog["open"]["normal"] == 1 and backlog["pending"]["high"] == 1 and backlog["new"]["total"] == 0
    by_priority = {r["priority"]: r for r in report.times(service_crm, "priority")}
    assert by_priority["normal"] == {"priority": "normal", "responded": 2, "solved": 1, "fr_p50": 1.0, "fr_p90": 4.0,
                                     "res_p50": 6.0, "res_p90": 6.0}
    assert by_priority["urgent"]["res_p50"] == 11.0
    by_assignee = {r["assignee"]: r for r in report.times(service_crm, "assignee")}
    assert by_assignee["sam"]["solved"] == 2 and by_assignee["sam"]["fr_p90"] == 2.0
    weeks = report.attainment(service_crm)
    assert len(weeks) == 12 and weeks[-1] == {"week": "2026-11-30", "solved": 2, "met": 1, "attainment": 50.0}
    assert report.top_tags(service_crm) == [{"tag": "defect", "cases": 2}, {"tag": "delivery", "cases": 1}, {"tag": "invoice", "cases": 1}]
    # B (normal, open since Monday 09:00) has 40 business hours: due Friday 17:00. D is pending: its clock stands still.
    assert report.overdue(service_crm, "2026-12-04T17:00:00") == 0
    assert report.overdue(service_crm, "2026-12-04T17:00:01") == 1
    assert report.percentile([1, 2, 3, 4], 50) == 2 and report.percentile([], 50) is None


def test_report_and_dashboard_render(service_crm):
    desk(service_crm)
    html = render(service_crm, "service")
    for text in ("Service desk", "Backlog by status and priority", "SLA attainment per week", "50.0%", "defect", "sam"):
        assert text in html, text
    assert render(service_crm, "service") == html  # reproducible
    assert "Service desk" in render(service_crm, "dashboard")


def test_demo_cases_follow_purchases_and_detractors(sample_crm):
    crm = sample_crm(plugins=[crm_products, crm_surveys, crm_service], contacts=300)
    total = crm.store.count("service_cases")
    assert total > 40
    rate = crm.store.query(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM survey_responses r JOIN survey_answers a ON a.response_id = r.id "
        "JOIN survey_questions q ON q.id = a.question_id WHERE r.contact_id = c.id AND q.type = 'nps' AND a.number <= 6) "
        "THEN 'detractor' ELSE 'other' END AS who, count(*) AS contacts, "
        "sum(CASE WHEN EXISTS (SELECT 1 FROM service_cases s WHERE s.contact_id = c.id) THEN 1 ELSE 0 END) AS with_cases "
        "FROM contacts c GROUP BY 1")
    share = {r["who"]: r["with_cases"] / r["contacts"] for r in rate}
    assert share["detractor"] > 2 * share["other"]
    bought = crm.store.query_value(
        "SELECT count(*) FROM service_cases s WHERE s.sku <> '' AND EXISTS (SELECT 1 FROM orders o JOIN order_lines l "
        "ON l.order_id = o.id WHERE o.contact_id = s.contact_id AND l.sku = s.sku)")
    assert bought == crm.store.query_value("SELECT count(*) FROM service_cases WHERE sku <> ''") > 10
    assert crm.store.query_value("SELECT count(*) FROM service_cases WHERE status NOT IN ('solved', 'closed')") > 0
    assert report.csat(crm)["answers"] > 0
