"""Full-data export of a table (every field) to CSV, JSON or JSON Lines."""

import csv
import json
import os
import sys

from . import schema
from .store import quote_name


def export_table(crm, table, path=None, fmt="csv"):
    """Write every row of ``table``; to ``path`` atomically or to stdout. Returns the count."""
    cls = crm.record_type(table)
    names = schema.field_names(cls)
    rows = (schema.decode_row(cls, r) for r in crm.store.iter_query(f"SELECT * FROM {quote_name(table)} ORDER BY id"))
    tmp = f"{path}.tmp" if path else None
    out = open(tmp, "w", encoding="utf-8", newline="") if path else sys.stdout
    count = 0
    try:
        if fmt == "csv":
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(names)
            for row in rows:
                writer.writerow([_cell(row[n]) for n in names])
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
    finally:
        if path:
            out.close()
    if path:
        os.replace(tmp, path)
    return count


def _cell(value):
    if isinstance(value, list):
        return ",".join(value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False) if value else ""
    if isinstance(value, bool):
        return int(value)
    return "" if value is None else value
