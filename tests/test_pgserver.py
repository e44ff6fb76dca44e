"""The throw-away PostgreSQL server of ``--store=postgres`` runs."""

import pytest

from crmcore import pgserver


def test_missing_server_programs_fail_with_how_to_install(monkeypatch):
    monkeypatch.setattr(pgserver.shutil, "which", lambda name: None)
    monkeypatch.setattr(pgserver.glob, "glob", lambda pattern: [])
    with pytest.raises(pgserver.ServerError, match=r"no PostgreSQL server binaries .*apt-get install postgresql.*CRM_TEST_POSTGRES_URL"):
        pgserver.find_bin()


def test_newest_debian_version_is_chosen(monkeypatch):
    monkeypatch.setattr(pgserver.shutil, "which", lambda name: None)
    found = ["/usr/lib/postgresql/9/bin/initdb", "/usr/lib/postgresql/16/bin/initdb", "/usr/lib/postgresql/15/bin/initdb"]
    monkeypatch.setattr(pgserver.glob, "glob", lambda pattern: found)
    assert pgserver.find_bin() == "/usr/lib/postgresql/16/bin"
