"""pytest fixtures for the CRM and for plugin authors.

Installed as a pytest plugin (entry point ``pytest11``), so any project that
depends on crmcore gets these fixtures:

- ``make_crm(plugins=[...])``: a fresh, migrated CRM in a temporary folder
  with exactly the given plugins (modules or ``(name, module)`` pairs).
- ``crm``: the same with the core only.
- ``sample_crm(plugins=[...], contacts=200)``: the same filled with demo data.
- ``run_cli(args, db=..., plugins="a,b")``: run the ``crm`` command in-process;
  ``plugins`` becomes ``CRM_LOAD_PLUGINS`` (only those installed plugins load).
- ``write_file(name, text)``: a file in the test's temporary folder.

Tests never load whatever happens to be installed unless they ask to.
"""

import os

import pytest


@pytest.fixture
def make_crm(tmp_path):
    from .app import CRM

    opened = []

    def make(plugins=(), name="crm.db", templates=None):
        crm = CRM(str(tmp_path / name), plugins=list(plugins), templates=templates)
        crm.migrate()
        opened.append(crm)
        return crm

    yield make
    for crm in opened:
        crm.close()


@pytest.fixture
def crm(make_crm):
    return make_crm()


@pytest.fixture
def sample_crm(make_crm):
    """``sample_crm(plugins=[...], contacts=200)``: a fresh CRM filled with the
    reproducible demo data (and each given plugin's ``crm_demo_data``)."""
    import datetime as dt

    from .demo import generate

    def make(plugins=(), contacts=200, seed=42, name="sample.db", today=dt.date(2025, 6, 30)):
        crm = make_crm(plugins=plugins, name=name)
        generate(crm, contacts, seed, today=today)
        return crm

    return make


@pytest.fixture
def write_file(tmp_path):
    def write(name, text, encoding="utf-8"):
        path = tmp_path / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding=encoding)
        return str(path)

    return write


@pytest.fixture
def run_cli(tmp_path, monkeypatch):
    """Invoke ``crm`` in-process. Returns click's ``Result`` (exit_code, output)."""
    from click.testing import CliRunner

    from . import plugins as plugin_module
    from .cli import cli

    default_db = str(tmp_path / "cli.db")

    def run(args, db=default_db, plugins="", input=None, env=None):
        monkeypatch.setenv("CRM_LOAD_PLUGINS", plugins)
        monkeypatch.delenv("CRM_DB", raising=False)
        monkeypatch.delenv("CRM_TEMPLATES", raising=False)
        plugin_module.reset_discovery()
        try:
            runner = CliRunner()
            full = (["--db", db] if db else []) + list(args)
            return runner.invoke(cli, full, input=input, env=env, catch_exceptions=False)
        finally:
            plugin_module.reset_discovery()

    run.db = default_db
    return run


def pytest_configure(config):
    os.environ.setdefault("CRM_USER", "tester")


def write_plugin_dist(folder, name, module, source, version="0.1"):
    """Make ``module`` (with ``source``) importable from ``folder`` with an
    entry point ``name`` in the group ``crm``, as ``pip install`` would.

    Put ``folder`` on ``PYTHONPATH`` (subprocess) or ``sys.path`` to install it."""
    import pathlib
    import textwrap

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    dist = folder / f"{module}-{version}.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: {version}\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text(f"[crm]\n{name} = {module}\n", encoding="utf-8")
    return str(folder)


@pytest.fixture
def crm_subprocess(tmp_path):
    """Run the real ``crm`` executable with extra plugin folders on PYTHONPATH."""
    import subprocess
    import sys

    def run(args, pythonpath=(), env=None, db=None):
        full_env = {k: v for k, v in os.environ.items() if k not in ("CRM_LOAD_PLUGINS", "CRM_DB")}
        full_env["PYTHONPATH"] = os.pathsep.join(list(pythonpath) + [full_env.get("PYTHONPATH", "")])
        full_env.update(env or {})
        cmd = [sys.executable, "-c", "from crmcore.cli import main; main()", "--db", db or str(tmp_path / "sub.db"), *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=120)

    return run
