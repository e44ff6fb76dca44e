#!/usr/bin/env python3
"""Coverage-guided fuzzing of the contact importer (see docs/fuzzing.md).

Each input is imported as a CSV, a JSON and a JSON Lines file, and once more
as CSV with a rejects file, into one scratch database. A user error
(``CRMError``, one line) or success are the only acceptable outcomes; after
each import the database must pass ``PRAGMA integrity_check``, a failed
all-or-nothing import must have left no row, and a successful one imported
again must update every row it created. Each import runs inside a
transaction that is rolled back afterwards, so inputs never see each other.

``check_input(data)`` is importable without atheris, so the seed corpus runs in
the ordinary test suite (tests/test_fuzz_seeds.py).
"""

import csv
import atexit
import os
import shutil
import sys
import tempfile

from crmcore import CRM, CRMError
from crmcore.importing import import_contacts


class Finding(AssertionError):
    """An outcome the importer must never have; the fuzzer reports it as a crash."""


class _Rollback(Exception):
    pass


class Scratch:
    """One migrated database and a folder for the input files, reused for every input."""

    def __init__(self):
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.dir = tempfile.mkdtemp(prefix="crm-fuzz-import-", dir=shm)
        atexit.register(shutil.rmtree, self.dir, True)
        self.crm = CRM(os.path.join(self.dir, "fuzz.db"), plugins=[])
        self.crm.migrate()

    def count(self, table):
        return self.crm.store.query_value(f"SELECT count(*) FROM {table}")

    def check_database(self, what):
        problems = [r[0] for r in self.crm.store.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise Finding(f"{what}: integrity_check: {problems[:3]}")
        for fts in ("contacts_fts", "companies_fts"):
            self.crm.store.execute(f"INSERT INTO {fts}({fts}) VALUES ('integrity-check')")


_scratch = None


def scratch():
    global _scratch
    if _scratch is None:
        _scratch = Scratch()
    return _scratch


def _user_error(exc, what):
    message = str(exc)
    if not message or "\n" in message or "\r" in message:
        raise Finding(f"{what}: a user error must be one non-empty line, got {message!r}") from exc


def _import_once(s, path, fmt, what, rejects_path=None):
    """One import in a transaction that is rolled back; raises Finding on a bug."""
    crm = s.crm
    try:
        with crm.store.transaction():
            try:
                result = import_contacts(crm, path, fmt=fmt, rejects_path=rejects_path,
                                         on_conflict="error" if rejects_path else "update")
            except CRMError as exc:
                _user_error(exc, what)
                if s.count("contacts") or s.count("companies"):
                    raise Finding(f"{what}: the failed import left rows behind ({exc})") from exc
                if rejects_path and os.path.exists(rejects_path):
                    raise Finding(f"{what}: the failed import wrote a rejects file ({exc})") from exc
                s.check_database(what)
                raise _Rollback()
            s.check_database(what)
            if s.count("contacts") != result.created:
                raise Finding(f"{what}: {result.created} created but {s.count('contacts')} rows in contacts")
            if rejects_path and result.rejected:
                with open(rejects_path, encoding="utf-8", newline="") as f:
                    rows = list(csv.reader(f))
                if len(rows) != len(result.rejected) + 1:
                    raise Finding(f"{what}: {len(result.rejected)} rejects but {len(rows) - 1} rows in the rejects file")
            if not rejects_path and result.created:
                again = import_contacts(crm, path, fmt=fmt)
                if (again.created, again.updated) != (0, result.created):
                    raise Finding(f"{what}: importing the same file again created {again.created}, "
                                  f"updated {again.updated}; expected 0 and {result.created}")
                s.check_database(what + " (again)")
            raise _Rollback()
    except _Rollback:
        pass
    finally:
        if rejects_path and os.path.exists(rejects_path):
            os.remove(rejects_path)


def check_input(data):
    """The per-input check: ``data`` as CSV, JSON and JSON Lines, then as CSV with rejects."""
    s = scratch()
    for fmt in ("csv", "json", "jsonl"):
        path = os.path.join(s.dir, f"input.{fmt}")
        with open(path, "wb") as f:
            f.write(data)
        _import_once(s, path, fmt, f"as {fmt}")
    _import_once(s, os.path.join(s.dir, "input.csv"), "csv", "as csv with rejects",
                 rejects_path=os.path.join(s.dir, "rejects.csv"))


def main():
    import atheris

    scratch()  # migrations are not what is being fuzzed: run them before instrumenting
    atheris.instrument_all()
    atheris.Setup(sys.argv, check_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
