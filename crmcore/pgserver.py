"""A throw-away PostgreSQL server for tests, CI and benchmarks.

``start()`` runs ``initdb`` and ``pg_ctl`` from the system's PostgreSQL
packages on 127.0.0.1 at a free port, with durability off (the data is thrown
away, with its temporary folder, by ``stop()``). PostgreSQL refuses to run
as root, so as root the server runs as the ``postgres`` user. ``new_schema(url)`` gives each test its own empty schema.
"""

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile

import attrs

INSTALL_HINT = "install the server (Debian/Ubuntu: apt-get install postgresql) or set CRM_TEST_POSTGRES_URL"


class ServerError(Exception):
    """The server could not be found or started; the message says what to do."""


@attrs.define
class Server:
    url: str
    data: str
    bin: str
    user: str | None

    def stop(self):
        _run(self, [os.path.join(self.bin, "pg_ctl"), "stop", "-D", self.data, "-m", "immediate", "-s"], check=False)
        shutil.rmtree(os.path.dirname(self.data), ignore_errors=True)


def find_bin():
    """Folder of ``initdb``/``pg_ctl``: on PATH, else Debian's newest version."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return os.path.dirname(os.path.realpath(found))
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if versions:
        return os.path.dirname(versions[-1])
    raise ServerError(f"no PostgreSQL server binaries (initdb, pg_ctl) found: {INSTALL_HINT}")


def _run(server, argv, check=True):
    name = os.path.basename(argv[0])
    if server.user:
        argv = ["runuser", "-u", server.user, "--", *argv]
    done = subprocess.run(argv, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise ServerError(f"{name} failed: {(done.stderr or done.stdout).strip()[-500:]}")
    return done


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start():
    """Initialise and start a server in a new temporary folder."""
    bin_dir = find_bin()
    user = None
    if os.geteuid() == 0:
        user = "postgres"
        try:
            import pwd

            entry = pwd.getpwnam(user)
        except KeyError:
            raise ServerError("running as root needs a 'postgres' user to run the server as (the postgresql package creates it)") from None
    folder = tempfile.mkdtemp(prefix="crm-postgres-")
    data = os.path.join(folder, "data")
    os.makedirs(data)
    if user:
        os.chmod(str(folder), 0o755)
        os.chown(data, entry.pw_uid, entry.pw_gid)
    port = _free_port()
    server = Server(f"postgresql://crm@127.0.0.1:{port}/postgres", data, bin_dir, user)
    _run(server, [os.path.join(bin_dir, "initdb"), "-D", data, "-U", "crm", "--auth=trust", "-E", "UTF8", "--no-sync"])
    # No fsync (a throw-away server), but commits stay synchronous as on a
    # default server: VACUUM cannot mark rows visible to all before their
    # commit is flushed, which hid what migrate-store's vacuum is for.
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {data} -c fsync=off -c full_page_writes=off"
    _run(server, [os.path.join(bin_dir, "pg_ctl"), "start", "-D", data, "-w", "-s", "-l", os.path.join(data, "server.log"), "-o", options])
    return server


_counter = itertools.count()


def _with_search_path(url, schema):
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def new_schema(url):
    """URL of a new, empty schema in the database at ``url``."""
    import psycopg

    name = f"crm_test_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    return _with_search_path(url, name)


def drop_schema(schema_url):
    """Drop the schema of a ``new_schema`` URL (best effort: a test may still hold it)."""
    import psycopg

    base, _, options = schema_url.rpartition("options=-csearch_path%3D")
    try:
        with psycopg.connect(base.rstrip("?&"), autocommit=True) as conn:
            conn.execute("SET lock_timeout = 5000")
            conn.execute(f'DROP SCHEMA IF EXISTS "{options}" CASCADE')
    except psycopg.Error:
        pass
