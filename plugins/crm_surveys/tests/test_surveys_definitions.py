"""Defining surveys: on the command line, from YAML or JSON, with clear errors."""

import json

import pytest

from crm_surveys.definitions import close_survey, create_survey, get_survey, list_surveys, load_survey, parse_question_option
from crmcore import CRMError

YAML = """\
name: post-purchase
description: After delivery
questions:
  - key: nps
    type: nps
    text: How likely are you to recommend us?
  - {key: speed, type: rating, scale: 10, text: Rate the delivery speed}
  - {key: where, type: single choice, text: "Where did you buy?", choices: [Web, Store]}
  - key: comment
    type: free text
    text: What could we do better?
"""


def test_yaml_definition_keeps_order_types_and_defaults(scrm, write_file):
    sid = load_survey(scrm, write_file("s.yaml", YAML))
    survey = get_survey(scrm, "post-purchase")
    assert survey["id"] == sid and survey["description"] == "After delivery"
    assert [(q["key"], q["type"], q["required"], q["scale"]) for q in survey["questions"]] == [
        ("nps", "nps", True, None), ("speed", "rating", True, 10), ("where", "choice", True, None), ("comment", "text", False, None)]
    assert survey["questions"][2]["choices"] == ["Web", "Store"]


def test_json_definition(scrm, write_file):
    path = write_file("s.json", json.dumps({"name": "effort", "questions": [{"key": "ces", "type": "ces", "text": "How easy?"}]}))
    load_survey(scrm, path)
    assert get_survey(scrm, "effort")["questions"][0]["type"] == "ces"


@pytest.mark.parametrize("body, message", [
    ("name: x\nquestions:\n  - {key: a, type: stars, text: A}\n", "question 1: type 'stars' is not one of"),
    ("name: x\nquestions:\n  - {key: a, type: choice, text: A, choices: [One]}\n", "question 1: choices: question 'a' needs at least two choices"),
    ("name: x\nquestions:\n  - {key: a, type: nps, text: A}\n  - {key: a, type: csat, text: B}\n", "question key 'a' is used twice"),
    ("name: x\nquestions:\n  - {key: a, type: nps, text: A, scale: 5}\n", "only rating questions have a scale"),
    ("name: x\nquestions: []\n", "needs at least one question"),
    ("questions:\n  - {key: a, type: nps, text: A}\n", "name: a survey needs a name"),
    ("name: x\ncolour: red\nquestions: []\n", "unknown key 'colour'"),
    ("name: x\nquestions:\n  - {key: a, type: nps, text: [A\n", "invalid YAML"),
])
def test_bad_definitions_are_refused_with_the_place_named(scrm, write_file, body, message):
    path = write_file("bad.yaml", body)
    with pytest.raises(CRMError, match=message) as exc:
        load_survey(scrm, path)
    assert str(exc.value).startswith(path)
    assert scrm.store.count("surveys") == 0 and scrm.store.count("survey_questions") == 0


def test_question_option_syntax():
    q = parse_question_option("rating(10)?:speed:How fast?", 1)
    assert (q.type, q.scale, q.required, q.key, q.text) == ("rating", 10, False, "speed", "How fast?")
    q = parse_question_option("multiple(Price, Quality):liked:What did you like: really?", 2)
    assert (q.type, q.choices, q.text) == ("multiple", ["Price", "Quality"], "What did you like: really?")
    with pytest.raises(CRMError, match="TYPE:KEY:TEXT"):
        parse_question_option("nps only", 1)


def test_names_are_unique_and_closing_is_recorded(scrm, survey):
    with pytest.raises(CRMError, match="already exists"):
        create_survey(scrm, "feedback", "", [{"key": "a", "type": "nps", "text": "A"}])
    close_survey(scrm, "feedback")
    closed = get_survey(scrm, "feedback")
    assert closed["status"] == "closed" and closed["closed_at"]
    assert [r["status"] for r in list_surveys(scrm)] == ["closed"]
    with pytest.raises(CRMError, match="already closed"):
        close_survey(scrm, "feedback")


def test_unknown_survey_lists_the_known_ones(scrm, survey):
    with pytest.raises(CRMError, match=r"no survey 'nope' \(surveys: feedback\)"):
        get_survey(scrm, "nope")


def test_reserved_keys_and_choices_from_text(scrm):
    with pytest.raises(CRMError, match="'email' is reserved for the response import"):
        create_survey(scrm, "x", "", [{"key": "email", "type": "text", "text": "Your e-mail?"}])
    create_survey(scrm, "y", "", [{"key": "where", "type": "choice", "text": "Where?", "choices": "Web, Store"}])
    assert get_survey(scrm, "y")["questions"][0]["choices"] == ["Web", "Store"]
