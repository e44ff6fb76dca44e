"""What only the PostgreSQL store does (run with ``pytest --store=postgres``)."""

import pytest

from crmcore import CRM
from crmcore.entities import Contact
from crmcore.store import StoreError

pytestmark = pytest.mark.postgres_only


def test_plugins_not_yet_ported_are_refused_with_one_line(run_cli):
    result = run_cli(["init"], plugins="segments")
    assert result.exit_code == 0, result.output
    assert "plugin 'segments' not loaded: supports only the sqlite store, not postgres" in result.output
    assert "Traceback" not in result.output
    result = run_cli(["segments", "list"], plugins="segments")
    assert result.exit_code == 2 and "belongs to plugin 'segments', which supports only the sqlite store" in result.output
    assert "Traceback" not in result.output
    assert run_cli(["contacts", "add", "--email", "a@example.com"], plugins="segments").exit_code == 0


def test_connection_errors_are_one_line_without_the_password():
    with pytest.raises(StoreError) as info:
        CRM("postgresql://someone:s3cret@127.0.0.1:1/nowhere", plugins=[])
    message = str(info.value)
    assert message.startswith("cannot connect to postgresql://someone:***@127.0.0.1:1/nowhere") and "s3cret" not in message
    assert "\n" not in message


def test_bulk_insert_returns_the_ids_it_stored_and_search_finds_them(crm):
    ids = crm.add_many([Contact(email=f"p{i}@example.com", first_name=f"Zoë{i}", city="Köln") for i in range(2500)])
    assert len(set(ids)) == 2500
    assert [crm.get("contacts", i)["email"] for i in (ids[0], ids[1234], ids[-1])] == ["p0@example.com", "p1234@example.com", "p2499@example.com"]
    assert [r["email"] for r in crm.search_contacts("zoë1234 köl")] == ["p1234@example.com"]
    assert crm.search_contacts("o'brien\\") == []  # quotes and backslashes are plain text


def test_failed_bulk_insert_leaves_nothing(crm):
    crm.add(Contact(email="taken@example.com"))
    with pytest.raises(Exception, match="another record already has this email"):
        crm.add_many([Contact(email="new@example.com"), Contact(email="taken@example.com")])
    assert crm.store.count("contacts") == 1
    assert crm.add(Contact(email="next@example.com")) > 0


def test_file_tools_say_what_to_use_instead(run_cli, tmp_path):
    assert run_cli(["init"]).exit_code == 0
    for args in (["backup", str(tmp_path / "b.db")], ["restore", str(tmp_path / "b.db")], ["doctor"]):
        result = run_cli(args)
        assert result.exit_code == 1 and "works on SQLite files" in result.output and "pg_dump" in result.output, args
        assert "Traceback" not in result.output
