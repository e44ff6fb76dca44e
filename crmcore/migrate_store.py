"""``crm migrate-store``: copy a whole CRM from one store to another.

Typically from a SQLite file to PostgreSQL when a team outgrows one file.
The target gets its schema from the same migrations (so indexes and
full-text search are the target store's own), then every table is copied
with its ids: records, audit history, settings, plugin tables. Row counts
and a checksum per table are compared inside the one target transaction,
so a mismatch leaves the target as it was.
"""

import hashlib

import click

from .store import quote_name, redact

# Tables that migrations fill themselves: the target keeps its own.
SKIP = {"_crm_migrations"}


def _source_tables(store):
    """Tables holding data: SQLite's full-text index tables mirror other tables."""
    names = store.table_names()
    fts = {n for n in names if n.endswith("_fts")}
    return [n for n in names if n not in SKIP and not n.startswith("sqlite_") and n not in fts
            and not any(n.startswith(f + "_") for f in fts)]


def _ordered(tables, references):
    """Parents before children (foreign keys are checked row by row)."""
    done, out = set(), []

    def visit(t, path=()):
        if t in done or t in path:
            return
        for parent in references(t):
            if parent in tables and parent != t:
                visit(parent, (*path, t))
        done.add(t)
        out.append(t)

    for t in sorted(tables):
        visit(t)
    return out


def _canonical(value):
    if isinstance(value, float):
        return "f" + repr(value)
    if isinstance(value, (bytes, memoryview)):
        return "b" + bytes(value).hex()
    return "n" if value is None else "v" + str(value)


def table_checksum(store, table, columns):
    """``(rows, checksum)``: the checksum does not depend on row order or store."""
    total, rows = 0, 0
    cols = ", ".join(map(quote_name, columns))
    for row in store.iter_query(f"SELECT {cols} FROM {quote_name(table)}"):
        digest = hashlib.sha256("\x1f".join(_canonical(row[c]) for c in columns).encode()).digest()
        total = (total + int.from_bytes(digest[:8], "big")) % (1 << 64)
        rows += 1
    return rows, f"{total:016x}"


def migrate_store(source, target, force=False, echo=lambda line: None):
    """Copy the CRM at ``source`` into ``target``; returns ``{table: rows}``."""
    import os

    from .app import CRM
    from .errors import CRMError

    if "://" not in str(source) and not os.path.isfile(str(source)):
        raise CRMError(f"no database at {source}")
    if str(source) == str(target):
        raise CRMError("--from and --to are the same database")
    src = CRM(source)
    dst = CRM(target)
    try:
        if not src.store.table_exists("contacts"):
            raise CRMError(f"{source} is not an initialised CRM database")
        if src.pending_migrations():
            raise CRMError(f"{source} has pending migrations: run `crm --db {source} init` first")
        filled = [t for t in _source_tables(dst.store) if t not in ("_crm_plugins", "_crm_settings") and dst.store.count(t)]
        if filled and not force:
            raise CRMError(f"{redact(target)} already holds data (table {filled[0]!r}); add --force to replace it")
        counts = {}
        with dst.store.transaction():
            dst.migrate()
            applied = {(r["plugin"], r["name"]) for r in dst.store.query("SELECT plugin, name FROM _crm_migrations")}
            for r in src.store.query("SELECT plugin, name FROM _crm_migrations ORDER BY plugin, name"):
                if (r["plugin"], r["name"]) not in applied:
                    raise CRMError(f"migration {r['name']} of plugin {r['plugin']!r} is not available on the target "
                                   "(the plugin is not installed or does not support that store)")
            tables = _ordered(_source_tables(src.store), dst.store.references)
            missing = [t for t in tables if not dst.store.table_exists(t)]
            if missing:
                raise CRMError(f"table {missing[0]!r} has no counterpart in the target (its plugin is not installed there)")
            for table in reversed(_ordered(_source_tables(dst.store), dst.store.references)):
                dst.store.execute(f"DELETE FROM {quote_name(table)}")
            for table in tables:
                columns = src.store.columns(table)
                lost = [c for c in columns if c not in dst.store.columns(table)]
                if lost:
                    raise CRMError(f"table {table!r}: column {lost[0]!r} has no counterpart in the target")
                cols = ", ".join(map(quote_name, columns))
                rows = (tuple(r[c] for c in columns) for r in src.store.iter_query(f"SELECT {cols} FROM {quote_name(table)}"))
                dst.store.copy_rows(table, columns, rows)
                if "id" in columns:
                    dst.store.reset_id_sequence(table)
                want, got = table_checksum(src.store, table, columns), table_checksum(dst.store, table, columns)
                if want != got:
                    raise CRMError(f"table {table!r} did not copy faithfully ({want[0]} rows, checksum {want[1]} in the "
                                   f"source; {got[0]} rows, checksum {got[1]} in the target); nothing was written")
                counts[table] = want[0]
                echo(f"{table}: {want[0]} rows, checksum {want[1]} verified")
        dst.store.after_bulk_load()
        # Erasures and unsubscribes made since the source was copied (privacy log).
        from .privacy_log import summary
        from .reapply import reapply

        done = reapply(dst)
        if summary(done):
            echo(summary(done))
        return counts
    finally:
        src.close()
        dst.close()


@click.command("migrate-store")
@click.option("--from", "source", required=True, metavar="DB", help="The CRM to copy (a SQLite file or a URL).")
@click.option("--to", "target", required=True, metavar="DB", help="Where to copy it, e.g. postgresql://user@host/dbname.")
@click.option("--force", is_flag=True, help="Replace the data of a target that already holds some.")
def migrate_store_command(source, target, force):
    """Copy a whole CRM (every core and plugin table, ids and history) to another store.

    Counts and checksums of every table are verified before the copy commits;
    a target that already holds data is refused without --force."""
    counts = migrate_store(source, target, force, echo=click.echo)
    click.echo(f"Copied {sum(counts.values())} rows in {len(counts)} tables to {redact(target)}")

