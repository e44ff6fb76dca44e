"""Full-data export of a table (every field) to CSV, JSON or JSON Lines."""

import contextlib
import json
import sys

from . import schema
from .output import atomic_write, csv_cell, csv_writer
from .store import quote_name


def export_table(crm, table, path=None, fmt="csv"):
    """Write every row of ``table``; to ``path`` atomically or to stdout. Returns the count."""
    cls = crm.record_type(table)
    names = schema.field_names(cls)
    rows = (schema.decode_row(cls, r) for r in crm.store.iter_query(f"SELECT * FROM {quote_name(table)} ORDER BY id"))
    with (atomic_write(path, "export") if path else contextlib.nullcontext(sys.stdout)) as out:
        return _write(out, rows, names, fmt)


def _write(out, rows, names, fmt):
    count = 0
    if fmt == "csv":
        writer = csv_writer(out)
        writer.writerow(names)
        for row in rows:
            writer.writerow([csv_cell(row[n]) for n in names])
            count += 1
    elif fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    else:
        out.write("[")
        for row in rows:
            out.write(("," if count else "") + "\n" + json.dumps(row, ensure_ascii=False))
            count += 1
        out.write("\n]\n")
    return count

