"""Reports agree with themselves, checked in a real browser: the dashboard and
a few plugin reports of one demo CRM whose data ends mid-month, opened in
headless Chromium at 1280 px and 390 px (the Selenium set-up of
test_web_browser.py, no browser download).

On every page: no command-line text under the heading and no "True" where a
word belongs, no KPI figure is wider than its card, every bar of every bar
chart carries its label and its value (or the chart says where the values
are), the page says which period "the last 12 months" is, every chart says
its period, the partial current month is drawn and marked as partial, and at
390 px nothing but a scroll box (with its edge-shadow cue) is wider than the
screen. Screenshots are kept in test-artifacts/report-*.png."""

import datetime as dt
import re

import pytest
from test_web_browser import ARTIFACTS, browser  # noqa: F401  (the module-scoped Chromium fixture)

from crmcore import reports

TODAY = dt.date(2025, 9, 17)  # the demo's orders end the day before: September 2025 is partial
PERIOD = "Last 12 months: Sep 2024 – Aug 2025 in full, plus Sep 2025 so far (partial month, to 16 Sep 2025)"
# how a chart's caption says its period: months, a day, or in words
PERIOD_WORDS = re.compile(r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}|\bnow\b|all time|every answer|all cases|"
                          r"weeks|last refresh|as of|scored|all contacts|up to \d{4}-\d\d-\d\d", re.IGNORECASE)


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    import crm_products
    import crm_segments
    import crm_service
    import crm_surveys

    from crmcore.app import CRM
    from crmcore.demo import generate

    folder = tmp_path_factory.mktemp("report-browser")
    crm = CRM(str(folder / "crm.db"), plugins=[crm_products, crm_segments, crm_surveys, crm_service])
    crm.migrate()
    generate(crm, 300, seed=11, today=TODAY)
    survey = crm.store.query_value("SELECT name FROM surveys ORDER BY id LIMIT 1")
    found = {}
    for name, params in (("dashboard", {}), ("products", {}), ("product", {"sku": "GRD-001"}), ("segments", {}),
                         ("survey", {"survey": survey}), ("service", {}), ("team", {}), ("accounts", {})):
        path = folder / f"{name}.html"
        reports.write_report(crm, name, str(path), params)
        found[name] = path
    crm.close()
    return found


def _open(driver, path, width):
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})
    driver.get(path.as_uri())


KPI_OVERFLOW = """return [...document.querySelectorAll('.kpi')].filter(card => {
  const value = card.querySelector('.value'), box = card.getBoundingClientRect(), r = value.getBoundingClientRect();
  return value.scrollWidth > value.clientWidth || r.right > box.right - 1 || r.left < box.left;
}).map(card => card.textContent.trim().replace(/\\s+/g, ' '))"""

# Each bar is a <g class="bar"> holding its rect, its label and (room allowing) its value.
BARS = """return [...document.querySelectorAll('figure.chart svg')].filter(svg => svg.querySelector('g.bar')).map(svg => {
  const box = svg.getBoundingClientRect(), bars = [...svg.querySelectorAll('g.bar')];
  const inside = t => { const r = t.getBoundingClientRect(); return r.width > 0 && r.left >= box.left - 1 && r.right <= box.right + 1 && r.bottom <= box.bottom + 1; };
  const labels = bars.map(g => g.querySelector('text.bar-label'));
  const upright = labels.filter(t => t && !t.getAttribute('transform')).map(t => t.getBoundingClientRect());
  let overlaps = 0;
  for (let i = 1; i < upright.length; i++) if (upright[i].left < upright[i - 1].right - 0.5 && upright[i].top < upright[i - 1].bottom) overlaps++;
  return {title: svg.querySelector('title').textContent, bars: bars.length,
          unlabelled: labels.filter(t => !t || !t.textContent.trim() || !inside(t)).length,
          without_value: svg.querySelector('text.values-note') ? 0 : bars.filter(g => !g.querySelector('text.bar-value')).length,
          overlaps: overlaps};
})"""

CAPTIONS = "return [...document.querySelectorAll('figure.chart > figcaption')].map(c => c.textContent.trim())"

# At phone width: the page itself never scrolls sideways; whatever is wider than the screen sits in a
# scroll box (overflow-x auto) that draws the edge shadow (radial gradients in its background).
PHONE = """const width = document.documentElement.clientWidth;
const boxes = [...document.querySelectorAll('.table-wrap, .wide, figure.chart')].filter(b => b.scrollWidth > b.clientWidth + 1);
const escaped = [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > width + 1)
  .filter(e => !e.closest('.table-wrap, .wide, figure.chart')).map(e => e.tagName + '.' + (e.getAttribute('class') || ''));
const uncued = boxes.filter(b => { const s = getComputedStyle(b); return !['auto', 'scroll'].includes(s.overflowX) || !s.backgroundImage.includes('radial-gradient'); })
  .map(b => b.className);
return {page: document.documentElement.scrollWidth - width, escaped: escaped.slice(0, 5), uncued: uncued, scrolling: boxes.length};"""


@pytest.mark.parametrize("width", [1280, 390])
def test_reports_agree_with_themselves_in_a_browser(pages, browser, width):  # noqa: F811
    d = browser
    ARTIFACTS.mkdir(exist_ok=True)
    bar_charts = {}
    for name, path in pages.items():
        _open(d, path, width)
        assert d.execute_script(KPI_OVERFLOW) == [], f"{name} at {width}px: a KPI figure is wider than its card"
        header = d.execute_script("return document.querySelector('header.page').textContent")
        assert "--param" not in header and "True" not in d.execute_script("return document.body.innerText"), name
        bar_charts[name] = d.execute_script(BARS)
        for chart in bar_charts[name]:
            assert chart["unlabelled"] == 0 and chart["without_value"] == 0 and chart["overlaps"] == 0, f"{name} at {width}px: {chart}"
        for caption in d.execute_script(CAPTIONS):
            assert PERIOD_WORDS.search(caption), f"{name}: the chart {caption!r} does not say its period"
        if width < 600:
            phone = d.execute_script(PHONE)
            assert phone["page"] <= 0 and phone["escaped"] == [] and phone["uncued"] == [], f"{name} at {width}px: {phone}"
        height = d.execute_script("return document.documentElement.scrollHeight")
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                          {"width": width, "height": min(height, 6000), "deviceScaleFactor": 1, "mobile": width < 600})
        (ARTIFACTS / f"report-{name}-{width}.png").write_bytes(d.get_screenshot_as_png())
    d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    # the checks above saw the bar charts: pipeline, new contacts, segment sizes, RFM mix, open cases on the dashboard
    assert len(bar_charts["dashboard"]) >= 5 and sum(map(len, bar_charts.values())) >= 15, {k: len(v) for k, v in bar_charts.items()}


def test_the_dashboard_states_its_period_and_marks_the_partial_month(pages, browser):  # noqa: F811
    d = browser
    _open(d, pages["dashboard"], 1280)
    assert d.find_element("css selector", "header.page p").text == PERIOD
    partial = d.execute_script(
        "return [...document.querySelectorAll('figure.chart')].filter(f => f.querySelector('.partial-label'))"
        ".map(f => [f.querySelector('figcaption').textContent, f.querySelector('.partial-label').getBoundingClientRect().width,"
        " [...f.querySelectorAll('td')].some(td => td.textContent === 'Sep 2025 (partial)')])")
    captions = [c for c, _, _ in partial]
    assert any(c.startswith("Revenue per month") for c in captions) and any(c.startswith("New contacts per month") for c in captions)
    assert all(w > 0 and in_table for _, w, in_table in partial), partial
    # the partial bar is drawn pale, not as a full one
    opacity = d.execute_script("return document.querySelector('g.bar.partial rect').getAttribute('fill-opacity')")
    assert float(opacity) < 1
    d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
