"""SQLite store: one file, WAL mode, foreign keys on, a busy timeout.

Writes go through ``transaction()``, which nests with savepoints, so a command
and the plugin hooks it fires commit or roll back together. Bulk writes use
``executemany`` in that one transaction (sqlite-utils' ``insert_all`` commits
per small batch, which is slow and not all-or-nothing); sqlite-utils does the
table work in migrations, where ``store.db`` gives its ``Database``.
"""

import contextlib
import os
import re
import sqlite3

from ..errors import StoreError

BUSY_TIMEOUT_MS = int(os.environ.get("CRM_BUSY_TIMEOUT_MS", "10000"))
# Bound variables per statement: 32766 since SQLite 3.32, 999 before.
MAX_VARIABLES = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33, 0)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def quote_name(name):
    """Quote a table or column name; anything but a plain identifier is refused."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise StoreError(f"invalid table or column name {name!r}")
    return f'"{name}"'


def _friendly(exc):
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreError("database is busy: another crm process is writing; try again")
    if "readonly" in text:
        return StoreError("database is read-only: check the file's permissions")
    if "disk" in text and "full" in text:
        return StoreError("disk is full: free some space; nothing was written")
    if "disk I/O error" in text:
        return StoreError("disk I/O error: the disk may be full or failing, or the file is over a size limit; the change was not saved")
    if "not a database" in text or "malformed" in text or "vtable constructor failed" in text:
        return StoreError(f"database file is damaged or not a CRM database ({text}); "
                          "`crm doctor` says what is wrong, `crm restore BACKUP` brings back the last good backup")
    return None


class SQLiteDialect:
    """SQL fragments that differ between the stores (see ``postgres.Dialect``)."""

    auto_id = "INTEGER PRIMARY KEY AUTOINCREMENT"  # an id with history is never handed out again
    without_rowid = " WITHOUT ROWID"  # table option for a table keyed by its primary key

    @staticmethod
    def json_array_contains(column):
        """True when the JSON array in ``column`` holds the one bound value."""
        return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE value = ?)"

    real = "REAL"  # column type of a float

    @staticmethod
    def json_array_values(column):
        """A subquery of the values of the JSON array in ``column``."""
        return f"SELECT value FROM json_each({column})"

    @staticmethod
    def json_field(column, key):
        """The value under ``key`` (a plain identifier) of the JSON object in ``column``."""
        quote_name(key)
        return f"json_extract({column}, '$.{key}')"

    @staticmethod
    def contains_text(column):
        """True when the text in ``column`` contains the one bound value (case-sensitive)."""
        return f"instr({column}, ?) > 0"

    @staticmethod
    def days_between(later, earlier):
        """Whole days from the ISO date or timestamp ``earlier`` to ``later`` (truncated)."""
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"

    @staticmethod
    def json_values(kind="int"):
        """A subquery of the ``value``s of one bound JSON array (``kind``: int or text),
        for ``x IN (...)`` over a list of any length."""
        return "SELECT value FROM json_each(?)"


#: A search word shorter than this matches whole words only: a shorter prefix
#: (``"ki"*``) can start most words of a large table, and FTS5 merges them all.
PREFIX_MIN = 3


def search_plan(count, exact, prefix, cap):
    """``(query, ranked)`` for a bounded search, the same on both stores:
    whole words, unranked and paged by id, when more than ``cap`` rows hold
    them; else the prefix query, ranked only when at most ``cap`` rows match
    it. ``count(query)`` counts matches up to ``cap + 1``."""
    if count(exact) > cap:
        return exact, False
    if prefix == exact:
        return exact, True
    return prefix, count(prefix) <= cap


#: The page cache of a long write (``bulk_write``), in KiB: 256 MiB.
BULK_CACHE_KIB = 256 * 1024


class SQLiteStore:
    kind = "sqlite"
    dialect = SQLiteDialect()
    sql_errors = (sqlite3.Error,)  # what the database raises for SQL it refuses

    def __init__(self, path):
        self.path = str(path)
        if self.path != ":memory:" and not os.path.exists(self.path):
            directory = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(directory):
                raise StoreError(f"cannot create database {self.path}: folder {directory} does not exist")
            # A CRM holds personal data: a new file is readable by its owner only.
            try:
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            except OSError as exc:
                raise StoreError(f"cannot create database {self.path}: {exc.strerror} (is its folder writable?)") from None
        try:
            self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if self.path != ":memory:":
                self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            # Deleted rows and freed pages are overwritten with zeros: an erased person leaves no trace in the file.
            self.conn.execute("PRAGMA secure_delete = ON")
        except sqlite3.DatabaseError as exc:
            hint = ""
            if "unable to open" in str(exc) and not os.access(os.path.dirname(os.path.abspath(self.path)), os.W_OK):
                hint = " (its folder is not writable, and SQLite keeps the -wal and -shm files next to the database)"
            raise _friendly(exc) or StoreError(f"cannot open database {self.path}: {exc}{hint}") from None
        self._depth = 0
        self._db = None
        self.refusal = None

    # -- sqlite-utils, for migrations and table inspection -----------------
    @property
    def db(self):
        """The ``sqlite_utils.Database`` on this connection (imported lazily)."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    def close(self):
        self.conn.close()

    def friendly(self, exc):
        """A one-line ``StoreError`` for a database error that is not about the
        SQL (busy, read-only, full disk, a damaged file), else ``None``."""
        if self.refusal and "readonly" in str(exc):
            return StoreError(self.refusal)
        return _friendly(exc)

    def refuse_writes(self, reason):
        """Refuse every write on this connection from now on, with ``reason``
        as the error (a database written by a newer version)."""
        self.refusal = reason
        self.conn.execute("PRAGMA query_only = 1")

    @contextlib.contextmanager
    def bulk_write(self):
        """A larger page cache for one long write (an import of millions of
        rows), put back after. An import is one transaction: with SQLite's
        default 2 MB cache every evicted page goes to the write-ahead log and is
        searched for there again, a cost that grows with the transaction
        (1,000,000 -> 10,000,000 contacts took 14x the time before; at
        2,000,000 contacts a 400 MB cache halved the import). The cache is
        bounded, so memory stays flat however long the file."""
        before = self.conn.execute("PRAGMA cache_size").fetchone()[0]
        self.conn.execute(f"PRAGMA cache_size = {-BULK_CACHE_KIB}")
        try:
            yield self
        finally:
            self.conn.execute(f"PRAGMA cache_size = {int(before)}")

    # -- transactions -------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self):
        """All-or-nothing block; nested blocks become savepoints."""
        depth = self._depth
        try:
            if depth == 0:
                self.conn.execute("BEGIN IMMEDIATE")
            else:
                self.conn.execute(f"SAVEPOINT sp{depth}")
        except sqlite3.OperationalError as exc:
            raise self.friendly(exc) or exc from None
        self._depth += 1
        try:
            yield self
        except BaseException as exc:
            self._depth -= 1
            # SQLite may have rolled the whole transaction back itself (disk
            # full, I/O error); a second ROLLBACK would hide the real error.
            if self.conn.in_transaction:
                if depth == 0:
                    self.conn.execute("ROLLBACK")
                else:
                    self.conn.execute(f"ROLLBACK TO sp{depth}")
                    self.conn.execute(f"RELEASE sp{depth}")
            if isinstance(exc, sqlite3.OperationalError) and self.friendly(exc):
                raise self.friendly(exc) from None
            raise
        self._depth -= 1
        try:
            self.conn.execute("COMMIT" if depth == 0 else f"RELEASE sp{depth}")
        except sqlite3.OperationalError as exc:
            if depth == 0 and self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise self.friendly(exc) or exc from None

    def after_bulk_load(self):
        """Planner statistics for tables just filled in bulk (``migrate-store``)."""
        self.execute("ANALYZE")

    def checkpoint(self):
        """Commit the outermost transaction and open the next one at once
        (resumable bulk work commits in steps inside one ``transaction()``)."""
        if self._depth != 1:
            raise StoreError("checkpoint() only works in an outermost transaction")
        self.conn.execute("COMMIT")
        self.conn.execute("BEGIN IMMEDIATE")

    @property
    def in_transaction(self):
        return self._depth > 0

    # -- queries ------------------------------------------------------------
    def execute(self, sql, params=()):
        try:
            return self.conn.execute(sql, params)
        except sqlite3.OperationalError as exc:
            raise self.friendly(exc) or exc from None

    def executemany(self, sql, rows):
        try:
            return self.conn.executemany(sql, rows)
        except sqlite3.OperationalError as exc:
            raise self.friendly(exc) or exc from None

    def query(self, sql, params=()):
        """All rows as dicts."""
        return [dict(r) for r in self.execute(sql, params)]

    def iter_query(self, sql, params=()):
        """Rows as dicts, streamed (for exports of millions of rows)."""
        for r in self.execute(sql, params):
            yield dict(r)

    def iter_tuples(self, sql, params=()):
        """Rows as plain tuples, streamed: the cheapest read of millions of rows."""
        cur = self.conn.cursor()
        cur.row_factory = None
        try:
            return cur.execute(sql, params)
        except sqlite3.OperationalError as exc:
            raise self.friendly(exc) or exc from None

    def query_value(self, sql, params=()):
        row = self.execute(sql, params).fetchone()
        return None if row is None else row[0]

    # -- tables -------------------------------------------------------------
    def table_names(self):
        return [r[0] for r in self.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]

    def table_exists(self, table):
        return self.query_value("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)) is not None

    def columns(self, table):
        return [r[1] for r in self.execute(f"PRAGMA table_info({quote_name(table)})")]

    def count(self, table):
        return self.query_value(f"SELECT count(*) FROM {quote_name(table)}")

    # -- rows ---------------------------------------------------------------
    def get(self, table, id):
        row = self.execute(f"SELECT * FROM {quote_name(table)} WHERE id = ?", (id,)).fetchone()
        return None if row is None else dict(row)

    def insert_many(self, table, rows):
        """Insert row dicts (same keys each) and return their new ids, in order.

        Rows go in as multi-row ``INSERT ... VALUES (...), (...)`` statements,
        not ``executemany``: full-text triggers then fire inside one statement
        per chunk, and FTS5 flushes its index per statement, not per row
        (about six times faster for a table with full-text search).
        Must run inside ``transaction()``: the write lock taken there makes
        the new ids consecutive after the current maximum."""
        if not rows:
            return []
        assert self._depth > 0, "insert_many needs a transaction"
        keys = [k for k in rows[0] if k != "id"]
        start = max(self.query_value(f"SELECT max(id) FROM {quote_name(table)}") or 0, self._sequence(table)) + 1
        ids = list(range(start, start + len(rows)))
        head = f"INSERT INTO {quote_name(table)} (id, {', '.join(map(quote_name, keys))}) VALUES "
        group = "(?" + ", ?" * len(keys) + ")"
        for chunk_ids, chunk in self._chunks(ids, rows, len(keys) + 1):
            values = []
            for i, row in zip(chunk_ids, chunk):
                values.append(i)
                values.extend([row[k] for k in keys])
            self.execute(head + ", ".join([group] * len(chunk)), values)
        return ids

    def _sequence(self, table):
        """The highest id an AUTOINCREMENT table ever handed out (deleted ones included)."""
        if not self.query_value("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"):
            return 0
        return self.query_value("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)) or 0

    @staticmethod
    def _chunks(ids, rows, width):
        per = max(1, MAX_VARIABLES // width)
        for i in range(0, len(rows), per):
            yield ids[i:i + per], rows[i:i + per]

    def insert(self, table, row):
        with self.transaction():
            return self.insert_many(table, [row])[0]

    def update_many(self, table, rows):
        """Update row dicts (same keys each, including ``id``) by id.

        One ``UPDATE ... FROM (VALUES ...)`` per chunk, for the same reason as
        ``insert_many``."""
        if not rows:
            return
        keys = [k for k in rows[0] if k != "id"]
        if not UPDATE_FROM:
            sql = f"UPDATE {quote_name(table)} SET {', '.join(f'{quote_name(k)} = ?' for k in keys)} WHERE id = ?"
            self.executemany(sql, ([row[k] for k in keys] + [row["id"]] for row in rows))
            return
        sets = ", ".join(f"{quote_name(k)} = v.column{n + 2}" for n, k in enumerate(keys))
        group = "(?" + ", ?" * len(keys) + ")"
        for _, chunk in self._chunks(rows, rows, len(keys) + 1):
            values = []
            for row in chunk:
                values.append(row["id"])
                values.extend([row[k] for k in keys])
            self.execute(
                f"UPDATE {quote_name(table)} SET {sets} FROM (VALUES {', '.join([group] * len(chunk))}) AS v "
                f"WHERE {quote_name(table)}.id = v.column1",
                values,
            )

    def delete_many(self, table, ids):
        self.executemany(f"DELETE FROM {quote_name(table)} WHERE id = ?", ((i,) for i in ids))

    def rows_where_in(self, table, column, values, columns="*"):
        """Rows (dicts of ``columns``, a list of names or ``"*"``) of ``table``
        whose ``column`` holds one of ``values``, however many: ``IN`` lists of 500
        (each row once, as on PostgreSQL, however often its value is given)."""
        values = list(dict.fromkeys(values))
        select = columns if columns == "*" else ", ".join(map(quote_name, columns))
        rows = []
        for i in range(0, len(values), 500):
            chunk = values[i:i + 500]
            rows.extend(self.query(f"SELECT {select} FROM {quote_name(table)} WHERE {quote_name(column)} IN ({', '.join('?' * len(chunk))})", chunk))
        return rows

    # -- pieces that differ between the stores --------------------------------
    def ensure_table(self, spec):
        """Create the table of a ``TableSpec`` or record class or add its missing columns."""
        from ..schema import ensure_table

        return ensure_table(self.db, spec)

    def create_index(self, table, columns, name, unique=False):
        self.db[table].create_index(columns, unique=unique, if_not_exists=True, index_name=name)

    def search(self, table, columns, words, limit):
        """Rows of ``table`` where every word prefix-matches a word of its
        full-text columns; words are quoted, so user text is never FTS syntax."""
        match = " ".join(f'"{w}"*' for w in words)
        fts = quote_name(f"{table}_fts")
        return self.query(
            f"SELECT {quote_name(table)}.* FROM {fts} JOIN {quote_name(table)} ON {quote_name(table)}.rowid = {fts}.rowid "
            f"WHERE {fts} MATCH ? ORDER BY rank LIMIT ?",
            (match, limit),
        )

    def search_page(self, table, columns, words, limit, alias, where=("1 = 1", ()), after=None, skip=0, cap=200):
        """One page of an interactive search, its work bounded however many rows match:
        ``(rows, next_after, next_skip)``.

        Whole words are tried first: FTS5 reads a word's rows lazily, but a
        prefix (``"kim"*``) merges every row of every word it starts, so the
        words are taken as prefixes (those of ``PREFIX_MIN`` letters or more) only when
        at most ``cap`` rows hold them whole. At most ``cap`` matches: ranked
        best first (bm25), paged by position (``skip``) within them. More:
        in rowid order, keyset-paged (``after``), never counted or ranked.
        ``where`` is ``(sql, params)`` over ``alias`` (the caller's access
        filter); ``words`` are quoted, so user text is never FTS syntax."""
        fts, name = quote_name(f"{table}_fts"), quote_name(table)
        exact = " ".join(f'"{w}"' for w in words)
        prefix = " ".join(f'"{w}"*' if len(w) >= PREFIX_MIN else f'"{w}"' for w in words)

        def count(match):
            return self.query_value(f"SELECT count(*) FROM (SELECT rowid FROM {fts} WHERE {fts} MATCH ? LIMIT ?) AS m", (match, cap + 1))

        match, ranked = search_plan(count, exact, prefix, cap)
        joined = f"SELECT {alias}.* FROM {fts} JOIN {name} {alias} ON {alias}.rowid = {fts}.rowid WHERE {fts} MATCH ? AND "
        if ranked:
            rows = self.query(f"{joined}{where[0]} ORDER BY {fts}.rank, {fts}.rowid LIMIT ? OFFSET ?",
                              (match, *where[1], limit + 1, skip))
            return rows[:limit], None, (skip + limit if len(rows) > limit else None)
        rows = self.query(f"{joined}{fts}.rowid > ? AND {where[0]} ORDER BY {fts}.rowid LIMIT ?",
                          (match, after or 0, *where[1], limit + 1))
        return rows[:limit], (rows[limit - 1]["id"] if len(rows) > limit else None), None

    @staticmethod
    def integrity_problem(exc):
        """``("unique", column)``, ``("foreign key", None)``, ``("other", text)`` or ``None``."""
        if not isinstance(exc, sqlite3.IntegrityError):
            return None
        text = str(exc)
        if "UNIQUE" in text:
            return ("unique", text.rsplit(".", 1)[-1])
        if "FOREIGN KEY" in text:
            return ("foreign key", None)
        return ("other", text)

    def reset_id_sequence(self, table):
        """Nothing to do: SQLite's next id always follows the largest."""

    def references(self, table):
        """Tables that ``table`` refers to by foreign key."""
        return {r["table"] for r in self.query(f"PRAGMA foreign_key_list({quote_name(table)})")}

    def referenced_by(self, table):
        """``[(child table, child column, parent column)]`` of the foreign keys that point at ``table``."""
        found = []
        for child in self.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"):
            for fk in self.query(f"PRAGMA foreign_key_list({quote_name(child['name'])})"):
                if fk["table"] == table:
                    found.append((child["name"], fk["from"], fk["to"] or "id"))
        return found

    def copy_rows(self, table, columns, rows):
        """Bulk-load tuples with their ids as they are (``migrate-store``)."""
        marks = ", ".join("?" * len(columns))
        self.executemany(f"INSERT INTO {quote_name(table)} ({', '.join(map(quote_name, columns))}) VALUES ({marks})", rows)
