"""The surveys' results pages of `crm serve`: the list with a headline score and
one survey's scores, distributions and comments; only for roles that read reports."""

import pytest

pytest.importorskip("httpx")

from crm_surveys.answers import record_responses, validate_all  # noqa: E402


def test_results_pages(scrm, survey, people, web_user):
    answers = [{"nps": "10", "csat": "5", "comment": "<script>great</script>"}, {"nps": "3", "csat": "2", "comment": "slow"}]
    record_responses(scrm, survey, [{"answers": validate_all(survey, a), "contact_id": cid, "channel": "web"}
                                    for a, cid in zip(answers, people)])
    c = web_user(scrm, "manager")
    listing = c.get("/surveys")
    assert listing.status_code == 200 and 'href="/surveys/feedback"' in listing.text
    assert "NPS 0.0" in listing.text  # one promoter, one detractor
    page = c.get("/surveys/feedback")
    assert page.status_code == 200
    assert "&lt;script&gt;great" in page.text and "<script>great" not in page.text
    assert 'class="fill w100"' in page.text  # the bars are classes, no inline styles (CSP)
    assert "style=" not in page.text
    assert c.get("/surveys/nosuch").status_code == 404
    assert 'href="/surveys"' in c.get("/").text


@pytest.mark.parametrize("role, status", [("viewer", 200), ("sales", 403), ("service", 403)])
def test_results_need_reports_read(scrm, survey, web_user, role, status):
    c = web_user(scrm, role)
    assert c.get("/surveys/feedback").status_code == status
    assert c.get("/surveys").status_code == status
