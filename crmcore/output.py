"""Printing records: a readable table by default, JSON or CSV for scripts.

``--json`` prints a JSON array of objects whose keys are the field names;
``--csv`` a header row of field names and one row per record.
"""

import contextlib
import csv
import json
import math
import os
import re
import sys

import click


def output_options(fn):
    """Add ``--json`` and ``--csv`` flags; the command receives ``fmt``."""
    fn = click.option("--csv", "fmt", flag_value="csv", help="Print CSV with a header row of field names.")(fn)
    fn = click.option("--json", "fmt", flag_value="json", help="Print a JSON array of objects keyed by field name.")(fn)
    return fn


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False) if value else ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value and abs(value) < 0.01:  # a small share: enough decimals for two significant digits, never "0.00"
            return f"{value:.{1 - math.floor(math.log10(abs(value)))}f}"
        return f"{value:,.2f}"
    return str(value)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def safe_cell(value):
    """Neutralise text a spreadsheet would read as a formula (OWASP CSV injection).

    A leading ``'`` makes Excel, LibreOffice and Google Sheets show the text as
    typed instead of evaluating it. An E.164 phone number is left as it is: a
    spreadsheet reads it as a number, never as a formula. Every CSV the CRM
    writes goes through this; JSON output is exact."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return value
    if value[:1] in FORMULA_STARTS and not _E164.fullmatch(value):
        return "'" + value
    return value


class _SafeWriter:
    """``csv.writer`` with the one escaping rule: every cell through
    ``safe_cell``, and a row with a carriage return inside a cell quoted
    whole (Python's writer quotes only the characters of its line ending,
    and a spreadsheet splits a row at a bare ``\r``)."""

    def __init__(self, out, lineterminator="\n"):
        self._plain = csv.writer(out, lineterminator=lineterminator)
        self._quoted = csv.writer(out, lineterminator=lineterminator, quoting=csv.QUOTE_ALL)

    def writerow(self, row):
        row = [safe_cell(c) for c in row]
        writer = self._quoted if any(isinstance(c, str) and "\r" in c for c in row) else self._plain
        return writer.writerow(row)

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def csv_writer(out, lineterminator="\n"):
    """The CSV writer every CSV file of the CRM goes through (spreadsheet-safe)."""
    return _SafeWriter(out, lineterminator)


def csv_cell(value):
    """A field value as one spreadsheet-safe CSV cell (lists comma-joined, flags 0/1)."""
    if isinstance(value, (list, tuple)):
        return safe_cell(",".join(map(str, value)))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False) if value else ""
    if isinstance(value, bool):
        return int(value)
    return safe_cell(value)


@contextlib.contextmanager
def atomic_write(path, what="file"):
    """Open a private temporary file next to ``path`` for writing text and rename
    it into place only when the block succeeds, so ``path`` is never
    half-written; on any error the temporary file is removed. ``-``, a
    device or a FIFO is written to as a stream, never renamed over
    (``crmcore/files.py``). An OS error becomes a one-line ``CRMError``
    naming ``what`` and the path."""
    from .errors import CRMError
    from .files import STREAM, open_stream, output_kind, private_temp, put_in_place

    if output_kind(path, what) == STREAM:
        with open_stream(path, what) as out:
            yield out
        return
    fd, tmp = private_temp(path, what)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
        put_in_place(tmp, path, what)
    except OSError as exc:
        raise CRMError(f"cannot write {what} {path}: {exc.strerror}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def print_rows(rows, fields, fmt=None, table_fields=None, file=None):
    """Print ``rows`` (dicts) with ``fields`` for JSON/CSV and ``table_fields`` for the table."""
    out = file or sys.stdout
    if fmt == "json":
        json.dump([{f: r.get(f) for f in fields} for r in rows], out, ensure_ascii=False, indent=2, default=str)
        out.write("\n")
    elif fmt == "csv":
        writer = csv_writer(out)
        writer.writerow(fields)
        for r in rows:
            writer.writerow([csv_cell(r.get(f)) for f in fields])
    else:
        print_table(rows, table_fields or fields, out)


def print_table(rows, fields, out=None, max_width=40):
    out = out or sys.stdout
    if not rows:
        click.echo("(none)", file=out)
        return
    cells = [[_cell(r.get(f)) for f in fields] for r in rows]
    # Long text is cut to keep columns aligned; the last column has nothing to
    # its right, so it is printed whole (descriptions, hook lists).
    last = len(fields) - 1
    cells = [[c if len(c) <= max_width or i == last else c[: max_width - 1] + "…" for i, c in enumerate(row)] for row in cells]
    widths = [max([len(f)] + [len(row[i]) for row in cells]) for i, f in enumerate(fields)]
    numeric = [all(isinstance(r.get(f), (int, float)) and not isinstance(r.get(f), bool) for r in rows if r.get(f) is not None) for f in fields]
    click.echo("  ".join(f.ljust(w) for f, w in zip(fields, widths)).rstrip(), file=out)
    click.echo("  ".join("-" * w for w in widths), file=out)
    for row in cells:
        click.echo("  ".join((c.rjust(w) if num else c.ljust(w)) for c, w, num in zip(row, widths, numeric)).rstrip(), file=out)


def print_record(record, fmt=None, file=None):
    """One record: ``field: value`` lines, or a JSON object."""
    out = file or sys.stdout
    if fmt == "json":
        json.dump(record, out, ensure_ascii=False, indent=2, default=str)
        out.write("\n")
        return
    width = max(len(k) for k in record)
    for key, value in record.items():
        click.echo(f"{key.ljust(width)}  {_cell(value)}", file=out)


class _Silent:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        pass


def progress(length, label, show=None):
    """A click progress bar on a terminal (stderr), a silent stand-in otherwise."""
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        return _Silent()
    return click.progressbar(length=length, label=label, file=sys.stderr)


#: ``-o -``: write to standard output instead of a file.
STDOUT = "-"


@contextlib.contextmanager
def written_to(output):
    """For commands that write a file: yields the path to write. With ``-o -``
    that is a private temporary file whose bytes go to standard output when
    the block ends without error (then the command's messages belong on
    standard error). Any other value is yielded unchanged."""
    if output != STDOUT:
        yield output
        return
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="crm-out-")  # mode 0700: the content may be personal data
    path = os.path.join(folder, "out")
    try:
        yield path
        if not os.path.exists(path):  # a dry run writes nothing
            return
        with open(path, "rb") as f:
            sys.stdout.flush()
            shutil.copyfileobj(f, sys.stdout.buffer)
            sys.stdout.buffer.flush()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
