"""pytest fixtures for the CRM and for plugin authors.

Installed as a pytest plugin (entry point ``pytest11``), so any project that
depends on crmcore gets these fixtures:

- ``make_crm(plugins=[...])``: a fresh, migrated CRM in a temporary folder
  with exactly the given plugins (modules or ``(name, module)`` pairs).
- ``crm``: the same with the core only.
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
