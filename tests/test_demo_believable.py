"""Demo data a person would believe: nothing in the future, deals closed
after they were opened, names and genders that go together, calls on the
phone, survey groups that are segments, exports on the dashboard."""

import datetime as dt

import pytest

import crm_campaigns
import crm_exports
import crm_products
import crm_segments
import crm_service
import crm_surveys
from crmcore import normalize
from crmcore.demo import FEMALE_NAMES, generate

PLUGINS = [crm_products, crm_segments, crm_surveys, crm_exports, crm_service, crm_campaigns]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from crmcore import CRM

    crm = CRM(str(tmp_path_factory.mktemp("demo") / "demo.db"), plugins=PLUGINS)
    crm.migrate()
    generate(crm, 250, seed=7)  # today, as `crm quickstart` does
    yield crm
    crm.close()


def test_no_survey_answer_in_the_future(demo):
    now = normalize.now()
    assert demo.store.query_value("SELECT count(*) FROM survey_responses") > 20
    assert demo.store.query_value("SELECT max(submitted_at) FROM survey_responses") <= now


def test_deals_close_after_they_open_and_not_in_the_future(demo):
    rows = demo.store.query("SELECT created_at, closed_at, status FROM deals")
    closed = [r for r in rows if r["status"] != "open"]
    assert len(closed) > 10 and len(rows) > len(closed)
    assert all(str(r["created_at"])[:10] <= str(r["closed_at"])[:10] <= dt.date.today().isoformat() for r in closed)
    assert all(str(r["created_at"])[:10] <= dt.date.today().isoformat() for r in rows)


def test_first_names_and_genders_go_together(demo):
    rows = demo.store.query("SELECT first_name, gender FROM contacts WHERE gender IN ('female', 'male')")
    assert len(rows) > 100
    wrong = [(r["first_name"], r["gender"]) for r in rows if (r["gender"] == "female") != (r["first_name"] in FEMALE_NAMES)]
    assert wrong == []


def test_calls_are_on_the_phone(demo):
    channels = {r["channel"] for r in demo.store.query("SELECT DISTINCT channel FROM activities WHERE kind = 'call'")}
    assert channels == {"phone"}


def test_survey_groups_are_segments(demo):
    groups = {r["segment"] for r in demo.store.query("SELECT DISTINCT segment FROM survey_invitations WHERE segment <> ''")}
    segments = {r["name"] for r in demo.store.query("SELECT name FROM segments")}
    assert groups == {"recent-buyers", "wholesale"} and groups <= segments
    wholesale = demo.store.query("SELECT c.tags FROM survey_invitations i JOIN contacts c ON c.id = i.contact_id WHERE i.segment = 'wholesale'")
    assert wholesale and all("wholesale" in (r["tags"] if isinstance(r["tags"], list) else normalize.tags(r["tags"])) for r in wholesale)


def test_the_exports_dashboard_section_has_exports(demo):
    from crm_exports.exporter import dashboard_context

    section = dashboard_context(demo)
    assert section["exports"] == 5
    times = [r["exported_at"] for r in section["recent"]]
    assert times == sorted(times, reverse=True) and times[0] <= normalize.now()
    assert {r["format"] for r in section["recent"]} == {"mailchimp", "meta-custom-audience", "google-customer-match"}
    assert [r["segment"] for r in section["recent"] if r["format"] == "meta-custom-audience"] == ["vip"]
