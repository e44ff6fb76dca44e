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
- ``new_db(name)``: the location of a fresh, empty database on the store
  under test: a file in the temporary folder, or with ``--store=postgres`` a
  URL of a new PostgreSQL schema (``CRM_TEST_POSTGRES_URL``, or a throw-away
  server this plugin starts). Tests that only make sense on SQLite files
  are marked ``@pytest.mark.sqlite_only("why")``.

Tests never load whatever happens to be installed unless they ask to.
"""

import os

import pytest


def pytest_addoption(parser):
    parser.addoption("--store", choices=("sqlite", "postgres"), default=os.environ.get("CRM_TEST_STORE", "sqlite"),
                     help="store the CRM fixtures use (default: CRM_TEST_STORE or sqlite)")


def pytest_collection_modifyitems(config, items):
    store = config.getoption("--store")
    for item in items:
        if store == "postgres" and item.get_closest_marker("sqlite_only"):
            marker = item.get_closest_marker("sqlite_only")
            reason = marker.args[0] if marker.args else "SQLite-specific"
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {reason}"))
        if store == "sqlite" and item.get_closest_marker("postgres_only"):
            item.add_marker(pytest.mark.skip(reason="PostgreSQL store test: run with --store=postgres"))


@pytest.fixture(scope="session")
def postgres_url():
    """URL of a PostgreSQL database for the tests: ``CRM_TEST_POSTGRES_URL``,
    or a throw-away server started for this session."""
    from . import pgserver

    url = os.environ.get("CRM_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    try:
        server = pgserver.start()
    except pgserver.ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def new_db(request, tmp_path):
    """``new_db(name)``: location of a fresh database on the store under test."""
    if request.config.getoption("--store") == "sqlite":
        yield lambda name="crm.db": str(tmp_path / name)
        return
    from . import pgserver

    base = request.getfixturevalue("postgres_url")
    made = {}

    def make(name="crm.db"):
        if name not in made:  # the same name is the same database, as with files
            made[name] = pgserver.new_schema(base)
        return made[name]

    yield make
    for url in made.values():
        pgserver.drop_schema(url)


@pytest.fixture
def make_crm(new_db):
    from .app import CRM

    opened = []

    def make(plugins=(), name="crm.db", templates=None):
        crm = CRM(new_db(name), plugins=list(plugins), templates=templates)
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
def run_cli(new_db, monkeypatch):
    """Invoke ``crm`` in-process. Returns click's ``Result`` (exit_code, output)."""
    from click.testing import CliRunner

    from . import plugins as plugin_module
    from .cli import cli

    default_db = new_db("cli.db")

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
    config.addinivalue_line("markers", "sqlite_only(reason): the test is about SQLite files; skipped with --store=postgres")
    config.addinivalue_line("markers", "postgres_only: the test is about the PostgreSQL store; runs with --store=postgres")


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


# -- reliability helpers (tests/test_reliability_*.py) ------------------------------
# Real `crm` subprocesses and whole-database comparisons, for tests that kill,
# starve or race the CLI. Plugin authors may use them for the same purpose.


def crm_argv(db, *args):
    """Command line that runs the real ``crm`` with the current interpreter."""
    import sys

    return [sys.executable, "-c", "from crmcore.cli import main; main()", "--db", str(db), *map(str, args)]


def crm_env(plugins="", **extra):
    """Environment for a ``crm`` subprocess: ``plugins`` becomes CRM_LOAD_PLUGINS
    (``None``: every installed plugin); CRM_DB/CRM_TEMPLATES are cleared."""
    env = {k: v for k, v in os.environ.items() if k not in ("CRM_LOAD_PLUGINS", "CRM_DB", "CRM_TEMPLATES")}
    env["CRM_USER"] = "tester"
    if plugins is not None:
        env["CRM_LOAD_PLUGINS"] = plugins
    env.update({k: str(v) for k, v in extra.items()})
    return env


def database_digest(path, ignore_times=False):
    """SHA-256 over the schema and every table's rows (in rowid order).

    Equal digests mean equal content. ``ignore_times`` blanks timestamp
    columns (``at``, ``since`` and ``*_at``) so two runs of one command compare equal.
    A missing file counts as an empty database."""
    import hashlib
    import sqlite3

    h = hashlib.sha256()
    if not os.path.exists(path):
        return h.hexdigest()
    conn = sqlite3.connect(path)
    try:
        for name, sql in conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name"):
            h.update(f"{name}\0{sql}\n".encode())
        # Virtual (full-text) tables only show their content table again; their
        # index lives in shadow tables, which are hashed like any other table.
        tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name")
        for (table,) in tables.fetchall():
            try:
                cur, ordered = conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid'), True
            except sqlite3.OperationalError:  # a WITHOUT ROWID table
                cur, ordered = conn.execute(f'SELECT * FROM "{table}"'), False
            cols = [d[0] for d in cur.description]
            blank = [i for i, c in enumerate(cols) if ignore_times and (c in ("at", "since") or c.endswith("_at"))]
            rows = cur.fetchall()
            if blank:
                rows = [tuple(None if i in blank else v for i, v in enumerate(r)) for r in rows]
            h.update(f"{table}\0{len(rows)}\n".encode())
            h.update(repr(rows if ordered else sorted(map(repr, rows))).encode())
    finally:
        conn.close()
    return h.hexdigest()


def integrity_check(path, fts=True):
    """``PRAGMA integrity_check`` (``"ok"`` when sound), plus the contacts
    full-text index's own check when ``fts`` (that one needs a writable file)."""
    import sqlite3

    if not os.path.exists(path):
        return "ok"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        result = ", ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
        if fts and conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'contacts_fts'").fetchone():
            conn.execute("INSERT INTO contacts_fts (contacts_fts) VALUES ('integrity-check')")
        return result
    finally:
        conn.close()


def write_contacts_csv(path, rows, start=0):
    """A contacts CSV with ``rows`` rows, e-mails ``p{start}@example.com`` onwards."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("email,first_name,last_name,country,company,tags,consent\n")
        for i in range(start, start + rows):
            f.write(f"p{i}@example.com,First{i},Last{i},DE,Company {i % 250},\"vip,import\",{i % 2}\n")
    return str(path)


@pytest.fixture
def web_user(monkeypatch):
    """``web_user(crm, role, territories=(), email=None)``: a user of ``crm serve``
    and a Starlette test client logged in as them, with ``client.csrf`` (the
    form token of their session) and ``client.email``. Password hashing runs
    with small argon2 costs to keep tests fast."""
    from argon2 import PasswordHasher

    from . import users

    monkeypatch.setattr(users, "_hasher", lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))

    def make(crm, role, territories=(), email=None):
        import re

        from starlette.testclient import TestClient

        from .web.app import create_app

        email = email or f"{role}@example.com"
        password = "test password 123"
        users.add_user(crm, email, role, password, territories=territories)
        client = TestClient(create_app(crm), base_url="http://testserver")
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        r = client.post("/login", data={"email": email, "password": password, "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303, r.text
        client.csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)
        client.email = email
        return client

    return make
