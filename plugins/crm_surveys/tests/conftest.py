"""Fixtures of the surveys tests: a CRM with the plugin, a stand-in for the
segments plugin (answering crm_segment_contact_ids), and a survey with every
question type."""

import pytest

import crm_surveys
from crmcore import hookimpl
from crmcore.entities import Contact

QUESTIONS = [
    {"key": "nps", "type": "nps", "text": "How likely are you to recommend us?"},
    {"key": "csat", "type": "csat", "text": "How satisfied are you?"},
    {"key": "ces", "type": "ces", "text": "How easy was it?", "required": False},
    {"key": "quality", "type": "rating", "text": "Rate the quality", "scale": 10, "required": False},
    {"key": "where", "type": "choice", "text": "Where did you buy?", "choices": ["Web", "Store"], "required": False},
    {"key": "liked", "type": "multiple", "text": "What did you like?", "choices": ["Price", "Quality", "Delivery"], "required": False},
    {"key": "comment", "type": "text", "text": "Anything else?"},
]


class FakeSegments:
    """Answers segment membership like the segments plugin would."""

    def __init__(self):
        self.segments = {}

    @hookimpl
    def crm_segment_contact_ids(self, crm, name):
        return self.segments.get(name)


@pytest.fixture
def segments():
    return FakeSegments()


@pytest.fixture
def scrm(make_crm, segments):
    return make_crm(plugins=[crm_surveys, ("segments", segments)])


@pytest.fixture
def survey(scrm):
    from crm_surveys.definitions import create_survey, get_survey

    create_survey(scrm, "feedback", "After purchase", QUESTIONS, "https://shop.example/f")
    return get_survey(scrm, "feedback")


@pytest.fixture
def people(scrm):
    """Three contacts: Ada (consent, owner alice), Bob (consent, owner bob), Cy (no consent)."""
    return scrm.add_many([
        Contact(first_name="Ada", last_name="Lovelace", email="ada@example.com", consent=True, owner="alice"),
        Contact(first_name="Bob", last_name="Byte", email="bob@example.com", consent=True, owner="bob"),
        Contact(first_name="Cy", last_name="Nope", email="cy@example.com", consent=False, owner="carla"),
    ])
