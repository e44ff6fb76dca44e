"""CSV / JSON / JSON Lines import: header mapping, validation, dedupe, rejects.

All-or-nothing: an import runs in one transaction. Without a rejects file the
first bad row stops it with a one-line error naming file, row and field, and
nothing is written; with one, bad rows go to that file and the good ones are
saved. ``dry_run`` runs everything and then rolls back, so its counts are the
real ones. Row numbers are those a spreadsheet shows (the header is row 1).
"""

import contextlib
import csv
import json
import os
import re

import attrs

from . import normalize, schema
from .currency import convert_orders
from .errors import CRMError
from .output import atomic_write, csv_writer
from .schema import FieldError

BATCH_SIZE = 2000
ON_CONFLICT = ("update", "skip", "error")
EMPTY = ("keep", "clear")  # what an empty cell does on update


class ImportFailed(CRMError):
    pass


class _DryRun(Exception):
    pass


@attrs.frozen
class Reject:
    row: int
    field: str
    reason: str
    data: dict


@attrs.define
class ImportResult:
    path: str
    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: list = attrs.Factory(list)
    extra_columns: list = attrs.Factory(list)
    dry_run: bool = False
    resumed_at: int | None = None
    cleared: int = 0  # stored values an update cleared (--empty clear)
    profile: object = None  # the ImportProfile recognised or forced, if any
    notes: list = attrs.Factory(list)  # what the importer decided for the user (which column it preferred ...)

    def summary(self):
        text = f"{self.created} created, {self.updated} updated, {self.skipped} skipped, {len(self.rejected)} rejected"
        if self.cleared:
            text += f", {self.cleared} field{'s' if self.cleared != 1 else ''} cleared"
        resumed = f" (resumed at row {self.resumed_at})" if self.resumed_at else ""
        return f"{os.path.basename(self.path)}: {text}" + (" (dry run: nothing written)" if self.dry_run else resumed)

    def as_dict(self):
        return {"file": self.path, "created": self.created, "updated": self.updated, "skipped": self.skipped,
                "rejected": len(self.rejected), "cleared": self.cleared, "dry_run": self.dry_run,
                "profile": self.profile.name if self.profile else None, "notes": list(self.notes)}

    def recognised(self):
        """One line naming the export format used, or ``None``."""
        p = self.profile
        return f"Recognised a {p.system} export (profile {p.name}: {p.description})" if p else None


# -- reading ------------------------------------------------------------------


def _header_key(text):
    return re.sub(r"[\s_\-./]+", "", str(text)).casefold()


def detect_format(path, fmt=None):
    if fmt:
        return fmt
    ext = os.path.splitext(path)[1].lower()
    return {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "xlsx", ".xlsm": "xlsx"}.get(ext, "csv")


class _DecodedLines:
    """Decode a binary file line by line, so a bad byte is reported on its own
    row, and report characters read to ``progress``."""

    def __init__(self, f, path, progress):
        self.f, self.path, self.progress, self.line = f, path, progress, 0

    def __iter__(self):
        for raw in self.f:
            self.line += 1
            if self.progress:
                self.progress(len(raw))
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _decode_error(self.path, exc, self.line) from None
            if self.line == 1:
                text = text.removeprefix("\ufeff")
            yield text


def read_rows(path, fmt=None, progress=None, sheet=None):
    """Yield ``(row_number, {header: value})`` from a CSV, JSON, JSONL or Excel
    (.xlsx) file. Other binary files (.xls, PDF, images, ZIP) get a one-line
    error saying what they are and how to save them as CSV."""
    if not os.path.isfile(path):
        raise CRMError(f"{path}: file not found")
    from . import xlsx

    fmt = "xlsx" if xlsx.sniff(path) == "xlsx" else detect_format(path, fmt)
    if sheet is not None and fmt != "xlsx":
        raise CRMError(f"{path}: --sheet applies to Excel workbooks (.xlsx) only")
    if fmt == "xlsx":
        yield from xlsx.read_xlsx(path, sheet, progress, _header_key)
    elif fmt == "csv":
        yield from _read_csv(path, progress)
    elif fmt == "jsonl":
        yield from _read_jsonl(path, progress)
    elif fmt == "json":
        yield from _read_json(path, progress)
    else:
        raise CRMError(f"{path}: unknown format {fmt!r} (csv, json, jsonl or xlsx)")


def _decode_error(path, exc, line):
    return CRMError(f"{path}: row {line}: not valid UTF-8 text (byte 0x{exc.object[exc.start]:02x}); save the file as UTF-8")


def _read_csv(path, progress):
    csv.field_size_limit(16 * 1024 * 1024)
    with open(path, "rb") as f:
        lines = _DecodedLines(f, path, progress)
        it = iter(lines)
        first = next(it, "")
        if not first.strip():
            raise CRMError(f"{path}: the file is empty (a header row is needed)")
        delimiter = max([",", ";", "\t"], key=first.count)
        try:
            header = [h.strip() for h in next(csv.reader([first], delimiter=delimiter))]
        except csv.Error as exc:
            raise CRMError(f"{path}: row 1: malformed CSV ({exc})") from None
        seen = set()
        for h in header:
            if not h:
                raise CRMError(f"{path}: row 1: a column has no header")
            if _header_key(h) in seen:
                raise CRMError(f"{path}: row 1: duplicate column {h!r}")
            seen.add(_header_key(h))
        reader = csv.reader(it, delimiter=delimiter, strict=True)
        row_number = 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise CRMError(f"{path}: row {row_number + 1}: malformed CSV ({exc})") from None
            row_number += 1
            if not "".join(cells).strip():  # a row of empty cells (any cell with text shows in the join)
                continue
            if len(cells) > len(header):
                raise CRMError(f"{path}: row {row_number}: {len(cells)} columns but the header has {len(header)}")
            yield row_number, dict(zip(header, cells))


#: The largest cell the importer reads, in every format (CSV's field limit).
MAX_CELL = 16 * 1024 * 1024
#: The longest JSON Lines line read (a row of several large cells); longer is refused before it is read whole.
MAX_LINE = 32 * 1024 * 1024


def _too_big(value, depth=0):
    """Whether a JSON value holds a string over ``MAX_CELL`` characters."""
    if isinstance(value, str):
        return len(value) > MAX_CELL
    if isinstance(value, dict) and depth < 100:
        return any(_too_big(v, depth + 1) or len(str(k)) > MAX_CELL for k, v in value.items())
    if isinstance(value, list) and depth < 100:
        return any(_too_big(v, depth + 1) for v in value)
    return False


def _json_row(path, number, item):
    if not isinstance(item, dict):
        raise CRMError(f"{path}: row {number}: expected a JSON object, got {type(item).__name__}")
    for key, value in item.items():
        if _too_big(value) or len(str(key)) > MAX_CELL:
            raise CRMError(f"{path}: row {number}: {str(key)[:40]}: a value over 16 MB (the limit for one cell, as in CSV)")
    return number, {str(k): v for k, v in item.items()}


def _loads(path, text, where):
    try:
        return json.loads(text)
    except RecursionError:
        raise CRMError(f"{path}: {where}: JSON nested too deeply") from None
    except ValueError as exc:
        raise CRMError(f"{path}: {where}: invalid JSON ({exc})") from None


def _read_json(path, progress):
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError as exc:
        raise CRMError(f"{path}: not valid UTF-8 text (byte 0x{exc.object[exc.start]:02x}); save the file as UTF-8") from None
    if progress:
        progress(len(text))
    data = _loads(path, text, "file")
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), [data])
    if not isinstance(data, list):
        raise CRMError(f"{path}: expected a JSON array of objects")
    for i, item in enumerate(data, start=1):
        yield _json_row(path, i, item)


def _read_jsonl(path, progress):
    # Bytes line by line, decoded one line at a time: a bad byte is reported on
    # its own row (a text stream decodes ahead in blocks), and no line over
    # MAX_LINE is read whole.
    with open(path, "rb") as f:
        number = 0
        while True:
            raw = f.readline(MAX_LINE + 1)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
                raise CRMError(f"{path}: row {number}: a line over 32 MB (one cell may hold 16 MB, as in CSV)")
            if progress:
                progress(len(raw))
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _decode_error(path, exc, number) from None
            if number == 1:
                line = line.removeprefix("\ufeff")
            if line.strip():
                yield _json_row(path, number, _loads(path, line, f"row {number}"))


# -- checking ahead on the other cores --------------------------------------------

#: A file at least this large has its costly values (e-mail, phone) checked
#: ahead in worker processes while this one maps, validates and writes.
AHEAD_MIN_BYTES = 1024 * 1024
AHEAD_CHUNK = 5000  # rows per piece of work for a worker


def _ahead_workers():
    """Worker processes for checking ahead: ``CRM_IMPORT_WORKERS``, else one
    for each core beyond this process's that other programs leave idle (by
    the load average), at most four; 0 turns it off. On a machine whose cores
    are all busy, workers only add the cost of handing values over: 100,000
    contacts took 8.4 s with one worker against 6.4 s without, at a load of 7
    on two cores."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return 0
    wanted = os.environ.get("CRM_IMPORT_WORKERS", "").strip()
    if wanted.isdigit():
        return min(int(wanted), 8)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        others = max(0.0, os.getloadavg()[0] - 1)  # the load of this process itself is about one
    except OSError:
        others = 0.0
    return max(0, min(cores - 1, round(cores - 1 - others), 4))


def _check_ahead(items):
    """In a worker: ``normalize.email`` of each address and ``normalize.phone``
    of each (phone, country) pair as a record's converters will call them;
    what fails is left out (the importer meets the error itself)."""
    emails, phones = {}, {}
    for address, phone, country in items:
        if address:
            with contextlib.suppress(ValueError):
                emails[address] = normalize.email(address)
        if phone:
            try:
                number = normalize.text(phone)
                code = normalize.country(country) if country and not country.isspace() else None
                if number:
                    phones[(number, code)] = normalize.phone(number, code)
            except ValueError:
                pass
    return emails, phones


def _checked_ahead(rows, path, columns):
    """``rows`` as they are, while worker processes check the costly values of
    the rows coming next (``_check_ahead``) and the results are handed to
    ``normalize`` just before the rows they belong to. The importer then does
    exactly what it does without them (the same functions, the same order, the
    same errors and row numbers), only without waiting for the slow part.

    ``columns()`` gives the headers of e-mail, phone and country (``None``
    where the file has none) once the header row is mapped. Small files, one
    core, or values that are not strings (JSON) go without workers."""
    workers = _ahead_workers()
    try:
        big = os.path.getsize(path) >= AHEAD_MIN_BYTES
    except OSError:
        big = False
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    yield first
    wanted = columns()
    if not workers or not big or not wanted or not any(wanted):
        yield from rows
        return
    import collections
    import multiprocessing

    email_h, phone_h, country_h = wanted
    # The libraries the workers use are imported here first: a child forked
    # while another thread (a web server's) held the import lock could wait for it forever.
    _check_ahead([("ä@example.com", "+49 30 1234567", "DE")])
    pool = multiprocessing.get_context("fork").Pool(workers)
    pending = collections.deque()
    try:
        done = False
        while not done or pending:
            while not done and len(pending) <= workers:
                chunk = [item for _, item in zip(range(AHEAD_CHUNK), rows)]
                done = len(chunk) < AHEAD_CHUNK
                if chunk:
                    items = [(_str_or_none(raw.get(email_h)), _str_or_none(raw.get(phone_h)), _str_or_none(raw.get(country_h)))
                             for _, raw in chunk]
                    pending.append((chunk, pool.apply_async(_check_ahead, (items,))))
            if pending:
                chunk, work = pending.popleft()
                normalize._worked_out(*work.get())
                yield from chunk
    finally:
        normalize._worked_out({}, {})
        pool.terminate()


def _str_or_none(value):
    return value if type(value) is str else None


# -- mapping ------------------------------------------------------------------


def parse_map(pairs):
    """``["Header=field", ...]`` from ``--map`` into a dict."""
    mapping = {}
    for pair in pairs or ():
        header, sep, field = pair.rpartition("=")
        if not sep or not header or not field:
            raise CRMError(f"--map {pair!r} must look like 'Column header=field'")
        mapping[header] = field.strip()
    return mapping


class HeaderMap(dict):
    """``{header: field}`` for a file's columns: a field name; ``None`` for a
    column no field takes (kept as a custom attribute where the record has
    them); ``False`` for a column deliberately left out.

    ``custom``: header -> custom attribute name (``--map "Header=custom.name"``).
    ``fallbacks``: field -> headers whose value fills in where the preferred
    column is blank. ``notes``: what was decided, for the user."""

    def __init__(self):
        super().__init__()
        self.custom, self.fallbacks, self.notes = {}, {}, []
        self.columns = {}  # the same as a plain dict: per-row look-ups stay at dict speed

    def __setitem__(self, header, field):
        super().__setitem__(header, field)
        self.columns[header] = field


# When two columns map to one field, a column whose header says it holds a
# code is the more precise one for these fields (a country name is matched to
# a code by a table; the code is what is stored).
PRECISE_HINTS = {"country": ("code", "iso"), "currency": ("code", "iso")}
_IGNORE = (None, "", "-")


def map_headers(headers, fields, aliases, explicit, path, profile_columns=None):
    """``HeaderMap`` for the headers of a file.

    Targets come from ``explicit`` (``--map``), then ``profile_columns`` (the
    recognised export), then field names and ``aliases``. A target may be a
    field, ``custom`` / ``custom.NAME`` (a custom attribute, for records that
    have them) or ``-`` / ``None`` (leave the column out). When two columns map
    to one field the more precise one is used and the choice is noted: a
    ``--map`` beats a recognised spelling, a code beats a name (country); only
    a true tie is refused."""
    by_key = {_header_key(f): f for f in fields}
    by_key.update({_header_key(a): f for a, f in aliases.items()})
    profile_keys = {_header_key(h): f for h, f in (profile_columns or {}).items()}
    explicit_keys = {_header_key(h): f for h, f in explicit.items()}
    mapping = HeaderMap()
    used = {}  # field -> (header, rank)
    for h in headers:
        key = _header_key(h)
        if key in explicit_keys:
            target, rank, how = explicit_keys[key], 2, "--map"
        elif key in profile_keys:
            target, rank, how = profile_keys[key], 1, "profile"
        elif key in by_key:
            target, rank, how = by_key[key], 1, "name"
        else:
            mapping[h] = None
            continue
        if target in _IGNORE:
            mapping[h] = False
            continue
        target = target.strip()
        if how != "name" and (target == "custom" or target.startswith("custom.")):
            if "custom" not in fields:
                raise CRMError(f"{path}: --map {h}={target}: these records have no custom attributes (fields: {', '.join(fields)})")
            mapping[h] = None
            mapping.custom[h] = target[len("custom."):].strip() or h
            continue
        if target not in fields:
            raise CRMError(f"{path}: --map {h}={target}: no field {target!r} (fields: {', '.join(fields)}; "
                           "or custom.NAME for a custom attribute)")
        score = rank * 2 + any(hint in key for hint in PRECISE_HINTS.get(target, ()))
        if target in used:
            other, other_score = used[target]
            if score == other_score:
                raise CRMError(f"{path}: row 1: columns {other!r} and {h!r} both map to {target!r}; use --map to choose")
            keep, drop = (h, other) if score > other_score else (other, h)
            mapping[drop] = False
            if score // 2 == other_score // 2:  # same rank: the less precise column fills in blanks
                mapping.fallbacks.setdefault(target, []).append(drop)
                why = f"{keep!r} holds a code, {drop!r} fills in where it is blank"
            else:
                why = f"{keep!r} was named with --map, {drop!r} is left out"
            mapping.notes.append(f"columns {other!r} and {h!r} both map to {target}: using {keep!r} ({why})")
            if keep == other:
                continue
        used[target] = (h, score)
        mapping[h] = target
    return mapping


def date_fields(cls):
    """Fields of ``cls`` that hold a date or a timestamp (by their converter)."""
    found = set()
    for a in attrs.fields(cls):
        conv = getattr(a.converter, "__wrapped__", a.converter)
        if conv in (normalize.date, normalize.timestamp):
            found.add(a.name)
    return found


class RowDates:
    """Dates of one file's rows in ISO form, in the order the file writes them
    (``crmcore.dates``); a birthday without a year becomes the custom
    attribute ``birthday`` (``--MM-DD``, ISO 8601 without a year) when the
    record keeps custom attributes."""

    def __init__(self, path, fields, header_map, order, read_again, keep_partial):
        from . import dates

        self.fields = [f for f in fields if f in set(header_map.values())]
        headers = [h for h, f in header_map.items() if f in self.fields]

        def look_ahead():
            for _, raw in read_again():
                for h in headers:
                    if raw.get(h) not in (None, ""):
                        yield raw[h]

        self.order = dates.DateOrder(order, look_ahead, where=f"{path}: ")
        self.keep_partial = keep_partial
        self.error = dates.DateOrderError

    def apply(self, data, custom):
        for f in self.fields:
            value = data.get(f)
            if value is None or value == "":
                continue
            try:
                if f == "birth_date" and self.keep_partial:
                    month_day = self.order.month_day(value)
                    if month_day:
                        custom["birthday"] = month_day
                        del data[f]  # an update keeps a full birth date already known
                        continue
                data[f] = self.order.date(value)
            except self.error as exc:
                if "--date-format" in str(exc):
                    raise CRMError(str(exc)) from None
                raise FieldError(f, str(exc)) from None


# -- rows column by column ------------------------------------------------------


class _ColumnRows:
    """The stored row of ``schema.build(cls, data)`` without building the
    record: each given value through its field's converter, every other
    column at its default (converted and encoded once per file), the record's
    ``__attrs_post_init__`` done by hand, and only the given columns encoded.
    About half the per-row cost of an attrs instance plus ``schema.to_row``.

    Only for ``Contact``, whose post-init ``_contact_after`` writes out.
    ``row`` returns ``None`` whenever anything fails: the caller then builds
    the record the general way, which raises the same error it always did,
    so rejects keep their field and reason (``tests/test_import_columns.py``
    compares both ways on hostile values)."""

    def __init__(self, cls, after):
        self.after = after
        self.converters = {a.name: a.converter for a in attrs.fields(cls)}
        encoders, self.decoders = schema._codec(cls)
        json_fields = {name for name, _, is_json in self.decoders if is_json}
        self.encoders = {name: _json_or_empty(enc) if name in json_fields else enc
                         for name, enc in encoders if enc is not None}
        defaults = cls()
        self.defaults = {name: getattr(defaults, name) for name in self.converters}
        self.template = schema.to_row(defaults)
        self.empty = {name: type(value) for name, value in self.defaults.items()
                      if type(value) in (list, dict) and not value}

    def row(self, data):
        """``(row, values)``: the stored row (every column, ``id`` included,
        in field order as ``schema.to_row`` gives it) and the converted
        values of the fields ``data`` names; ``None`` on any failure."""
        converters = self.converters
        values = {}
        try:
            for name, value in data.items():
                convert = converters[name]
                values[name] = value if convert is None else convert(value)
            self.after(values, self.defaults)
        except Exception:  # the general path raises it again, as it always did
            return None
        row = self.template.copy()
        encoders = self.encoders
        for name, value in values.items():
            encode = encoders.get(name)
            row[name] = value if encode is None else encode(value)
        return row, values

    def saved(self, row, values):
        """What ``schema.decode_saved`` makes of the stored row: lists and
        dicts are the converted values, a new empty one where the field was
        left at an empty default (others decoded from the row)."""
        for name, decode, is_json in self.decoders:
            if name in row:
                if not is_json:
                    row[name] = decode(row[name])
                elif name in values:
                    row[name] = values[name]
                else:
                    empty = self.empty.get(name)
                    row[name] = empty() if empty is not None else decode(row[name])
        return row


def _json_or_empty(encode):
    """A JSON column's encoder that writes an empty list or dict without the
    encoder (most rows have no tags and no custom attributes)."""

    def encode_column(value):
        if not value:
            if type(value) is list:
                return "[]"
            if type(value) is dict:
                return "{}"
        return encode(value)

    return encode_column


def _contact_after(values, defaults, opt_text=None, derived=None):
    """``Contact.__attrs_post_init__`` on converted values (``derived``:
    ``entities.contact_derived``, the rule both follow; ``opt_text``: the
    phone field's converter, which attrs runs on the assignment)."""
    get = values.get
    phone = get("phone", defaults["phone"])
    consent_at = get("consent_at", defaults["consent_at"])
    new_phone, new_consent_at = derived(phone, get("country", defaults["country"]), get("consent", defaults["consent"]), consent_at)
    if phone:
        values["phone"] = opt_text(new_phone)
    if new_consent_at is not consent_at:
        values["consent_at"] = new_consent_at


def _column_rows(cls):
    """A ``_ColumnRows`` for ``cls``, or ``None`` where rows need the record itself."""
    import functools

    from .entities import Contact, contact_derived, opt_text

    return _ColumnRows(cls, functools.partial(_contact_after, opt_text=opt_text, derived=contact_derived)) if cls is Contact else None


# -- the keyed importer ---------------------------------------------------------


def resolve_profile(crm, headers, kind, forced, path):
    """The import profile for a file: ``forced`` (a name or a profile), or the
    one its headers match; ``None`` when there is none."""
    from . import import_profiles

    if isinstance(forced, import_profiles.ImportProfile):
        return forced
    profiles = import_profiles.registered(crm)
    if forced:
        profile = profiles.get(forced)
        if profile is None or profile.kind != kind:
            names = ", ".join(sorted(n for n, p in profiles.items() if p.kind == kind)) or "none"
            raise CRMError(f"--profile {forced}: no {kind} import profile of that name (known: {names}; see crm import-profiles)")
        return profile
    profile = import_profiles.detect(profiles, headers, kind)
    if profile is None and kind in import_profiles.KINDS:
        other = import_profiles.detect_other_kind(profiles, headers, kind)
        if other is not None:
            raise CRMError(f"{path}: this looks like a {other.system} {other.kind} export (profile {other.name}); "
                           f"import it with crm {other.kind} import")
    return profile


def _setup_file(crm, path, headers, kind, fields, aliases, mapping, profile, date_format, read_again, cls):
    """What the importer decides once per file, from its header row: the
    export profile, the column mapping, and how the file writes its dates."""
    from . import dates

    try:
        order = dates.check_order(date_format)
    except ValueError as exc:
        raise CRMError(str(exc)) from None
    found = resolve_profile(crm, headers, kind, profile, path)
    if found is not None and found.other_columns == "ignore":
        aliases = {}  # the export's own columns only: its "order_id" is no order ref of ours
    header_map = map_headers(headers, fields, aliases, mapping or {}, path, found.columns if found else None)
    if found is not None and found.other_columns == "ignore":
        for h, f in header_map.items():
            if f is None and h not in header_map.custom:
                header_map[h] = False
    wanted = date_fields(cls) & set(header_map.values())
    row_dates = None
    if wanted:
        row_dates = RowDates(path, wanted, header_map, order or (found.date_format if found else None), read_again,
                             keep_partial="custom" in fields)
    return header_map, found, row_dates


def import_records(crm, path, table, key, *, fmt=None, mapping=None, on_conflict="update", dry_run=False,
                   rejects_path=None, progress=None, prepare=None, extra_fields=(), commit_every=None,
                   profile=None, date_format=None, sheet=None, empty="keep"):
    """Import a file into ``table``, deduplicating on the unique field ``key``.

    On update an empty cell leaves the stored value as it is; with
    ``empty="clear"`` it clears the field (``result.cleared`` counts them).

    ``prepare(data) -> data`` may adjust a mapped row before validation
    (``extra_fields`` are accepted mapped names it consumes).

    The export format (``crmcore.import_profiles``) is recognised from the
    header row unless ``profile`` names one; ``date_format`` (DMY, MDY, YMD)
    says how the file writes dates, else its values tell; ``sheet`` picks the
    sheet of an Excel workbook.

    ``commit_every=N`` gives up all-or-nothing for very large files: every N
    rows are committed together with a note of how far the file got, so a
    killed import leaves whole batches only and the same command run again
    resumes after the last committed row."""
    if on_conflict not in ON_CONFLICT:
        raise CRMError(f"--on-conflict must be one of {', '.join(ON_CONFLICT)}")
    if empty not in EMPTY:
        raise CRMError(f"--empty must be one of {', '.join(EMPTY)}")
    if commit_every is not None and (commit_every < 1 or dry_run):
        raise CRMError("--commit-every needs a positive row count and cannot be combined with --dry-run")
    crm.require_schema()
    cls = crm.record_type(table)
    fields = [f for f in schema.field_names(cls) if f not in ("id", "created_at", "updated_at")] + list(extra_fields)
    aliases = crm.registry.import_aliases.get(table, {})
    result = ImportResult(path=path, dry_run=dry_run)
    has_custom = "custom" in fields
    table_columns = set(schema.columns(cls))
    resume = _Resume(crm, path, table) if commit_every else None
    since_commit = 0
    header_map = None
    row_dates = transform = None
    seen = _SeenKeys(crm.store)
    batch = []
    wants_records = bool(crm.hook_impls("crm_records_saved"))
    clear = empty == "clear"
    fast = _column_rows(cls)

    reject = _rejecter(result, rejects_path)

    def flush():
        if not batch:
            return
        existing = _existing_ids(crm.store, table, key, [item[1] for item in batch])
        stamp = normalize.now()
        new_rows, new_made, changed_rows = [], [], []
        custom_updates = []
        for number, value, row, made, data, blank_custom in batch:
            found = existing.get(value)
            if found is None:
                row.pop("id", None)
                row["created_at"] = row["updated_at"] = stamp
                new_rows.append(row)
                new_made.append(made)
            elif on_conflict == "skip":
                result.skipped += 1
            elif on_conflict == "error":
                reject(number, key, f"{value!r} already exists (id {found})", {})
            else:
                # Only the columns the file has are updated: an empty cell keeps the stored value unless
                # --empty clear; custom attributes are merged into the stored ones, and with --empty clear
                # an empty one goes. (In field order, as schema.to_row gives them.)
                if clear:
                    present = {f for f in data if f in table_columns}
                else:  # not _blank(v), written out: this runs for every updated row
                    present = {f for f, v in data.items() if f in table_columns
                               and v is not None and (not isinstance(v, str) or v.strip())}
                if blank_custom:
                    present.add("custom")
                update = {name: v for name, v in row.items() if name in present}
                update["id"], update["updated_at"] = found, stamp
                changed_rows.append(update)
                if "custom" in update:
                    custom_updates.append((update, blank_custom))
        batch.clear()
        result.cleared += _merge_custom(crm.store, table, custom_updates)
        ids = crm.store.insert_many(table, new_rows)
        result.created += len(new_rows)
        for group in _same_keys(changed_rows):
            result.cleared += _audit_updates(crm, table, group)
            crm.store.update_many(table, group)
        result.updated += len(changed_rows)
        if wants_records and (new_rows or changed_rows):
            # New rows are complete in hand; updated ones changed only some
            # columns, so those are read back whole.
            records = []
            for id_, made, row in zip(ids, new_made, new_rows):
                row["id"] = id_
                records.append(schema.decode_saved(made, row) if fast is None else fast.saved(row, made))
            records.extend(_fetch(crm.store, cls, table, [r["id"] for r in changed_rows]))
            crm.emit("crm_records_saved", crm=crm, table=table, records=records)

    def ahead_columns():
        by_field = {f: h for h, f in header_map.items() if f}
        return by_field.get("email"), by_field.get("phone"), by_field.get("country")

    with _all_or_nothing(crm, result, rejects_path), \
            contextlib.closing(_checked_ahead(read_rows(path, fmt, progress, sheet), path, ahead_columns)) as rows:
        for number, raw in rows:
            if header_map is None:
                header_map, result.profile, row_dates = _setup_file(
                    crm, path, list(raw), table, fields, aliases, mapping, profile, date_format,
                    lambda: read_rows(path, fmt, None, sheet), cls)
                transform = result.profile.transform if result.profile else None
                result.notes = header_map.notes
                if key not in header_map.values():
                    raise CRMError(f"{path}: no {key} column (found: {', '.join(raw)}); name one with --map 'Header={key}'")
                unknown = [h for h, f in header_map.items() if f is None and h not in header_map.custom]
                if unknown and not has_custom:
                    raise CRMError(f"{path}: row 1: unknown column {unknown[0]!r} (fields: {', '.join(fields)}); use --map")
                result.extra_columns = unknown
            if resume and number <= resume.rows_done:
                resume.remember(raw, header_map, fields, aliases, mapping or {}, key, seen, number)
                continue
            try:
                data, custom = _split_row(raw, header_map, fields, aliases, mapping or {}, path, has_custom)
                if row_dates is not None:
                    row_dates.apply(data, custom)
                if transform is not None:
                    data = transform(data, raw)
                if custom:
                    try:
                        data["custom"] = {**normalize.json_object(data.get("custom")), **custom}
                    except ValueError as exc:
                        raise FieldError("custom", str(exc)) from None
                if prepare:
                    data = prepare(data)
                built = fast.row(data) if fast is not None else None
                if built is None:
                    rec = schema.build(cls, data)
                    built = schema.to_row(rec), rec
                    value = getattr(rec, key)
                else:
                    value = built[1].get(key, fast.defaults[key])
            except FieldError as exc:
                reject(number, exc.field, exc.reason, raw)
                continue
            if value in (None, ""):
                reject(number, key, "missing", raw)
                continue
            first = seen.get(value)
            if first is not None:
                reject(number, key, f"duplicate of row {first} ({value!r})", raw)
                continue
            seen[value] = number
            blank_custom = set()  # custom attributes an empty cell clears (--empty clear)
            if has_custom and clear:
                blank_custom = {header_map.custom.get(h, h) for h, v in raw.items()
                                if header_map.columns.get(h) is None and _blank(v)}
            batch.append((number, value, *built, data, blank_custom))
            since_commit += 1
            if resume and since_commit >= commit_every:
                flush()
                resume.commit(number)
                since_commit = 0
            elif len(batch) >= BATCH_SIZE:
                flush()
        if header_map is None and not os.path.getsize(path):
            raise CRMError(f"{path}: the file is empty")
        flush()
        if resume:
            resume.finish()
        seen.drop()
    result.resumed_at = resume.resumed_at if resume else None
    return result


#: Keys an import keeps in memory for finding duplicates; those after them
#: go to a temporary table, so memory stays flat however long the file.
SEEN_IN_MEMORY = 1_000_000


class _SeenKeys:
    """The key values met so far in a file and the row each was first on."""

    def __init__(self, store):
        self.store, self.memory, self.spilled = store, {}, False

    def get(self, key):
        found = self.memory.get(key)
        if found is None and self.spilled:
            found = self.store.query_value("SELECT row_number FROM _crm_import_seen WHERE key = ?", (key,))
        return found

    def __setitem__(self, key, number):
        if len(self.memory) < SEEN_IN_MEMORY:
            self.memory[key] = number
            return
        if not self.spilled:
            # Inside the import's transaction: a rolled-back import takes the table with it.
            self.store.execute("CREATE TEMP TABLE IF NOT EXISTS _crm_import_seen (key TEXT PRIMARY KEY, row_number INTEGER)")
            self.store.execute("DELETE FROM _crm_import_seen")
            self.spilled = True
        self.store.execute("INSERT INTO _crm_import_seen (key, row_number) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                           (key, number))

    def drop(self):
        if self.spilled:
            self.store.execute("DROP TABLE _crm_import_seen")
            self.spilled = False


class _Resume:
    """Progress of a ``commit_every`` import, kept in the database itself so
    that it commits atomically with the rows it describes."""

    def __init__(self, crm, path, table):
        import hashlib

        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        self.store, self.key, self.path, self.table = crm.store, f"{table}:{digest.hexdigest()}", path, table
        self.store.execute(
            "CREATE TABLE IF NOT EXISTS _crm_import_progress (file_key TEXT PRIMARY KEY, path TEXT, rows_done INTEGER, at TEXT)"
        )
        self.rows_done = self.store.query_value("SELECT rows_done FROM _crm_import_progress WHERE file_key = ?", (self.key,)) or 0
        self.resumed_at = self.rows_done + 1 if self.rows_done else None

    def remember(self, raw, header_map, fields, aliases, explicit, key, seen, number):
        """Note the key of an already imported row, for duplicate detection."""
        mapping = header_map or map_headers(list(raw), fields, aliases, explicit, self.path)
        for header, field in mapping.items():
            if field == key and raw.get(header):
                try:
                    seen[normalize.email(raw[header]) if key == "email" else normalize.text(raw[header])] = number
                except ValueError:
                    pass

    def commit(self, number):
        self.store.execute(
            "INSERT INTO _crm_import_progress (file_key, path, rows_done, at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(file_key) DO UPDATE SET rows_done = excluded.rows_done, at = excluded.at",
            (self.key, self.path, number, normalize.now()),
        )
        self.store.checkpoint()

    def finish(self):
        self.store.execute("DELETE FROM _crm_import_progress WHERE file_key = ?", (self.key,))


def _split_row(raw, header_map, fields, aliases, explicit, path, has_custom):
    """Mapped field values and unmapped extras of one row. JSON rows may bring
    keys the first row lacked; those are mapped on first sight."""
    data, custom = {}, {}
    columns = header_map.columns
    for header, value in raw.items():
        if header not in columns:
            single = map_headers([header], fields, aliases, explicit, path)
            header_map[header] = single[header]
            header_map.custom.update(single.custom)
        field = columns[header]
        if field:
            data[field] = value
        elif field is False:
            continue
        elif not has_custom:
            raise FieldError(header, f"unknown column (fields: {', '.join(fields)}); use --map")
        elif value not in (None, ""):
            if type(value) is not str and hasattr(value, "isoformat"):  # a date cell of a workbook
                value = value.isoformat()
            custom[header_map.custom.get(header, header)] = value
    if header_map.fallbacks:
        for field, headers in header_map.fallbacks.items():
            if data.get(field) in (None, ""):
                for h in headers:
                    if raw.get(h) not in (None, ""):
                        data[field] = raw[h]
                        break
    return data, custom


def _rejecter(result, rejects_path):
    """Record a bad row; without a rejects file the first one fails the import."""

    def reject(number, field, reason, raw):
        result.rejected.append(Reject(number, field, reason, raw))
        if rejects_path is None:
            raise ImportFailed(f"{result.path}: row {number}: {field}: {reason}")

    return reject


@contextlib.contextmanager
def _all_or_nothing(crm, result, rejects_path):
    """One transaction for the whole import; a dry run rolls it back at the
    end; the rejects file is written only once the outcome is known."""
    try:
        with crm.store.bulk_write(), crm.store.transaction():
            yield
            if result.dry_run:
                raise _DryRun()
    except _DryRun:
        pass
    if rejects_path and result.rejected:
        write_rejects(rejects_path, result.rejected)


def _same_keys(rows):
    groups = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    return groups.values()


def _existing_ids(store, table, key, values):
    rows = store.rows_where_in(table, key, [v for v in values if v is not None], ["id", key])
    return {row[key]: row["id"] for row in rows}


def _merge_custom(store, table, updates):
    """Custom attributes of updated rows: the file's merged into the stored
    ones (an attribute the file lacks is kept); ``blank`` names those an
    empty cell clears (``--empty clear``). Returns how many were cleared."""
    if not updates:
        return 0
    ids = [u["id"] for u, _ in updates]
    stored, cleared = {}, 0
    for r in store.rows_where_in(table, "id", ids, ["id", "custom"]):
        stored[r["id"]] = normalize.json_object(r["custom"])
    for update, blank in updates:
        merged = {**stored.get(update["id"], {}), **normalize.json_object(update["custom"])}
        for name in blank:
            cleared += merged.pop(name, None) not in (None, "")
        update["custom"] = json.dumps(merged, ensure_ascii=False)
    return cleared


def _blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


_EMPTY_VALUES = (None, "", "[]", "{}")


def _audit_updates(crm, table, updates):
    """Audit what an import changes, field by field with old and new values, as
    ``crm.update`` does; a row with nothing new leaves no entry. ``updates``
    share their columns (one group of ``_same_keys``). Returns how many
    stored values the updates clear."""
    columns = [c for c in updates[0] if c not in ("id", "updated_at")]
    if not columns:
        return 0
    old = {r["id"]: r for r in crm.store.rows_where_in(table, "id", [u["id"] for u in updates], ["id", *columns])}
    changed, cleared = [], 0
    for u in updates:
        before = old[u["id"]]
        diff = {c: [before[c], u[c]] for c in columns if before[c] != u[c]}
        if diff:
            changed.append((u["id"], diff))
            cleared += sum(1 for was, now in diff.values() if now in _EMPTY_VALUES and was not in _EMPTY_VALUES)
    if changed:
        crm.audit_many("import", table, changed)
    return cleared


def _fetch(store, cls, table, ids):
    return [schema.decode_row(cls, r) for r in store.rows_where_in(table, "id", ids)]


def schema_quote(name):
    from .store import quote_name

    return quote_name(name)


def write_rejects(path, rejects):
    """Write rejected rows (row number, field, reason, original cells) as CSV.

    Written to a temporary file and renamed, so it is never half-written."""
    columns = []
    for r in rejects:
        for k in r.data:
            if k not in columns:
                columns.append(k)
    with atomic_write(path, "rejects file") as f:
        writer = csv_writer(f)
        writer.writerow(["row", "field", "reason"] + columns)
        for r in rejects:
            writer.writerow([r.row, r.field, r.reason] + [_cell(r.data.get(c, "")) for c in columns])


def _cell(value):
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# -- contacts -------------------------------------------------------------------


def import_contacts(crm, path, **options):
    """Contacts keyed on e-mail. A suppressed address is never re-subscribed;
    a company name links to (or creates) a company."""
    crm.require_schema()
    from .privacy import suppression_checker

    # Every spelling of a suppressed address (Unicode or punycode domain, and
    # hashes older versions stored under the punycode form) stays suppressed.
    is_suppressed = suppression_checker(crm.store)
    companies = {}

    def prepare(data):
        if data.get("email"):
            try:
                email = normalize.email(data["email"])
            except ValueError as exc:
                raise FieldError("email", str(exc)) from None
            if is_suppressed(email):
                data["consent"] = False
        try:
            name = normalize.text(data.get("company"))
        except ValueError as exc:
            raise FieldError("company", str(exc)) from None
        if name and not data.get("company_id"):
            if name not in companies:
                found = crm.store.query_value("SELECT id FROM companies WHERE name = ?", (name,))
                if found is None:
                    from .entities import Company

                    found = crm.store.insert_many("companies", [{**schema.to_row(Company(name=name)), "created_at": normalize.now(), "updated_at": normalize.now()}])[0]
                companies[name] = found
            data["company_id"] = companies[name]
        return data

    return import_records(crm, path, "contacts", "email", prepare=prepare, **options)


# -- orders ---------------------------------------------------------------------

ORDER_FIELDS = ("ref", "ordered_at", "email", "contact_id", "channel", "currency", "total", "sku", "description", "quantity", "unit_price")

#: Rows of an orders file gathered before the orders among them are written.
#: The lines of one order may be anywhere in the file: a line of an order
#: written before is added to it then (and its total summed again), so memory
#: stays flat however long the file.
ORDER_FLUSH_ROWS = 50_000
#: Refs of the orders this import has written (or skipped) kept in memory;
#: those after them go to a temporary table.
ORDER_REFS_IN_MEMORY = 100_000
#: Customers' e-mail addresses kept with their contact id (looked up again once forgotten).
ORDER_CUSTOMERS_IN_MEMORY = 100_000

#: Distinct cells whose conversion an orders import remembers (per kind: lines, order heads, e-mail addresses).
ORDER_MEMO = 50_000

_LINE_FIELDS = ("sku", "description", "quantity", "unit_price")
_HEAD_FIELDS = ("ref", "ordered_at", "channel", "currency", "total")
_ABSENT = object()  # a cell the file does not have (the record's default applies)


def _remember(memo, key, value):
    if len(memo) >= ORDER_MEMO:
        memo.clear()
    memo[key] = value


def import_orders(crm, path, *, fmt=None, mapping=None, on_conflict="skip", dry_run=False, rejects_path=None, progress=None,
                  profile=None, date_format=None, sheet=None):
    """Orders with their lines: one file row per order line.

    Rows sharing an order ``ref`` form one order; a row without ``ref`` is an
    order of its own. Contacts are found by ``email`` or ``contact_id``. An
    order whose ref exists is skipped (``update`` replaces it, ``error``
    rejects it). The total is the sum of the lines unless a total is given.
    The order's date, customer, channel, currency and total come from its
    first row; later rows of an order may leave them blank (as Shopify's
    export does). ``profile``, ``date_format`` and ``sheet`` as for
    ``import_records``.

    The orders are written every ``ORDER_FLUSH_ROWS`` rows, all in the one
    transaction of the import; a later line of an order already written is
    added to it and its total summed again. Plugins hear of the lines as they
    are written and of each order once, with its final total, at the end
    (``crm_records_saved``)."""
    from .entities import Order

    if on_conflict not in ON_CONFLICT:
        raise CRMError(f"--on-conflict must be one of {', '.join(ON_CONFLICT)}")
    crm.require_schema()
    aliases = crm.registry.import_aliases.get("orders", {})
    result = ImportResult(path=path, dry_run=dry_run)
    header_map = row_dates = transform = None
    reject = _rejecter(result, rejects_path)
    # Rows checked together (customers looked up in one query); never more than a flush.
    per_batch = max(1, min(BATCH_SIZE, ORDER_FLUSH_ROWS))
    explicit = mapping or {}

    with _all_or_nothing(crm, result, rejects_path):
        orders = _OrderWriter(crm, on_conflict, result, reject)
        pending = []
        for number, raw in read_rows(path, fmt, progress, sheet):
            if header_map is None:
                header_map, result.profile, row_dates = _setup_file(
                    crm, path, list(raw), "orders", list(ORDER_FIELDS), aliases, mapping, profile, date_format,
                    lambda: read_rows(path, fmt, None, sheet), Order)
                transform = result.profile.transform if result.profile else None
                result.notes = header_map.notes
                unknown = [h for h, f in header_map.items() if f is None]
                if unknown:
                    raise CRMError(f"{path}: row 1: unknown column {unknown[0]!r} (fields: {', '.join(ORDER_FIELDS)}); use --map")
                if "email" not in header_map.values() and "contact_id" not in header_map.values():
                    raise CRMError(f"{path}: no email or contact_id column to find the customer; use --map")
            if not header_map.keys() >= raw.keys():
                reject(number, "row", "column not in the header row", raw)
                continue
            try:
                data, _ = _split_row(raw, header_map, ORDER_FIELDS, aliases, explicit, path, False)
                if row_dates is not None:
                    row_dates.apply(data, {})
                if transform is not None:
                    data = transform(data, raw)
            except FieldError as exc:
                reject(number, exc.field, exc.reason, raw)
                continue
            pending.append((number, data, raw))
            if len(pending) >= per_batch:
                orders.collect(pending)
                pending.clear()
        orders.collect(pending)
        orders.finish()
        convert_orders(crm)  # the new orders' factors to the base currency, one pass per currency and day
    return result


class _Order:
    """An order gathered from the file and not written yet: a new one
    (``head`` its row), or more lines of one written (or skipped) before
    (``late``; ``order_id`` None when those lines are dropped)."""

    __slots__ = ("contact_id", "head", "late", "lines", "order_id", "row", "total_given")

    def __init__(self, head, lines, row, total_given, contact_id, late=False, order_id=None):
        self.head, self.lines, self.row, self.total_given = head, lines, row, total_given
        self.contact_id, self.late, self.order_id = contact_id, late, order_id


class _OrderRefs:
    """The refs this import has handled: ``ref -> (order id or None when
    skipped or rejected, contact id, first row, total given)``; in memory up
    to ``ORDER_REFS_IN_MEMORY``, then in a temporary table (inside the
    import's transaction: a rolled-back import takes it with it)."""

    TABLE = "_crm_import_order_refs"

    def __init__(self, store):
        self.store, self.memory, self.spilled = store, {}, False

    def add_many(self, items):
        room = ORDER_REFS_IN_MEMORY - len(self.memory)
        for ref, info in items[:max(room, 0)]:
            self.memory[ref] = info
        rest = items[max(room, 0):]
        if not rest:
            return
        if not self.spilled:
            self.store.execute(f"CREATE TEMP TABLE IF NOT EXISTS {self.TABLE} (ref TEXT PRIMARY KEY, order_id BIGINT, "
                               "contact_id BIGINT, row_number INTEGER, total_given INTEGER)")
            self.store.execute(f"DELETE FROM {self.TABLE}")
            self.spilled = True
        self.store.executemany(f"INSERT INTO {self.TABLE} (ref, order_id, contact_id, row_number, total_given) VALUES (?, ?, ?, ?, ?)",
                               [(ref, oid, cid, row, int(given)) for ref, (oid, cid, row, given) in rest])

    def fetch(self, refs):
        """``{ref: info}`` of those of ``refs`` in the temporary table."""
        found = {}
        if not self.spilled:
            return found
        for r in self.store.rows_where_in(self.TABLE, "ref", refs, ["ref", "order_id", "contact_id", "row_number", "total_given"]):
            found[r["ref"]] = (r["order_id"], r["contact_id"], r["row_number"], bool(r["total_given"]))
        return found

    def drop(self):
        if self.spilled:
            self.store.execute(f"DROP TABLE {self.TABLE}")
            self.spilled = False


class _OrderWriter:
    """Gathers the rows of an orders file into orders and writes them every
    ``ORDER_FLUSH_ROWS`` rows."""

    def __init__(self, crm, on_conflict, result, reject):
        self.crm, self.store, self.on_conflict, self.result, self.reject = crm, crm.store, on_conflict, result, reject
        self.window, self.window_rows = {}, 0
        self.refs = _OrderRefs(crm.store)
        self.customers = {}  # e-mail -> contact id
        self.existing_rejects = []  # (row, ref): reported after every row is read, as when all orders were written at the end
        self.written = []  # [first id, last id] runs of the orders written, for the records-saved hook
        self.wants_records = bool(crm.hook_impls("crm_records_saved"))
        self.lines, self.heads, self.emails = {}, {}, {}  # what the per-row conversions gave for the same cells

    # -- reading ----------------------------------------------------------------
    def collect(self, pending):
        """Check a batch of rows and add them to the orders gathered."""
        if not pending:
            return
        # First the values looked up in the database, for the whole batch at once:
        # customers by e-mail, and refs of orders written in an earlier batch.
        window, handled, known = self.window, self.refs.memory, self.emails
        refs, emails, wanted, unknown = [], [], set(), set()
        for _, data, _ in pending:
            try:
                ref = normalize.text(data.get("ref")) or None
                if ref and ref not in window and ref not in handled:
                    unknown.add(ref)
            except ValueError as exc:
                ref = exc
            refs.append(ref)
            value = data.get("email")
            if value in (None, ""):
                emails.append(None)
                continue
            email = known.get(value) if type(value) is str else None
            if email is None:
                try:
                    email = normalize.email(value)
                except ValueError as exc:
                    emails.append(FieldError("email", str(exc)))
                    continue
                if type(value) is str:
                    _remember(known, value, email)
            emails.append(email)
            wanted.add(email)
        self._resolve_customers(wanted)
        spilled = self.refs.fetch(unknown) if unknown else {}
        customers, reject = self.customers, self.reject
        for (number, data, raw), ref, email in zip(pending, refs, emails):
            try:
                try:
                    if type(ref) is ValueError:
                        raise ref
                    contact_id = data.get("contact_id")
                    contact_id = None if contact_id in (None, "") else normalize.integer(contact_id)
                except ValueError as exc:
                    raise FieldError("ref" if "NUL" in str(exc) else "contact_id", str(exc)) from None
                entry = None
                if ref:
                    entry = window.get(ref)
                    if entry is None:
                        info = handled.get(ref) or spilled.get(ref)
                        if info is not None:
                            entry = _Order(None, [], info[2], info[3], info[1], late=True, order_id=info[0])
                if email is not None:
                    if type(email) is FieldError:
                        raise email
                    contact_id = customers.get(email)
                    if contact_id is None:
                        raise FieldError("email", f"no contact with e-mail {email!r} (import the contacts first)")
                elif contact_id is None and entry is None:
                    raise FieldError("email", "missing: an order line needs the customer's email or contact_id")
                line = self._line(data)
                if entry is None:
                    head, total_given = self._head(data, ref, contact_id)
            except FieldError as exc:
                reject(number, exc.field, exc.reason, raw)
                continue
            if entry is None:
                window[ref or f"\x00row{number}"] = _Order(head, [line], number, total_given, contact_id)
                continue
            if contact_id is not None and entry.contact_id != contact_id:
                reject(number, "email", f"order {ref!r} already belongs to another customer (row {entry.row})", raw)
                continue
            if entry.late and ref not in window:
                window[ref] = entry
            entry.lines.append(line)
        self.window_rows += len(pending)
        if self.window_rows >= ORDER_FLUSH_ROWS:
            self.flush()

    def _line(self, data):
        """``(sku, description, quantity, unit_price)`` of a row, as an
        ``OrderLine`` built from it has them. Lines of the same text cells are
        built once (the record's converters are pure)."""
        get = data.get
        key = sku, description, quantity, price = (get("sku", _ABSENT), get("description", _ABSENT), get("quantity", _ABSENT),
                                                   get("unit_price", _ABSENT))
        # Only text cells (a CSV's): 1, 1.0 and True are equal keys but not equal cells.
        cacheable = ((type(quantity) is str or quantity is _ABSENT) and (type(price) is str or price is _ABSENT)
                     and (type(sku) is str or sku is _ABSENT) and (type(description) is str or description is _ABSENT))
        line = self.lines.get(key) if cacheable else None
        if line is None:
            from .entities import OrderLine

            rec = schema.build(OrderLine, {k: v for k, v in zip(_LINE_FIELDS, key) if v is not _ABSENT})
            line = (rec.sku, rec.description, rec.quantity, rec.unit_price)
            if cacheable:
                _remember(self.lines, key, line)
        return line

    def _head(self, data, ref, contact_id):
        """The stored row of the order a row starts, without ``id``, and
        whether the file gave its total. What the ``Order`` record makes of
        the date, channel, currency and total is worked out once per distinct
        cells: only ``ref`` (normalised already) and ``contact_id`` differ."""
        head = {k: data[k] for k in _HEAD_FIELDS if k in data and data[k] not in (None, "")}
        key = tuple((k, v) for k, v in head.items() if k != "ref")
        cacheable = all(type(v) is str for _, v in key)
        template = self.heads.get(key) if cacheable else None
        if template is None:
            from .entities import Order

            head["contact_id"] = contact_id
            template = schema.to_row(schema.build(Order, head))
            template.pop("id", None)
            if cacheable:
                _remember(self.heads, key, template)
        row = template.copy()
        row["ref"], row["contact_id"] = ref, contact_id
        return row, "total" in head

    def _resolve_customers(self, emails):
        cache = self.customers
        missing = [e for e in emails if e not in cache]
        if len(cache) + len(missing) > ORDER_CUSTOMERS_IN_MEMORY:
            cache.clear()  # and the batch's addresses looked up again, those it knew included
            missing = list(emails)
        for r in self.store.rows_where_in("contacts", "email", missing, ["email", "id"]):
            cache[r["email"]] = r["id"]

    # -- writing ----------------------------------------------------------------
    def flush(self):
        """Write the orders gathered, and the lines of orders written before."""
        window, self.window, self.window_rows = self.window, {}, 0
        if not window:
            return
        new, late = [], []
        for key, entry in window.items():
            if not entry.late:
                new.append((key, entry))
            elif entry.order_id is not None:
                late.append(entry)
        stamp = normalize.now()
        handled = []
        existing = _existing_ids(self.store, "orders", "ref", [k for k, _ in new if not k.startswith("\x00")])
        for i in range(0, len(new), BATCH_SIZE):
            self._write_new(new[i:i + BATCH_SIZE], existing, stamp, handled)
        if late:
            self._write_late(late)
        self.refs.add_many(handled)

    def _write_new(self, chunk, existing, stamp, handled):
        crm, store, result = self.crm, self.store, self.result
        order_rows, groups, replaced = [], [], []
        for key, entry in chunk:
            real = not key.startswith("\x00")
            if real and key in existing:
                if self.on_conflict != "update":
                    if self.on_conflict == "skip":
                        result.skipped += 1
                    else:
                        self.existing_rejects.append((entry.row, key))
                    handled.append((key, (None, entry.contact_id, entry.row, entry.total_given)))
                    continue
                replaced.append(existing[key])
            row = entry.head
            if not entry.total_given:
                row["total"] = round(sum(q * p for _, _, q, p in entry.lines), 2)
            row["created_at"] = row["updated_at"] = stamp
            order_rows.append(row)
            groups.append((key if real else None, entry))
        if replaced:
            crm.emit("crm_records_deleted", crm=crm, table="orders", ids=replaced)
            for oid in replaced:
                store.execute("DELETE FROM order_lines WHERE order_id = ?", (oid,))
            store.delete_many("orders", replaced)
            result.updated += len(replaced)
        if not order_rows:
            return
        ids = store.insert_many("orders", order_rows)
        result.created += len(order_rows) - len(replaced)
        self._remember_ids(ids)
        line_rows = []
        for oid, (ref, entry) in zip(ids, groups):
            if ref is not None:
                handled.append((ref, (oid, entry.contact_id, entry.row, entry.total_given)))
            for sku, description, quantity, unit_price in entry.lines:
                line_rows.append({"order_id": oid, "sku": sku, "description": description, "quantity": quantity,
                                  "unit_price": unit_price})
        self._insert_lines(line_rows)

    def _write_late(self, late):
        """More lines of orders written before: added, and the totals the file
        did not give summed again over all of each order's lines."""
        line_rows = [{"order_id": entry.order_id, "sku": sku, "description": description, "quantity": quantity,
                      "unit_price": unit_price}
                     for entry in late for sku, description, quantity, unit_price in entry.lines]
        self._insert_lines(line_rows)
        summed = [entry.order_id for entry in late if not entry.total_given]
        totals = {}
        lines = self.store.rows_where_in("order_lines", "order_id", summed, ["id", "order_id", "quantity", "unit_price"])
        for r in sorted(lines, key=lambda r: r["id"]):  # in file order, added as on the first write
            totals.setdefault(r["order_id"], []).append(r["quantity"] * r["unit_price"])
        if totals:
            self.store.executemany("UPDATE orders SET total = ? WHERE id = ?",
                                   [(round(sum(parts), 2), oid) for oid, parts in totals.items()])

    def _insert_lines(self, line_rows):
        line_ids = self.store.insert_many("order_lines", line_rows)
        if self.wants_records and line_rows:
            for lid, row in zip(line_ids, line_rows):
                row["id"] = lid
            self.crm.emit("crm_records_saved", crm=self.crm, table="order_lines", records=line_rows)

    def _remember_ids(self, ids):
        runs = self.written
        for oid in ids:
            if runs and runs[-1][1] == oid - 1:
                runs[-1][1] = oid
            else:
                runs.append([oid, oid])

    def finish(self):
        """Write what is left; report the existing orders ``on_conflict="error"``
        refused; tell plugins of each order written, with its final total."""
        from .entities import Order

        self.flush()
        for number, ref in self.existing_rejects:
            self.reject(number, "ref", f"order {ref!r} already exists", {})
        self.refs.drop()
        if not self.wants_records:
            return
        columns = ", ".join(schema_quote(c) for c in schema.field_names(Order))
        for first, last in self.written:
            for start in range(first, last + 1, BATCH_SIZE):
                rows = self.store.query(f"SELECT {columns} FROM orders WHERE id BETWEEN ? AND ? ORDER BY id",
                                        (start, min(start + BATCH_SIZE - 1, last)))
                self.crm.emit("crm_records_saved", crm=self.crm, table="orders", records=[schema.decode_row(Order, r) for r in rows])
