"""Issue 16, item 12: a segment that uses a field of a disabled plugin does
not block a bulk refresh: the others are refreshed and the skipped one is
reported naming the segment and the plugin; it can still be shown; refreshing
it alone is a one-line error saying what to do."""

import json

import pytest

import crm_products
import crm_segments
from crm_segments.segments import create_segment, refresh, show
from crmcore import CRMError
from crmcore.entities import Contact


@pytest.fixture
def crm(make_crm):
    crm = make_crm(plugins=[crm_segments, crm_products])
    crm.add_many([Contact(email=f"p{i}@example.com", country="DE" if i % 2 else "FR") for i in range(6)])
    create_segment(crm, "germans", rule='country == "DE"')
    create_segment(crm, "garden", rule='bought_category contains "garden"')
    create_segment(crm, "zeta", rule='country == "FR"')
    refresh(crm)
    crm.set_enabled("products", False)
    return crm


def test_bulk_refresh_skips_it_and_refreshes_the_others(crm):
    skipped = []
    results = refresh(crm, skipped=skipped)
    assert [(r["segment"], r["size"]) for r in results] == [("germans", 3), ("zeta", 3)]
    assert skipped == ["segment 'garden' uses field 'bought_category' of the disabled plugin 'products' "
                       "(crm plugins enable products); not refreshed"]


def test_refreshing_it_alone_names_the_segment_and_the_plugin(crm):
    with pytest.raises(CRMError) as err:
        refresh(crm, ["garden"])
    assert str(err.value) == ("segment 'garden' uses field 'bought_category' of the disabled plugin 'products' "
                              "(crm plugins enable products); not refreshed")


def test_it_can_still_be_shown(crm):
    info = show(crm, "garden")
    assert info["name"] == "garden" and info["size"] == 0 and info["rule"] == 'bought_category contains "garden"'
    assert "disabled plugin 'products'" in info["note"]


def test_cli_refresh_reports_the_skipped_segment_and_succeeds(run_cli):
    run = lambda args: run_cli(args, plugins="segments,products")  # noqa: E731
    run(["init"])
    run(["contacts", "add", "--email", "a@example.com", "--country", "DE"])
    run(["segments", "create", "germans", "--rule", 'country == "DE"'])
    run(["segments", "create", "garden", "--rule", 'bought_category contains "garden"'])
    run(["plugins", "disable", "products"])
    result = run(["segments", "refresh", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["segment"] for r in rows] == ["germans"]
    assert "segment 'garden' uses field 'bought_category' of the disabled plugin 'products'" in result.stderr
