"""`crm plugins new NAME` makes a package that pip installs and whose own tests pass."""

import json

import pytest

from pip_sandbox import layered_venv, pip_install_editable, run_crm, run_pytest


def test_scaffold_installs_with_pip_and_its_test_passes(run_cli, tmp_path):
    result = run_cli(["plugins", "new", "gift-cards", "--dir", str(tmp_path)], db=None)
    assert result.exit_code == 0, result.output
    project = tmp_path / "crm-gift-cards"
    assert result.output.splitlines()[0] == f"Created {project}"
    assert sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()) == [
        "README.md", "crm_gift_cards/__init__.py", "crm_gift_cards/commands.py", "crm_gift_cards/report.py",
        "crm_gift_cards/static/gift_cards.css", "crm_gift_cards/templates/gift_cards.html",
        "crm_gift_cards/templates/web_gift_cards.html", "crm_gift_cards/web.py", "pyproject.toml", "tests/test_gift_cards_plugin.py"]
    pyproject = (project / "pyproject.toml").read_text()
    assert '[project.entry-points.crm]\ngift_cards = "crm_gift_cards"' in pyproject
    assert "crm_api_version = 1" in (project / "crm_gift_cards/__init__.py").read_text()

    python = layered_venv(tmp_path / "venv")
    pip_install_editable(python, project)

    tests = run_pytest(python, project / "tests", cwd=project)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout

    db = tmp_path / "shop.db"
    assert run_crm(python, ["init"], db).returncode == 0
    listed = {p["name"]: p for p in json.loads(run_crm(python, ["plugins", "list", "--json"], db).stdout)}
    assert listed["gift_cards"]["version"] == "0.1.0" and listed["gift_cards"]["enabled"]
    run_crm(python, ["contacts", "add", "--email", "ada@example.com", "--country", "DE"], db)
    hello = run_crm(python, ["gift_cards", "hello"], db, env={"CRM_LOAD_PLUGINS": "gift_cards"})
    assert hello.returncode == 0 and hello.stdout.strip() == "Hello from gift_cards: 1 contacts, 1 seen"
    rendered = run_crm(python, ["report", "render", "gift_cards", "-o", str(tmp_path / "g.html")], db)
    assert rendered.returncode == 0, rendered.stderr
    assert "Contacts per country" in (tmp_path / "g.html").read_text()


@pytest.mark.parametrize("name, message", [
    ("Gift", "must start with a lowercase letter"),
    ("../evil", "must start with a lowercase letter"),
    ("a" * 41, "at most 40"),
])
def test_scaffold_refuses_bad_names(run_cli, tmp_path, name, message):
    result = run_cli(["plugins", "new", name, "--dir", str(tmp_path)], db=None)
    assert result.exit_code == 1 and message in result.output
    assert list(tmp_path.iterdir()) == []


def test_scaffold_never_overwrites(run_cli, tmp_path):
    (tmp_path / "crm-gifts").mkdir()
    (tmp_path / "crm-gifts" / "keep.txt").write_text("mine")
    result = run_cli(["plugins", "new", "gifts", "--dir", str(tmp_path)], db=None)
    assert result.exit_code == 1 and "already exists" in result.output
    assert [p.name for p in (tmp_path / "crm-gifts").iterdir()] == ["keep.txt"]
