"""What only the PostgreSQL store does (run with ``pytest --store=postgres``)."""

import pytest

from crmcore import CRM
from crmcore.entities import Contact
from crmcore.importing import import_contacts
from crmcore.store import StoreError
from crmcore.testing import write_plugin_dist

pytestmark = pytest.mark.postgres_only


SQLITE_ONLY = """
import click
from crmcore import hookimpl

crm_api_version = 1
crm_stores = ("sqlite",)

@hookimpl
def crm_register_commands(cli):
    @cli.command("lite-only")
    def lite_only():
        click.echo("ran")
"""


def test_a_plugin_for_sqlite_only_is_refused_with_one_line(run_cli, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(write_plugin_dist(tmp_path / "dist", "lite", "crm_lite_only", SQLITE_ONLY))
    result = run_cli(["init"], plugins="lite")
    assert result.exit_code == 0, result.output
    assert "plugin 'lite' not loaded: supports only the sqlite store, not postgres" in result.output
    assert "Traceback" not in result.output
    result = run_cli(["lite-only"], plugins="lite")
    assert result.exit_code == 2 and "belongs to plugin 'lite', which supports only the sqlite store" in result.output
    assert "Traceback" not in result.output and "ran" not in result.output
    assert run_cli(["contacts", "add", "--email", "a@example.com"], plugins="lite").exit_code == 0


def test_every_builtin_plugin_loads(run_cli):
    result = run_cli(["init"], plugins="products,segments,surveys,exports")
    assert result.exit_code == 0 and "not loaded" not in result.output, result.output


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


def test_messages_never_show_the_password(run_cli, new_db, tmp_path, monkeypatch):
    import re

    monkeypatch.chdir(tmp_path)  # quickstart writes its dashboard here
    url = new_db("secret.db")
    found = re.search(r"://[^:/@]+:([^@]*)@", url)
    if found:
        password = found.group(1)
    else:  # a server that lets us in without one ignores it
        password = "s3cret-pw"
        url = re.sub(r"://([^:/@]+)@", rf"://\1:{password}@", url)
    for args in (["contacts", "list"], ["init"], ["quickstart", "--contacts", "20"], ["quickstart", "--contacts", "20"]):
        result = run_cli(args, db=url)
        assert password not in result.output and "***@" in result.output, (args, result.output)


def test_repeated_statements_are_planned_for_the_table_as_it_grows(crm, tmp_path):
    # A generic plan kept from when the table was empty turned each batch's
    # e-mail lookup into a sequential scan: a 100,000-row import took 96 s, not 9.
    path = tmp_path / "contacts.csv"
    path.write_text("email\n" + "".join(f"c{i}@example.com\n" for i in range(40000)))
    import_contacts(crm, str(path))
    # Statements without parameters have only one plan (counted as generic): only those with parameters matter.
    custom, generic = crm.store.execute(
        "SELECT coalesce(sum(custom_plans), 0), coalesce(sum(generic_plans), 0) FROM pg_prepared_statements "
        "WHERE cardinality(parameter_types) > 0").fetchone()
    assert custom > 0 and generic == 0
