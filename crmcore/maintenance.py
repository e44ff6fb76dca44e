"""Keeping a CRM database safe: backup, restore and a health check.

- ``backup`` copies the database with SQLite's online backup API in one
  step: a consistent snapshot of committed data, taken while other ``crm``
  processes keep writing (WAL lets them). The copy goes to a temporary file
  next to the target and is renamed into place, so a crash or a full disk
  never leaves a half-written backup under the target's name.
- ``restore`` checks that a file is an intact CRM database before it
  touches anything, keeps the current database as ``DB.before-restore``,
  and copies the backup in through the same API, which writes it in one
  transaction: other processes see the old or the new database, never a mix.
- ``doctor`` checks integrity, schema and migrations, plugins and orphaned
  records, and says what to do about each problem.
"""

import functools
import os
import sqlite3

import click

from .cli import get_crm
from .output import print_rows

# Bookkeeping tables that do not count as "data" when deciding whether a
# database is empty (restoring over an empty database needs no --yes).
BOOKKEEPING = {"_crm_migrations", "_crm_plugins", "_crm_settings", "_crm_contact_links", "_crm_jobs"}


def _error(message):
    from .errors import CRMError

    return CRMError(message)


def _require_sqlite(crm, what):
    """Backups, restores and checks here work on the SQLite file itself."""
    if crm.store.kind != "sqlite":
        raise _error(f"{what} works on SQLite files; for a {crm.store.kind} database use the server's tools (pg_dump, pg_restore)")


def _friendly(exc, what):
    from .store.sqlite import _friendly as store_friendly

    return store_friendly(exc) or _error(f"{what}: {exc}")


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def data_tables(conn):
    """Tables holding user data: not SQLite's, not bookkeeping, not full-text
    search indexes (those mirror other tables)."""
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").fetchall()
    virtual = [name for name, sql in rows if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")]
    return [
        name for name, _ in rows
        if name not in BOOKKEEPING and name not in virtual and not any(name.startswith(v + "_") for v in virtual)
    ]


def count_rows(conn):
    """``{table: rows}`` of every data table."""
    from .store import quote_name

    return {t: conn.execute(f"SELECT count(*) FROM {quote_name(t)}").fetchone()[0] for t in sorted(data_tables(conn))}


def integrity_problems(conn):
    """The problems ``PRAGMA integrity_check`` finds, one per item (empty when sound)."""
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check(100)")]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    if rows == ["ok"]:
        return []
    lines = [line.strip() for row in rows for line in str(row).splitlines()]
    return [line for line in lines if line and not line.startswith("*** in database")]


def _summary(problems):
    more = len(problems) - 2
    if more <= 0:
        return "; ".join(problems)
    return "; ".join(problems[:2]) + (f" (and {more} more)" if len(problems) < 99 else " (and many more)")


# -- backup ---------------------------------------------------------------------


def backup(crm, dest, force=False, cleaned=None):
    """Write a consistent copy of ``crm``'s database to ``dest``; return row counts.

    Readable by its owner only (a backup holds the same personal data).
    ``dest`` may be a device, a FIFO or ``-``: the copy is streamed there,
    never renamed over it. Temporary copies that killed runs left next to
    ``dest`` are removed first; their names are appended to ``cleaned``."""
    from .files import STREAM, clean_partials, hold, output_kind, private_temp, put_in_place

    _require_sqlite(crm, "backup")
    kind = output_kind(dest, "backup")
    if kind != STREAM:
        dest = os.path.abspath(dest)
        if crm.location != ":memory:" and os.path.exists(dest) and os.path.samefile(dest, crm.location):
            raise _error(f"{dest} is the database itself; choose another file for the backup")
        if os.path.exists(dest) and not force:
            raise _error(f"{dest} already exists; use --force to replace it")
        directory = os.path.dirname(dest)
        if not os.path.isdir(directory):
            raise _error(f"cannot write backup {dest}: folder {directory} does not exist")
    if not crm.store.table_exists("_crm_migrations"):
        raise _error(f"{crm.location} is not initialised: nothing to back up")
    if kind != STREAM:
        removed = clean_partials(dest)
        if cleaned is not None:
            cleaned.extend(removed)
    fd, tmp = private_temp(dest, "backup", suffix=".partial")  # mode 0600
    try:
        hold(fd)  # a later run's clean_partials leaves a copy in progress alone
        target = sqlite3.connect(tmp, isolation_level=None)
        try:
            crm.store.conn.backup(target)  # pages=-1: the whole database in one step, one snapshot
            target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal needed
            check = target.execute("PRAGMA quick_check").fetchone()[0]
            counts = count_rows(target)
        finally:
            target.close()
        if check != "ok":
            raise _error(f"the backup copy failed its check ({check}); {dest} was not written")
        os.fsync(fd)
        put_in_place(tmp, dest, "backup")
        if kind != STREAM:
            _fsync_dir(os.path.dirname(dest))
    except sqlite3.Error as exc:
        raise _friendly(exc, f"backup to {dest} failed") from None
    except OSError as exc:
        raise _error(f"backup to {dest} failed: {exc.strerror}") from None
    finally:
        os.close(fd)
        if os.path.exists(tmp):
            os.remove(tmp)
    return counts


# -- restore --------------------------------------------------------------------


def _open_readonly(path):
    import pathlib

    return sqlite3.connect(pathlib.Path(path).absolute().as_uri() + "?mode=ro", uri=True)


def verify_backup(path):
    """Check that ``path`` is an intact CRM database; return its row counts."""
    if not os.path.isfile(path):
        raise _error(f"{path}: file not found")
    try:
        conn = _open_readonly(path)
    except sqlite3.Error as exc:
        raise _error(f"{path}: cannot open ({exc})") from None
    try:
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError:
            raise _error(f"{path} is not a SQLite database; nothing was restored") from None
        if not {"_crm_migrations", "contacts"} <= tables:
            raise _error(f"{path} is a SQLite database but not a CRM database (no contacts or _crm_migrations table); nothing was restored")
        problems = integrity_problems(conn)
        if problems:
            raise _error(f"{path} is damaged ({_summary(problems)}); nothing was restored")
        return count_rows(conn)
    finally:
        conn.close()


def _refuse_newer(crm, source):
    """A backup written by a newer version is not restored (this version
    would write to a schema it does not know)."""
    from .migrations import CORE

    known = {(m.plugin, m.name) for m in crm.registry.migrations}
    mine = {CORE} | {p.name for p in crm.plugins if crm.is_enabled(p.name)}
    conn = _open_readonly(source)  # the backup file is never touched
    try:
        steps = conn.execute("SELECT plugin, name FROM _crm_migrations ORDER BY plugin, name").fetchall()
    finally:
        conn.close()
    unknown = [f"{plugin}.{name}" for plugin, name in steps if plugin in mine and (plugin, name) not in known]
    if unknown:
        raise _error(f"{source} was written by a newer version (migration steps unknown here: {', '.join(unknown)}); "
                     "upgrade crmcore and its plugins before restoring it; nothing was restored")


def _keep_name(location):
    """``DB.before-restore``, or ``DB.before-restore.N`` when that exists: an
    earlier safety copy is never overwritten."""
    name, n = f"{location}.before-restore", 1
    while os.path.exists(name):
        name, n = f"{location}.before-restore.{n}", n + 1
    return name


def restore(crm, source, yes=False, reapplied=None):
    """Replace ``crm``'s database with the backup ``source``.

    Returns ``(counts, kept)``: the restored row counts and the file the
    previous database was saved to (``None`` if it held no tables).
    Erasures and unsubscribes made since the backup are re-applied from the
    privacy log (``crmcore/privacy_log.py``); ``reapplied`` (a dict) gets
    how many."""
    from .privacy_log import identity
    from .reapply import reapply
    _require_sqlite(crm, "restore")
    if os.path.exists(source) and os.path.exists(crm.location) and os.path.samefile(source, crm.location):
        raise _error(f"{source} is the database itself")
    counts = verify_backup(source)
    _refuse_newer(crm, source)
    if crm.store.table_names() and not crm.store.table_exists("_crm_migrations"):
        raise _error(f"{crm.location} holds tables but is not a CRM database; restore into a new file instead")
    held = sum(count_rows(crm.store.conn).values())
    if held and not yes:
        raise _error(f"{crm.location} holds {held} records and restoring replaces them all; "
                     f"add --yes to go ahead (the current database is kept as {_keep_name(crm.location)})")
    kept = None
    previous = identity(crm, create=False) if crm.store.table_exists("_crm_settings") else None
    if crm.store.table_names():
        kept = _keep_name(crm.location)
        backup(crm, kept)
    src = _open_readonly(source)
    try:
        src.backup(crm.store.conn)  # one write transaction on the target
    except sqlite3.Error as exc:
        raise _friendly(exc, f"restore from {source} failed; {crm.location} is unchanged") from None
    finally:
        src.close()
    crm._registry = crm._disabled = None
    done = reapply(crm, previous)
    if reapplied is not None:
        reapplied.update(done)
    return counts, kept


# -- doctor ---------------------------------------------------------------------


def _finding(check, status, message, fix=""):
    return {"check": check, "status": status, "message": message, "fix": fix}


def _integrity(crm):
    problems = integrity_problems(crm.store.conn)
    if not problems:
        return [_finding("integrity", "ok", "PRAGMA integrity_check: ok")]
    return [_finding("integrity", "problem", f"the database file is damaged: {_summary(problems)}",
                     "restore the last good backup: crm restore FILE (see `crm backup`)")]


def _schema(crm):
    from .errors import PluginError
    from .migrations import unknown_steps

    if not crm.store.table_exists("_crm_migrations") or not crm.store.table_exists("contacts"):
        return [_finding("schema", "problem", f"{crm.location} is not initialised", f"crm --db {crm.location} init")]
    applied = crm.store.query("SELECT plugin, name FROM _crm_migrations")
    try:
        pending = crm.pending_migrations()
        drift = crm.schema_drift()
    except PluginError as exc:
        return [_finding("schema", "problem", f"cannot list migrations: {exc}",
                         f"start without it (CRM_LOAD_PLUGINS=...) and run `crm plugins disable {exc.plugin}`, or upgrade it")]
    found = []
    if pending:
        names = ", ".join(f"{m.plugin}.{m.name}" for m in pending)
        found.append(_finding("migrations", "problem", f"{len(pending)} pending migration(s): {names}", "crm migrate"))
    else:
        found.append(_finding("migrations", "ok", f"{len(applied)} migration(s) applied, none pending"))
    for line in drift:
        found.append(_finding("migrations", "problem", line, "upgrade the plugin, or ask its author for the missing migration"))
    unknown = unknown_steps(crm.store, crm.registry, [p.name for p in crm.plugins if crm.is_enabled(p.name)])
    if unknown:
        found.append(_finding("migrations", "problem", f"applied by a newer version: {', '.join(unknown)}; writes are refused",
                              "upgrade crmcore and its plugins to the version that wrote this database"))
    return found


def _plugins(crm):
    found = []
    for failure in crm.plugin_failures:
        found.append(_finding("plugins", "problem", f"plugin {failure.name!r} failed to load: {failure.reason}",
                              f"reinstall or upgrade it (pip install -U ...), or leave it out with CRM_LOAD_PLUGINS; "
                              f"`crm plugins disable {failure.name}` turns it off for this database"))
    installed = {p.name for p in crm.plugins} | {f.name for f in crm.plugin_failures}
    recorded = crm.store.query("SELECT name, enabled FROM _crm_plugins") if crm.store.table_exists("_crm_plugins") else []
    owners = set()
    if crm.store.table_exists("_crm_migrations"):
        owners = {r["plugin"] for r in crm.store.query("SELECT DISTINCT plugin FROM _crm_migrations")} - {"core"}
    for name in sorted(({r["name"] for r in recorded if r["enabled"]} | owners) - installed):
        found.append(_finding("plugins", "warning", f"plugin {name!r} has data in this database but is not installed (its tables are kept)",
                              "install it again to use its data (pip install ...), or ignore this if it was removed on purpose"))
    states = ", ".join(f"{p.name} ({'enabled' if crm.is_enabled(p.name) else 'disabled'})" for p in crm.plugins) or "none"
    found.append(_finding("plugins", "ok", f"installed: {states}"))
    return found


def _orphans(crm):
    """Rows whose reference column names a record that does not exist."""
    from . import schema
    from .errors import PluginError
    from .store import quote_name

    try:
        types = crm.registry.record_types
    except PluginError as exc:
        return [_finding("orphans", "problem", f"cannot list record types: {exc}", f"crm plugins disable {exc.plugin}")]
    found = []
    for table, cls in sorted(types.items()):
        for f in schema.fields(cls):
            target = f.metadata.get("references")
            if not target or not crm.store.table_exists(table) or not crm.store.table_exists(target):
                continue
            t, col, ref = quote_name(table), quote_name(f.name), quote_name(target)
            rows = crm.store.query(
                f"SELECT id FROM {t} WHERE {col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {ref} WHERE {ref}.id = {t}.{col}) ORDER BY id"
            )
            if rows:
                ids = ", ".join(str(r["id"]) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
                found.append(_finding(
                    "orphans", "problem", f"{len(rows)} {table} record(s) refer to missing {target} in {f.name} (ids {ids})",
                    f"restore a backup from before the damage (crm restore FILE), or unlink them: UPDATE {table} "
                    f"SET {f.name} = NULL WHERE {f.name} NOT IN (SELECT id FROM {target})",
                ))
    if not found:
        found.append(_finding("orphans", "ok", "every reference points to an existing record"))
    return found


def _permissions(crm):
    if crm.location == ":memory:" or not os.path.exists(crm.location):
        return []
    mode = os.stat(crm.location).st_mode & 0o777
    if mode & 0o077:
        return [_finding("permissions", "warning", f"{crm.location} is readable by other users (mode {mode:o}); it holds personal data",
                         f"chmod 600 {crm.location}")]
    return [_finding("permissions", "ok", f"file mode {mode:o}")]


def doctor(crm):
    """Health findings: dicts with check, status (ok/warning/problem), message, fix."""
    _require_sqlite(crm, "doctor")
    found = _integrity(crm)
    if found[0]["status"] != "ok":
        return found  # queries on a damaged file only add noise
    found += _schema(crm)
    found += _plugins(crm)
    if crm.store.table_exists("contacts"):
        found += _orphans(crm)
    found += _permissions(crm)
    return found


# -- commands -------------------------------------------------------------------


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def backup_command(file, force):
    """Write a consistent copy of the database to FILE, while others keep working.

    The copy is taken in one step from committed data only, written to a
    temporary file and renamed, so FILE is always a complete database."""
    crm = get_crm(migrate=False)
    cleaned = []
    counts = backup(crm, file, force, cleaned)
    say = functools.partial(click.echo, err=file == "-")
    if cleaned:
        say(f"Removed {len(cleaned)} partial backup{'s' if len(cleaned) != 1 else ''} left by an interrupted run: "
            + ", ".join(os.path.basename(p) for p in cleaned))
    say(f"Backed up {crm.location} to {file} ({counts.get('contacts', 0)} contacts, {sum(counts.values())} records)")


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Replace a database that holds records.")
def restore_command(file, yes):
    """Replace the database with the backup FILE.

    FILE must be an intact CRM database (checked first). The current
    database is kept as DB.before-restore; one with records needs --yes."""
    crm = get_crm(migrate=False)
    from .privacy_log import summary

    reapplied = {}
    counts, kept = restore(crm, file, yes, reapplied)
    click.echo(f"Restored {file} into {crm.location} ({counts.get('contacts', 0)} contacts, {sum(counts.values())} records)")
    if summary(reapplied):
        click.echo(summary(reapplied))
    if kept:
        click.echo(f"The previous database is kept as {kept}")
    if crm.pending_migrations():
        click.echo("The backup is from an older version: the next command applies its migrations (or run `crm migrate`).")


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as a JSON array.")
def doctor_command(as_json):
    """Check the database: integrity, migrations, plugins, orphaned records
    and file permissions, with what to do about each problem. Exits 1 when
    it finds a problem."""
    from .store import StoreError

    try:
        found = doctor(get_crm(migrate=False))
    except StoreError as exc:
        damaged = "damaged" in str(exc)
        fix = "restore the last good backup: crm restore FILE" if damaged else "check that you may read and write the file and its folder"
        message = str(exc).split("; `crm doctor`")[0]  # the advice to run doctor is for other commands
        found = [_finding("integrity" if damaged else "database", "problem", message, fix)]
    if as_json:
        print_rows(found, ["check", "status", "message", "fix"], "json")
    else:
        for f in found:
            click.echo(f"{f['status'].upper():<8} {f['check']:<12} {f['message']}")
            if f["fix"]:
                click.echo(f"{'':<8} {'':<12} -> {f['fix']}")
    problems = sum(f["status"] == "problem" for f in found)
    if not as_json:
        click.echo("No problems found." if not problems else f"{problems} problem(s) found.")
    if problems:
        click.get_current_context().exit(1)
