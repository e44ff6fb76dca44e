"""Every question type accepts exactly its valid answers."""

import pytest

from crm_surveys.answers import AnswerError, validate, validate_all


def q(kind, required=True, **extra):
    return {"key": "q", "type": kind, "required": required, "scale": extra.get("scale"), "choices": extra.get("choices", [])}


@pytest.mark.parametrize("kind, low, high", [("nps", 0, 10), ("csat", 1, 5), ("ces", 1, 7)])
def test_scored_types_accept_their_range_and_nothing_else(kind, low, high):
    assert validate(q(kind), str(low)) == (float(low), "", [])
    assert validate(q(kind), high) == (float(high), "", [])
    for bad in (low - 1, high + 1):
        with pytest.raises(AnswerError, match=f"out of range {low}-{high}"):
            validate(q(kind), str(bad))
    with pytest.raises(AnswerError, match="not a whole number"):
        validate(q(kind), "7.5")
    with pytest.raises(AnswerError, match="not a whole number"):
        validate(q(kind), "great")


def test_nps_rejects_eleven():
    with pytest.raises(AnswerError, match="11 is out of range 0-10"):
        validate(q("nps"), "11")


def test_rating_uses_its_own_scale():
    assert validate(q("rating", scale=10), "10")[0] == 10.0
    with pytest.raises(AnswerError, match="out of range 1-10"):
        validate(q("rating", scale=10), "0")
    with pytest.raises(AnswerError, match="out of range 1-3"):
        validate(q("rating", scale=3), "4")


def test_single_choice_matches_case_insensitively_and_stores_the_option():
    question = q("choice", choices=["Web shop", "Store"])
    assert validate(question, "web SHOP") == (None, "Web shop", [])
    with pytest.raises(AnswerError, match="'Phone' is not one of: Web shop, Store"):
        validate(question, "Phone")


def test_multiple_choice_splits_on_semicolon_and_checks_each():
    question = q("multiple", choices=["Price", "Quality", "Delivery"])
    assert validate(question, "quality; Price;quality") == (None, "Quality;Price", ["Quality", "Price"])
    assert validate(question, ["Delivery"]) == (None, "Delivery", ["Delivery"])
    with pytest.raises(AnswerError, match="'Speed' is not one of"):
        validate(question, "Price;Speed")


def test_free_text_keeps_line_breaks():
    assert validate(q("text"), "  Too slow.\nBut friendly. ") == (None, "Too slow.\nBut friendly.", [])


@pytest.mark.parametrize("kind", ["nps", "csat", "ces", "rating", "choice", "multiple", "text"])
def test_required_and_optional(kind):
    extra = {"choices": ["A", "B"]} if kind in ("choice", "multiple") else {"scale": 5}
    with pytest.raises(AnswerError, match="an answer is required"):
        validate(q(kind, **extra), "  ")
    assert validate(q(kind, required=False, **extra), "") is None


def test_validate_all_names_unknown_questions(survey):
    with pytest.raises(AnswerError, match="no such question"):
        validate_all(survey, {"nps": "9", "csat": "4", "comment": "", "speed": "3"})
    with pytest.raises(AnswerError) as exc:
        validate_all(survey, {"nps": "9", "comment": "ok"})
    assert exc.value.question == "csat"
    checked = validate_all(survey, {"nps": "9", "csat": "4", "comment": ""})
    assert checked == {"nps": (9.0, "", []), "csat": (4.0, "", [])}


@pytest.mark.parametrize("scale", ["0", "1", "-3", "101"])
def test_a_rating_scale_outside_2_to_100_is_refused_not_replaced(scale):
    from crm_surveys.definitions import parse_question_option
    from crmcore import CRMError

    with pytest.raises(CRMError, match="a rating scale must be 2-100"):
        parse_question_option(f"rating({scale}):q:Rate us", 1)
    assert parse_question_option("rating:q:Rate us", 1).scale == 5  # no scale given: 1-5
