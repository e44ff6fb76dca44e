"""The dashboard of a demo CRM opened in headless Chromium: it renders without
console errors and without a single network request, and reads on a phone.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
null-separated JSON on file descriptors 3 and 4), so no extra package is needed.
Screenshots are kept in test-artifacts/ for a person to look at."""

import datetime as dt
import fcntl
import json
import os
import pathlib
import re
import select
import shutil
import subprocess
import tempfile
import time
import warnings

import pytest

from crmcore import reports
from crmcore.demo import generate

ARTIFACTS = pathlib.Path(__file__).resolve().parent.parent / "test-artifacts"


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


class Browser:
    """Headless Chromium with one page, spoken to over the DevTools pipe."""

    def __init__(self, executable):
        self.profile = tempfile.mkdtemp(prefix="crm-chromium-")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def wire_fds():  # in the child: the protocol lives on fds 3 (commands in) and 4 (replies out)
            a = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 100)
            b = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 100)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-extensions",
             "--disable-default-apps", "--disable-dev-shm-usage", "--no-default-browser-check", "--mute-audio", "--hide-scrollbars",
             f"--user-data-dir={self.profile}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire_fds, close_fds=False)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer, self.next_id, self.events = b"", 0, []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def _read(self, deadline):
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_browser], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and getattr(self, "session", None):
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method, timeout=30):
        deadline = time.monotonic() + timeout
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self._read(deadline)
            if event.get("method") == method:
                return event
            self.events.append(event)

    def evaluate(self, expression):
        return self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})["result"].get("value")

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_browser)
        os.close(self.from_browser)
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def chromium():
    path = find_chromium()
    if not path:
        message = ("CHROMIUM NOT FOUND: the browser test of the HTML dashboard did NOT run. "
                   "Install it (apt-get install chromium; .ci/run does this) to check reports in a real browser.")
        warnings.warn(message)
        pytest.skip(message)
    browser = Browser(path)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def dashboard_file(tmp_path_factory):
    from crmcore.app import CRM

    import crm_exports, crm_products, crm_segments, crm_surveys

    folder = tmp_path_factory.mktemp("browser")
    # Every built-in plugin, so their dashboard sections are rendered in the browser too.
    crm = CRM(str(folder / "demo.db"), plugins=[crm_products, crm_segments, crm_surveys, crm_exports])
    crm.migrate()
    generate(crm, 300, seed=11, today=dt.date(2025, 9, 30))
    path = folder / "dashboard.html"
    reports.write_report(crm, "dashboard", str(path))
    crm.close()
    return path


def test_report_file_refers_to_nothing_outside_itself(dashboard_file):
    html = dashboard_file.read_text(encoding="utf-8")
    assert re.search(r"""<meta http-equiv="Content-Security-Policy" content="default-src 'none';""", html)
    assert not re.search(r"""\b(src|href|action|poster|data)\s*=\s*["']?(?!#|data:)[^"'\s>]+""", html), "report refers to an external resource"
    assert "url(" not in html and "@import" not in html and "<script" not in html


def test_dashboard_in_chromium_has_no_console_errors_and_no_network_requests(chromium, dashboard_file):
    for domain in ("Page", "Runtime", "Log", "Network"):
        chromium.call(f"{domain}.enable")
    chromium.call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    url = dashboard_file.as_uri()
    chromium.events.clear()
    chromium.call("Page.navigate", {"url": url})
    chromium.wait_for("Page.loadEventFired")
    chromium.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    requests = [e["params"]["request"]["url"] for e in chromium.events if e.get("method") == "Network.requestWillBeSent"]
    assert [r for r in requests if r != url] == [], "the report made network requests"
    errors = [e["params"] for e in chromium.events
              if e.get("method") == "Runtime.exceptionThrown"
              or e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "warning", "assert")
              or e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] in ("error", "warning")]
    assert errors == []

    assert chromium.evaluate("document.title") == "CRM dashboard · CRM"
    core_charts = "[...document.querySelectorAll('figure.chart svg')].filter(s => !s.closest('[data-plugin]')).length"
    assert chromium.evaluate(core_charts) == 5  # revenue line, channel donut, pipeline, new contacts, countries
    sections = chromium.evaluate("[...document.querySelectorAll('[data-plugin]')].map(s => s.dataset.plugin).sort()")
    assert sections == ["exports", "products", "segments", "surveys"]
    # every chart was laid out with a real size
    sizes = chromium.evaluate("[...document.querySelectorAll('figure.chart svg')].map(s => [s.getBoundingClientRect().width, s.getBoundingClientRect().height])")
    assert all(w > 250 and h > 100 for w, h in sizes), sizes

    ARTIFACTS.mkdir(exist_ok=True)
    height = chromium.evaluate("document.documentElement.scrollHeight")
    chromium.call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": False})
    shot = chromium.call("Page.captureScreenshot", {"format": "png"})
    import base64

    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    (ARTIFACTS / "dashboard.png").write_bytes(png)


def test_dashboard_reads_on_a_phone(chromium, dashboard_file):
    chromium.call("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    chromium.call("Page.navigate", {"url": dashboard_file.as_uri()})
    chromium.wait_for("Page.loadEventFired")
    overflow = chromium.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"page is {overflow}px wider than a phone screen"
    font = chromium.evaluate("parseFloat(getComputedStyle(document.querySelector('table td')).fontSize)")
    assert font >= 11
    shot = chromium.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})
    import base64

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "dashboard-phone.png").write_bytes(base64.b64decode(shot["data"]))


def test_dashboard_prints_on_a4(chromium, dashboard_file):
    chromium.call("Page.navigate", {"url": dashboard_file.as_uri()})
    chromium.wait_for("Page.loadEventFired")
    pdf = chromium.call("Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69, "printBackground": False}, timeout=60)
    import base64

    data = base64.b64decode(pdf["data"])
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert 1 <= pages <= 10, f"the dashboard with every plugin's section prints on {pages} A4 pages"
    (ARTIFACTS / "dashboard-a4.pdf").write_bytes(data)
