"""attrs record class -> table: columns, row encoding, validation, table creation.

A record class is the one description of a record type. This module derives
from it the SQLite columns (``ensure_table``), the stored row (``to_row``),
the friendly dict for JSON/CSV/templates (``decode_row``) and validated
construction from user input with the failing field named (``build``).
"""

import datetime as dt
import functools
import json
import re
import typing

import attrs

from .errors import FieldError  # re-exported: crmcore.schema.FieldError


def column(default=None, *, converter=None, unique=False, index=False, fts=False, references=None, description=""):
    """An attrs field with the CRM's column metadata.

    ``unique``/``index`` create indexes, ``fts`` adds the column to full-text
    search, ``references`` names a table whose ``id`` this column holds."""
    meta = {"unique": unique, "index": index, "fts": fts, "references": references, "description": description}
    if isinstance(default, (list, dict)) or default in (list, dict):
        factory = default if callable(default) else type(default)
        return attrs.field(factory=factory, converter=converter, metadata=meta)
    return attrs.field(default=default, converter=converter, metadata=meta)


def record(table):
    """Class decorator naming the table of an attrs record class."""

    def decorate(cls):
        attrs.resolve_types(cls)
        cls.__crm_table__ = table
        return cls

    return decorate


def table_of(cls):
    return cls.__crm_table__


def _base_type(tp):
    """``Optional[X]``/``X | None`` -> ``X``."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if args and typing.get_origin(tp) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return args[0]
    return typing.get_origin(tp) or tp


_SQL_TYPES = {str: "TEXT", int: "INTEGER", float: "REAL", bool: "INTEGER", dt.date: "TEXT", list: "TEXT", dict: "TEXT"}


def fields(cls):
    """The attrs fields of a record class, ``id`` first."""
    return attrs.fields(cls)


def field_names(cls):
    return [f.name for f in attrs.fields(cls)]


def field_kind(field):
    """Python base type of a field: str, int, float, bool, date, list or dict."""
    return _base_type(field.type)


def columns(cls):
    """``{column: sql type}`` for a record class."""
    return {f.name: _SQL_TYPES.get(field_kind(f), "TEXT") for f in attrs.fields(cls)}


# One encoder for every JSON column: json.dumps with options builds a new
# JSONEncoder per call, which costs more than encoding a short list of tags.
_to_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def _encoder(kind):
    if kind is bool:
        return lambda v: None if v is None else int(v)
    if kind in (list, dict):
        return lambda v: None if v is None else _to_json(v)
    if kind is dt.date:
        return lambda v: None if v is None else v.isoformat()
    return None


def _decoder(kind):
    if kind is bool:
        return lambda v: None if v is None else bool(v)
    if kind in (list, dict):
        return lambda v: (kind() if v in (None, "") else json.loads(v))
    return None


_codecs = {}


def _codec(cls):
    """Cached per-class ``(encoders, decoders)`` for fast row conversion:
    ``[(name, encoder or None)]`` for every field, ``[(name, decoder, is_json)]``
    for the fields that have a decoder."""
    try:
        return _codecs[cls]
    except KeyError:
        kinds = [(f.name, field_kind(f)) for f in attrs.fields(cls)]
        result = ([(name, _encoder(kind)) for name, kind in kinds],
                  [(name, _decoder(kind), kind in (list, dict)) for name, kind in kinds if _decoder(kind)])
        _codecs[cls] = result
        return result


def to_row(rec, names=None):
    """Record instance -> dict of SQLite values (of only ``names`` if given)."""
    row = {}
    for name, encode in _codec(type(rec))[0]:
        if names is None or name in names:
            value = getattr(rec, name)
            row[name] = encode(value) if encode else value
    return row


def decode_row(cls, row):
    """Stored row -> dict with lists, dicts and bools restored (JSON-ready)."""
    if row is None:
        return None
    out = dict(row)
    for name, decode, _ in _codec(cls)[1]:
        if name in out:
            out[name] = decode(out[name])
    return out


def decode_saved(rec, row):
    """Turn ``row``, just stored from ``rec``, into what ``decode_row`` gives,
    in place: lists and dicts come from the record instead of parsing their
    JSON again, so handing a large import's records to event hooks costs
    little. The caller must not need ``row`` as stored any more."""
    for name, decode, is_json in _codec(type(rec))[1]:
        if name in row:
            row[name] = getattr(rec, name) if is_json else decode(row[name])
    return row


@functools.cache
def _fields_by_name(cls):
    """``attrs.fields_dict``, which builds a new dict on every call, once per class."""
    return attrs.fields_dict(cls)


def build(cls, data):
    """Validated record from user input; raises ``FieldError`` naming the field.

    Keys that are not fields raise too. The fast path is one attrs call; only
    on failure is each field converted alone to find the culprit."""
    known = _fields_by_name(cls)
    for key in data:
        if key not in known:
            raise FieldError(key, f"unknown field (known: {', '.join(known)})")
    try:
        return cls(**data)
    except FieldError:
        raise
    except (ValueError, TypeError) as exc:
        for name, value in data.items():
            conv = known[name].converter
            if conv is not None:
                try:
                    conv(value)
                except (ValueError, TypeError) as field_exc:
                    raise FieldError(name, str(field_exc)) from None
        raise FieldError(next(iter(data), "?"), str(exc)) from None


def update(rec, changes):
    """A copy of ``rec`` with ``changes`` applied and validated."""
    data = {f.name: getattr(rec, f.name) for f in attrs.fields(type(rec))}
    data.update(changes)
    return build(type(rec), data)


def from_row(cls, row):
    """Stored row -> record instance (trusted data, converters re-run)."""
    decoded = decode_row(cls, row)
    known = _fields_by_name(cls)
    return cls(**{k: v for k, v in decoded.items() if k in known})


def fts_columns(cls):
    """Columns of ``cls`` in its full-text search, in field order."""
    return [f.name for f in attrs.fields(cls) if f.metadata.get("fts")]


@attrs.frozen
class TableSpec:
    """A table as a migration creates it: plain data, frozen in the migration.

    A migration that calls ``store.ensure_table(SPEC)`` with a literal spec
    keeps its meaning when the record class changes later; the change then
    needs a migration of its own, and ``crm doctor`` names the missing one
    (``drift``). ``table_spec(cls)`` makes the spec of a class today and
    ``repr`` prints it as the literal to paste into a new migration."""

    table: str
    columns: tuple  # ((name, "TEXT" | "INTEGER" | "REAL"), ...), id first
    references: tuple = ()  # ((column, table), ...)
    unique: tuple = ()  # columns with a unique index
    index: tuple = ()  # columns with a plain index
    fts: tuple = ()  # columns in the full-text index

    def __repr__(self):
        parts = [f"table={self.table!r}", f"columns={self.columns!r}"]
        parts += [f"{k}={getattr(self, k)!r}" for k in ("references", "unique", "index", "fts") if getattr(self, k)]
        return f"TableSpec({', '.join(parts)})"


def table_spec(cls):
    """The ``TableSpec`` of a record class as it is now (a spec passes through)."""
    if isinstance(cls, TableSpec):
        return cls
    fs = attrs.fields(cls)
    refs = tuple((f.name, f.metadata["references"]) for f in fs if f.metadata.get("references"))
    return TableSpec(
        table=table_of(cls),
        columns=tuple(columns(cls).items()),
        references=refs,
        unique=tuple(f.name for f in fs if f.metadata.get("unique")),
        index=tuple(f.name for f in fs if not f.metadata.get("unique") and (f.metadata.get("index") or f.metadata.get("references"))),
        fts=tuple(f.name for f in fs if f.metadata.get("fts")),
    )


def drift(cls, existing_columns):
    """Fields of ``cls`` that have no column in the database (``[]``: none)."""
    existing = set(existing_columns)
    return [name for name in columns(cls) if name not in existing]


def ensure_table(db, spec):
    """Create the table of ``spec`` (a ``TableSpec`` or record class) or add
    the columns it is missing.

    Never drops or rewrites a column, so data survives every upgrade. ``db``
    is a ``sqlite_utils.Database``; use it only from migrations (or, for
    either store, ``store.ensure_table(spec)``)."""
    spec = table_spec(spec)
    name = spec.table
    cols = dict(spec.columns)
    table = db[name]
    if not table.exists():
        sql = db.create_table_sql(name, cols, pk="id", foreign_keys=[(c, t, "id") for c, t in spec.references] or None)
        # AUTOINCREMENT: the id of a deleted record (and its history) is never handed out again.
        db.execute(re.sub(r'((?:\[id\]|"id") INTEGER PRIMARY KEY)', r"\1 AUTOINCREMENT", sql, count=1))
    else:
        existing = set(table.columns_dict)
        for col, sqltype in cols.items():
            if col not in existing:
                table.add_column(col, {"TEXT": str, "INTEGER": int, "REAL": float}[sqltype])
    for col in spec.unique:
        table.create_index([col], unique=True, if_not_exists=True, index_name=f"ux_{name}_{col}")
    for col in spec.index:
        table.create_index([col], if_not_exists=True, index_name=f"ix_{name}_{col}")
    if spec.fts and not db[f"{name}_fts"].exists():
        table.enable_fts(list(spec.fts), create_triggers=True, tokenize="unicode61 remove_diacritics 2")
    return table
