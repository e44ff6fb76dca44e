"""The example third-party plugin in examples/, installed with pip through its
entry point exactly as a user installs it, then used through the real CLI."""

import json
import re
import pathlib

import pytest

from pip_sandbox import layered_venv, pip_install_editable, run_crm, run_pytest

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "crm_example_plugin"

ORDERS = """ref,email,ordered_at,sku,description,quantity,unit_price
A-1,ada@example.com,2025-03-01,KIT-001,Chef's knife,1,79.00
A-1,ada@example.com,2025-03-01,KIT-004,Knife sharpener,1,19.90
A-2,ada@example.com,2025-04-02,HOM-003,Scented candle,1,9.90
B-1,bo@example.com,2025-04-03,GRD-004,Raised bed kit,2,129.00
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    python = layered_venv(tmp_path_factory.mktemp("venv") / "v")
    pip_install_editable(python, EXAMPLE)
    return python


@pytest.fixture
def crm(env, tmp_path):
    db = tmp_path / "shop.db"

    def run(*args, plugins="loyalty", check=True):
        result = run_crm(env, list(args), db, env={"CRM_LOAD_PLUGINS": plugins} if plugins is not None else None, cwd=tmp_path)
        if check:
            assert result.returncode == 0, result.stderr
        return result

    assert run("init").returncode == 0
    return run


def test_installed_plugin_is_found_through_its_entry_point(crm):
    rows = {p["name"]: p for p in json.loads(crm("plugins", "list", "--json", plugins=None).stdout)}
    loyalty = rows["loyalty"]
    assert loyalty["version"] == "0.1.0" and loyalty["enabled"] and loyalty["error"] is None
    assert {"crm_records_saved", "crm_register_migrations", "crm_register_commands", "crm_register_reports"} <= set(loyalty["hooks"])
    assert "loyalty" in crm("--help").stdout


def test_orders_earn_points_through_the_records_saved_hook(crm, tmp_path):
    crm("contacts", "add", "--email", "ada@example.com", "--first-name", "Ada")
    crm("contacts", "add", "--email", "bo@example.com", "--first-name", "Bo")
    (tmp_path / "orders.csv").write_text(ORDERS)
    crm("orders", "import", str(tmp_path / "orders.csv"))
    # A-1 98.90 -> 9 points, A-2 9.90 -> 0, B-1 258.00 -> 25
    balances = json.loads(crm("loyalty", "balance", "--json").stdout)
    assert [(b["email"], b["points"]) for b in balances] == [("bo@example.com", 25), ("ada@example.com", 9)]
    assert crm("loyalty", "award", "ada@example.com", "-4", "--reason", "voucher").stdout.strip() == "Balance: 5"
    too_many = crm("loyalty", "award", "ada@example.com", "-6", check=False)
    assert too_many.returncode == 1 and too_many.stderr.strip() == "Error: contact ada@example.com has only 5 points"


def test_report_and_dashboard_section(crm, tmp_path):
    crm("contacts", "add", "--email", "bo@example.com", "--first-name", "Bo", "--last-name", "<b>Bold</b>")
    (tmp_path / "orders.csv").write_text(ORDERS.replace("ada@", "bo@"))
    crm("orders", "import", str(tmp_path / "orders.csv"))
    assert re.search(r"^loyalty\s+loyalty\s+Loyalty points", crm("report", "list").stdout, re.M)
    crm("report", "render", "loyalty", "-o", "loyalty.html")
    html = (tmp_path / "loyalty.html").read_text()
    assert "Loyalty programme" in html and "Bo &lt;b&gt;Bold&lt;/b&gt;" in html and ">34<" in html
    crm("report", "render", "dashboard", "-o", "dash.html")
    assert 'data-plugin="loyalty"' in (tmp_path / "dash.html").read_text()

    crm("plugins", "disable", "loyalty")
    crm("report", "render", "dashboard", "-o", "dash.html")
    assert 'data-plugin="loyalty"' not in (tmp_path / "dash.html").read_text()
    assert crm("loyalty", "balance", check=False).returncode == 2


def test_example_plugin_own_tests_pass(env):
    result = run_pytest(env, EXAMPLE / "tests", cwd=EXAMPLE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
