"""Downloading an audience from `crm serve`: only contacts the user may see,
consent and suppressions applied as in `crm export`, logged with the user."""

import csv
import io
import json

import pytest

pytest.importorskip("httpx")

import crm_exports  # noqa: E402
from crmcore import hookimpl  # noqa: E402
from crmcore.entities import Contact  # noqa: E402


class Segments:
    segments = {}

    @hookimpl
    def crm_segment_contact_ids(self, crm, name):
        return self.segments.get(name)

    @hookimpl
    def crm_segment_names(self, crm):
        return sorted(self.segments)


@pytest.fixture
def ecrm(make_crm):
    seg = Segments()
    crm = make_crm(plugins=[crm_exports, ("segments", seg)])
    crm.ids = dict(zip(["mine", "mine_no_consent", "theirs", "mine_suppressed"], crm.add_many([
        Contact(first_name="Mia", email="mia@example.com", consent=True, owner="sales@example.com"),
        Contact(first_name="Nico", email="nico@example.com", consent=False, owner="sales@example.com"),
        Contact(first_name="Otto", email="otto@example.com", consent=True, owner="else@example.com"),
        Contact(first_name="Sue", email="sue@example.com", consent=True, owner="sales@example.com"),
    ])))
    crm.suppress("sue@example.com")
    seg.segments = {"all4": list(crm.ids.values())}
    return crm


def download(c, **form):
    return c.post("/exports/download", data={"csrf_token": c.csrf, **form})


def test_sales_downloads_only_their_consenting_contacts_and_it_is_logged(ecrm, web_user):
    c = web_user(ecrm, "sales")
    page = c.get("/exports")
    assert page.status_code == 200 and 'value="all4"' in page.text and 'value="mailchimp"' in page.text
    r = download(c, format="csv", segment="all4")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'attachment; filename="all4-csv-' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["email"] for row in rows] == ["mia@example.com"]  # Otto is not theirs, Nico has no consent, Sue unsubscribed
    log = ecrm.store.query("SELECT * FROM export_log")
    assert [(x["user"], x["format"], x["segment"], x["row_count"]) for x in log] == [("sales@example.com", "csv", "all4", 1)]
    assert json.loads(log[0]["excluded"]) == {"no consent": 1, "suppressed": 1}
    held = [x["contact_id"] for x in ecrm.store.query("SELECT contact_id FROM export_log_contacts")]
    assert held == [ecrm.ids["mine"]]
    assert "all4" in c.get("/exports").text  # the user's own log


def test_manager_exports_everyone_in_json(ecrm, web_user):
    c = web_user(ecrm, "manager")
    r = download(c, format="json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert sorted(x["email"] for x in json.loads(r.text)) == ["mia@example.com", "otto@example.com"]


def test_bad_choices_and_roles_without_the_permission(ecrm, web_user):
    c = web_user(ecrm, "manager")
    r = download(c, format="nope")
    assert r.status_code == 400 and "unknown export format" in r.text
    r = download(c, format="csv", segment="<script>x</script>")
    assert r.status_code == 400 and "no segment named" in r.text and "<script>x" not in r.text
    assert c.post("/exports/download", data={"format": "csv"}).status_code == 403  # no CSRF token
    for role in ("viewer", "service"):
        other = web_user(ecrm, role)
        assert other.get("/exports").status_code == 403
        assert download(other, format="csv").status_code == 403
        assert 'href="/exports"' not in other.get("/").text
    assert ecrm.store.query_value("SELECT count(*) FROM export_log") == 0
