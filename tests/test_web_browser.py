"""`crm serve` in a real browser: headless Chromium from the system's packages,
driven by Selenium through the system's chromedriver (no browser download).

One walk through the app as a team member and as a customer: log in, search a
contact, open their page, log an activity, move a deal on the board, visit
every plugin's pages (products catalogue and a product, a segment's members
and rule editor, survey results, the exports page, the service queue and a
case, a report with its parameter form), answer a survey through its public
link, unsubscribe through the one-click link. No
console errors, no request leaves 127.0.0.1, and no page is wider than a
phone. Screenshots at 1280 px and 390 px are kept in test-artifacts/web-*.png
for a person to look at."""

import datetime as dt
import os
import pathlib
import socket
import threading
import time

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = pathlib.Path(__file__).resolve().parent.parent / "test-artifacts"
PASSWORD = "browser test password"

if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
    pytest.skip(f"CHROMIUM NOT FOUND: the browser test of crm serve did NOT run: it needs {CHROMIUM} and {CHROMEDRIVER} "
                "(apt-get install chromium chromium-driver; .ci/run does this)", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra: pip install -e '.[test]'")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A demo CRM with every built-in plugin, served by Uvicorn on 127.0.0.1 in a thread."""
    import uvicorn
    from argon2 import PasswordHasher

    import crm_exports
    import crm_products
    import crm_segments
    import crm_service
    import crm_surveys
    from crm_segments.segments import create_segment
    from crm_service.cases import open_case
    from crm_surveys.definitions import create_survey
    from crm_surveys.invitations import invite
    from crmcore import links, users
    from crmcore.app import CRM
    from crmcore.demo import generate
    from crmcore.entities import Contact, Deal
    from crmcore.web.app import create_app

    users._hasher = lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # module-scoped; restored below
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    crm = CRM(str(tmp_path_factory.mktemp("web-browser") / "crm.db"), plugins=[crm_products, crm_segments, crm_surveys, crm_exports,
                                                                                           crm_service])
    crm.migrate()
    generate(crm, 60, seed=5, today=dt.date(2025, 9, 30))
    crm.set_setting("base_url", base)
    users.add_user(crm, "manager@example.com", "manager", PASSWORD, name="Mona Manager")
    grace = crm.add(Contact(first_name="Grace", last_name="Hopperfield", email="grace@example.com", city="Arlington", country="US",
                            consent=True, company="Navy Labs", owner="manager@example.com"))
    deal = crm.add(Deal(title="Compiler licences", contact_id=grace, amount=4200, stage="qualified", owner="manager@example.com"))
    create_segment(crm, "browser-test", rule="email = 'grace@example.com'")
    create_survey(crm, "Browser feedback", "Two questions after your order", [
        {"key": "nps", "type": "nps", "text": "How likely are you to recommend us?"},
        {"key": "comment", "type": "text", "text": "Anything else?", "required": False}])
    case = open_case(crm, grace, "Kettle drips after a week", priority="high", description="It leaks at the lid.")
    rows, _ = invite(crm, "Browser feedback", "browser-test")
    survey_path = "/s/" + rows[0]["token"]
    unsubscribe_path = links.unsubscribe_url(crm, grace)[len(base):]
    app = create_app(crm)
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline, "crm serve did not start"
        time.sleep(0.05)
    yield {"base": base, "crm": crm, "grace": grace, "deal": deal, "survey": survey_path, "unsubscribe": unsubscribe_path,
           "case": case}
    uv.should_exit = True
    thread.join(10)
    crm.close()
    import importlib

    importlib.reload(users)


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never download a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
                "--disable-background-networking", "--disable-component-update", "--disable-default-apps", "--disable-sync",
                "--disable-extensions", "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
                # anything not on the loopback interface goes to a closed port: nothing can leave the machine
                "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def shoot(driver, name, width):
    """A full-page screenshot at ``width`` CSS pixels; fails when the page is wider than that."""
    mobile = width < 600
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile})
    overflow = driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    if overflow > 0:
        culprits = driver.execute_script(
            "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1)"
            ".filter(e => !e.parentElement.closest('.board, .table-wrap'))"
            ".slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))")
        debug = driver.execute_script(
            "const b = document.querySelector('.board'); return b ? [b.clientWidth, b.scrollWidth, getComputedStyle(b).overflowX,"
            " document.querySelector('main').getBoundingClientRect().width, document.body.scrollWidth, innerWidth, visualViewport.scale,"
            " document.documentElement.clientWidth, document.documentElement.scrollWidth] : null")
        pytest.fail(f"{name}: the page is {overflow}px wider than {width}px: {culprits} {debug}")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": min(height, 6000), "deviceScaleFactor": 1, "mobile": mobile})
    ARTIFACTS.mkdir(exist_ok=True)
    png = driver.get_screenshot_as_png()
    assert png.startswith(b"\x89PNG")
    (ARTIFACTS / f"web-{name}-{width}.png").write_bytes(png)
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def click_and_load(driver, wait, element):
    """Click something that loads a new page and wait until the old one is gone,
    so that later waits never read an element of the page being replaced."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    wait.until(EC.staleness_of(page))


def both_widths(driver, name):
    shoot(driver, name, 1280)
    shoot(driver, name, 390)


def test_a_walk_through_crm_serve(server, browser):
    import json

    from crm_surveys.definitions import get_survey  # noqa: F401  (the plugin is loaded)

    base, crm, d = server["base"], server["crm"], browser
    wait = WebDriverWait(d, 40)  # generous: the 2-core machine may be busy with the rest of the suite
    d.get_log("performance")  # start from an empty log

    # log in
    d.get(base + "/")
    assert "/login" in d.current_url
    both_widths(d, "login")
    d.find_element(By.NAME, "email").send_keys("manager@example.com")
    d.find_element(By.NAME, "password").send_keys(PASSWORD)
    click_and_load(d, wait, d.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    wait.until(EC.url_to_be(base + "/"))
    assert "manager@example.com" in d.page_source
    both_widths(d, "home")

    # search a contact and open their page
    click_and_load(d, wait, d.find_element(By.LINK_TEXT, "Contacts"))
    wait.until(EC.presence_of_element_located((By.ID, "q"))).send_keys("hopperfield")
    click_and_load(d, wait, d.find_element(By.CSS_SELECTOR, "form.search button"))
    wait.until(EC.url_contains("q=hopperfield"))
    both_widths(d, "contacts-search")
    click_and_load(d, wait, d.find_element(By.LINK_TEXT, "Grace Hopperfield"))
    wait.until(EC.url_to_be(f"{base}/contacts/{server['grace']}"))
    assert d.find_element(By.TAG_NAME, "h1").text.startswith("Grace Hopperfield")

    # log an activity
    Select(d.find_element(By.ID, "kind")).select_by_value("call")
    d.find_element(By.ID, "subject").send_keys("Asked about volume pricing")
    d.find_element(By.ID, "body").send_keys("Call back on Monday")
    click_and_load(d, wait, d.find_element(By.CSS_SELECTOR, "form.log button"))
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "main"), "call: Asked about volume pricing"))
    assert crm.store.query("SELECT kind, owner FROM activities WHERE subject = 'Asked about volume pricing'") == [
        {"kind": "call", "owner": "manager@example.com"}]
    both_widths(d, "contact")

    # move a deal on the board (a plain form on the card)
    click_and_load(d, wait, d.find_element(By.LINK_TEXT, "Deals"))
    wait.until(EC.url_to_be(base + "/deals"))
    Select(d.find_element(By.ID, f"stage-{server['deal']}")).select_by_value("proposal")
    page = d.find_element(By.TAG_NAME, "html")
    click_and_load(d, wait, d.find_element(By.CSS_SELECTOR, f"form[action='/deals/{server['deal']}/move'] button"))
    wait.until(EC.staleness_of(page))
    wait.until(EC.url_to_be(base + "/deals"))
    assert crm.get("deals", server["deal"])["stage"] == "proposal"
    assert [h["action"] for h in crm.history("contacts", server["grace"])][-1] == "move deal"
    both_widths(d, "deals")

    # the plugins' pages, reached as a user reaches them: from the menu, then a link on the page
    def follow(link_css, url_part, name):
        click_and_load(d, wait, wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, link_css))))
        wait.until(EC.url_contains(url_part))
        assert d.find_element(By.TAG_NAME, "h1").text, url_part
        both_widths(d, name)

    def menu(label, url_part, name):
        follow(f"nav[aria-label=Main] a[href='{url_part}']", url_part, name)
        assert d.find_element(By.CSS_SELECTOR, "nav[aria-label=Main] a[aria-current=page]").text == label

    menu("Products", "/products", "products")
    follow("table.records tbody a", "/products/", "product")
    menu("Segments", "/segments", "segments")
    follow("a[href='/segments/browser-test']", "/segments/browser-test", "segment-members")
    assert "Grace Hopperfield" in d.find_element(By.TAG_NAME, "main").text
    follow("a[href='/segments/browser-test/edit']", "/segments/browser-test/edit", "segment-editor")
    assert "grace@example.com" in d.find_element(By.TAG_NAME, "textarea").get_attribute("value")
    menu("Surveys", "/surveys", "surveys")
    follow("main a[href='/surveys/Browser%20feedback']", "/surveys/Browser", "survey-results")
    menu("Exports", "/exports", "exports")
    menu("Service", "/service", "service-queue")
    assert d.execute_script("return [...document.styleSheets].some(s => s.href && s.href.endsWith("
                            "'/static/plugins/service/service.css') && s.cssRules.length > 0)")
    follow(f"a[href='/service/cases/{server['case']}']", f"/service/cases/{server['case']}", "service-case")
    assert "It leaks at the lid." in d.find_element(By.TAG_NAME, "main").text
    menu("Reports", "/reports", "reports")
    form = d.find_element(By.CSS_SELECTOR, "form[action='/reports/product']")
    Select(form.find_element(By.NAME, "sku")).select_by_index(1)
    click_and_load(d, wait, form.find_element(By.TAG_NAME, "button"))
    wait.until(EC.url_contains("/reports/product?sku="))
    assert d.find_element(By.CSS_SELECTOR, ".crm-report-bar select[name=sku]").get_attribute("value") in d.current_url
    both_widths(d, "report-product")
    d.get(f"{base}/contacts/{server['grace']}/edit")
    both_widths(d, "contact-edit")

    # log out; the customer's side needs no login
    d.get(base + "/")
    click_and_load(d, wait, d.find_element(By.CSS_SELECTOR, "form.logout button"))
    wait.until(EC.url_contains("/login"))

    # answer the survey through its public link
    d.get(base + server["survey"])
    both_widths(d, "survey")
    d.find_element(By.CSS_SELECTOR, "input[name=nps][value='9']").click()
    d.find_element(By.NAME, "comment").send_keys("Quick delivery")
    click_and_load(d, wait, d.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Thank you"))
    assert crm.store.query_value("SELECT count(*) FROM survey_responses WHERE channel = 'web'") == 1

    # unsubscribe through the one-click link's confirm page
    d.get(base + server["unsubscribe"])
    both_widths(d, "unsubscribe")
    click_and_load(d, wait, d.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "You are unsubscribed"))
    assert crm.is_suppressed("grace@example.com")

    # no console errors, and every request went to this server
    problems = [e for e in d.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert problems == []
    urls = []
    for entry in d.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    assert len(urls) > 20
    # (data: URLs, such as the date picker's icon, are no request at all)
    assert [u for u in urls if not u.startswith((base + "/", "data:"))] == []
