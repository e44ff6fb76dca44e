"""NPS, CSAT, CES and their margins of error on hand-computed data, and the breakdowns."""

import datetime as dt

import pytest

from crm_surveys.answers import record_response
from crm_surveys.definitions import create_survey, get_survey
from crm_surveys.scores import csat, mean, nps, scores
from crmcore.entities import Order, OrderLine


def test_nps_and_its_margin_by_hand():
    # 8 answers: promoters 10,10,10,9 (p = 4/8 = .5), passives 8,7, detractors 6,2 (d = 2/8 = .25)
    # NPS = 100 * (.5 - .25) = 25; var = (.5 + .25 - .25**2) / 8 = .6875 / 8 = .0859375
    # margin = 1.96 * sqrt(.0859375) * 100 = 1.96 * .2931510 * 100 = 57.4576
    result = nps([10, 10, 10, 9, 8, 7, 6, 2])
    assert (result["promoters"], result["passives"], result["detractors"], result["n"]) == (4, 2, 2, 8)
    assert result["score"] == pytest.approx(25.0)
    assert result["margin"] == pytest.approx(57.4576, abs=1e-3)


def test_nps_extremes():
    assert nps([10, 9])["score"] == pytest.approx(100) and nps([10, 9])["margin"] == pytest.approx(0)
    assert nps([0, 6, 7])["score"] == pytest.approx(-200 / 3)
    assert nps([])["score"] is None


def test_csat_is_the_share_of_four_and_five():
    # 3 of 5 answers are 4-5: 60%; margin 1.96 * sqrt(.6 * .4 / 5) = 1.96 * .2190890 = .429414 -> 42.94%
    result = csat([5, 4, 4, 3, 1])
    assert result["score"] == pytest.approx(60.0)
    assert result["margin"] == pytest.approx(42.9414, abs=1e-3)


def test_ces_is_the_mean_with_a_t_free_margin():
    # mean of 2, 4, 6 = 4; sample sd = sqrt((4 + 0 + 4) / 2) = 2; margin 1.96 * 2 / sqrt(3) = 2.26321
    result = mean([2, 4, 6])
    assert result["score"] == pytest.approx(4.0)
    assert result["margin"] == pytest.approx(2.26321, abs=1e-4)
    assert mean([5])["margin"] is None


def _answer(crm, survey, contact_id, nps_value, csat_value, when, channel="web"):
    return record_response(crm, survey, {"nps": nps_value, "csat": csat_value, "comment": ""}, contact_id=contact_id,
                           channel=channel, submitted_at=when)


def test_scores_of_a_survey_overall_and_by_month_and_channel(scrm, survey, people):
    ada, bob, cy = people
    _answer(scrm, survey, ada, 10, 5, "2024-01-10T10:00:00", "web")
    _answer(scrm, survey, bob, 9, 4, "2024-01-20T10:00:00", "phone")
    _answer(scrm, survey, cy, 3, 2, "2024-02-05T10:00:00", "web")
    overall = {r["question"]: r for r in scores(scrm, "feedback")}
    # NPS: 2 promoters, 1 detractor of 3 -> 100 * (2/3 - 1/3) = 33.3
    assert overall["nps"]["score"] == 33.3 and overall["nps"]["responses"] == 3
    # CSAT: 5 and 4 of 5, 4, 2 -> 66.7%
    assert overall["csat"]["score"] == 66.7
    assert "ces" not in overall  # nobody answered the optional effort question
    by_month = {(r["group"], r["question"]): r["score"] for r in scores(scrm, "feedback", "month")}
    assert by_month[("2024-01", "nps")] == 100.0 and by_month[("2024-02", "nps")] == -100.0
    by_channel = {(r["group"], r["question"]): r["responses"] for r in scores(scrm, "feedback", "channel")}
    assert by_channel[("web", "nps")] == 2 and by_channel[("phone", "nps")] == 1


def test_scores_by_product_count_what_the_respondent_bought_before_answering(scrm, survey, people):
    ada, bob, _ = people
    with scrm.store.transaction():
        oid = scrm.add(Order(contact_id=ada, ordered_at=dt.date(2024, 1, 2), total=10))
        scrm.add_many([OrderLine(order_id=oid, sku="HOSE", unit_price=5), OrderLine(order_id=oid, sku="REEL", unit_price=5)])
        later = scrm.add(Order(contact_id=bob, ordered_at=dt.date(2024, 3, 1), total=5))
        scrm.add(OrderLine(order_id=later, sku="HOSE", unit_price=5))
    _answer(scrm, survey, ada, 2, 1, "2024-01-10T10:00:00")
    _answer(scrm, survey, bob, 10, 5, "2024-01-11T10:00:00")  # bought HOSE only after answering
    rows = {(r["group"], r["question"]): r for r in scores(scrm, "feedback", "product")}
    assert rows[("HOSE", "nps")]["responses"] == 1 and rows[("HOSE", "nps")]["score"] == -100.0
    assert rows[("REEL", "nps")]["responses"] == 1


def test_scores_by_segment_use_the_invitation_or_current_membership(scrm, survey, people, segments):
    from crm_surveys.invitations import invite, token_hash

    ada, bob, _ = people
    segments.segments = {"vip": [ada], "all": [ada, bob]}
    links, _ = invite(scrm, "feedback", "vip")
    record_response(scrm, survey, {"nps": 10, "csat": 5}, contact_id=ada, invitation_id=scrm.store.query_value(
        "SELECT id FROM survey_invitations WHERE token = ?", (token_hash(links[0]["token"]),)))
    _answer(scrm, survey, bob, 0, 1, "2024-01-11T10:00:00")
    by_invitation = {(r["group"], r["question"]): r["score"] for r in scores(scrm, "feedback", "segment")}
    assert by_invitation[("vip", "nps")] == 100.0 and by_invitation[("(not invited)", "nps")] == -100.0
    by_member = {(r["group"], r["question"]): r["score"] for r in scores(scrm, "feedback", "segment", ["all", "vip"])}
    assert by_member[("all", "nps")] == 0.0 and by_member[("vip", "nps")] == 100.0
    assert [r["group"] for r in scores(scrm, "feedback", "segment", ["all", "vip"]) if r["question"] == "nps"] == ["all", "vip"]


def test_a_zero_to_ten_rating_is_not_nps(scrm, people):
    import crm_surveys

    create_survey(scrm, "ratings", "", [{"key": "r", "type": "rating", "scale": 10, "text": "Rate us"}])
    survey = get_survey(scrm, "ratings")
    record_response(scrm, survey, {"r": 10}, contact_id=people[0])
    record_response(scrm, survey, {"r": 2}, contact_id=people[1])
    rows = scores(scrm, "ratings")
    assert [(r["type"], r["score"], r["promoters"]) for r in rows] == [("rating", 6.0, None)]
    metrics = crm_surveys.crm_segment_metrics(crm=scrm, segment="all", contact_ids=people)
    assert metrics == {"NPS": None, "NPS responses": 0, "NPS margin": None}
    assert scrm.store.query_value("SELECT count(*) FROM activities") == 0  # a low rating is no detractor


def test_dashboard_and_report_show_the_survey_with_the_latest_answers_not_a_new_empty_one(scrm, survey, people):
    from crm_surveys.report import context, dashboard_context

    ada, bob, _ = people
    _answer(scrm, survey, ada, 10, 5, "2024-01-10T10:00:00")
    _answer(scrm, survey, bob, 2, 1, "2024-01-11T10:00:00")
    create_survey(scrm, "just-created", "Nobody asked yet", [{"key": "nps", "type": "nps", "text": "Recommend?"}], "https://x.example/f")
    shown = dashboard_context(scrm)
    assert (shown["survey"], shown["responses"], shown["nps"]) == ("feedback", 2, 0.0)
    assert context(scrm, {})["survey"]["name"] == "feedback"
    assert context(scrm, {"survey": "just-created"})["survey"]["name"] == "just-created"


def test_a_single_answer_has_no_margin_of_error_rather_than_zero():
    assert nps([10])["margin"] is None and nps([10])["score"] == 100.0
    assert csat([5])["margin"] is None
    assert nps([10, 0])["margin"] > 0
