"""Choosing the audience, writing it with a registered format, and the export log.

    result = export(crm, "mailchimp", "audience.csv", segment="newsletter")
    print(result.summary())

Only contacts with marketing consent and not on the suppression list are
written unless ``include_unconsented`` (suppressed addresses are never
written: an unsubscribe is final). The file appears atomically (temp file and
rename) and the export is logged in the same transaction, so there is never a
file without its log entry or a log entry without its file.
"""

import collections
import hashlib
import json
import os

import attrs

from crmcore import (
    Contact,
    CRMError,
    decode_row,
    field_kind,
    field_names,
    fields,
    normalize,
    PluginError,
    private_temp,
    put_in_place,
    suppression_checker,
    suppression_digests,
    suppression_key as email_hash,
)

SUPPRESSED, NO_CONSENT = "suppressed", "no consent"
LOG_FIELDS = ["id", "format", "segment", "exported_at", "user", "path", "row_count", "sha256", "excluded"]
WHERE_SENT_FIELDS = ["export_id", "format", "segment", "exported_at", "path", "sha256", "contact_id", "erased"]


@attrs.define
class ExportResult:
    format: str
    segment: str
    path: str
    rows: int = 0
    excluded: dict = attrs.Factory(dict)
    sha256: str = ""
    dry_run: bool = False
    log_id: int | None = None

    def summary(self):
        """One line for people: what was written and who was left out, why."""
        verb = "Would export" if self.dry_run else "Exported"
        where = "" if self.dry_run else f" to {self.path}"
        text = f"{verb} {self.rows} contact(s) as {self.format}{where}"
        left = sum(self.excluded.values())
        if left:
            reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(self.excluded.items(), key=lambda kv: (-kv[1], kv[0])))
            text += f"; left out {left}: {reasons}"
        return text

    def as_dict(self):
        return attrs.asdict(self)


def export_format(crm, name):
    """The registered format called ``name``; ``CRMError`` listing the known ones."""
    formats = crm.registry.export_formats
    if name not in formats:
        raise CRMError(f"unknown export format {name!r} (formats: {', '.join(sorted(formats)) or 'none'})")
    return formats[name]


def list_formats(crm):
    """Every registered format, built-in or third-party, as dicts."""
    return [{"name": f.name, "plugin": f.plugin, "description": f.description}
            for f in sorted(crm.registry.export_formats.values(), key=lambda f: f.name)]


def _columns(writer):
    """The contact fields to read: the writer's ``fields`` plus what the
    consent check needs, or all. Reading 8 columns instead of 26 is about
    three times faster on a big export."""
    wanted = getattr(writer, "fields", None)
    known = field_names(Contact)
    if not wanted:
        return known
    names = ["id", "email", "consent"]
    for f in (*wanted, *getattr(writer, "requires", ())):
        if f not in names:
            names.append(f)
    unknown = [f for f in names if f not in known]
    if unknown:
        raise CRMError(f"export format needs unknown contact field(s): {', '.join(unknown)}")
    return names


def _decoded(rows, names):
    """Stored rows -> contact dicts (bools, lists, dicts restored), in place;
    like ``decode_row`` but only for the columns read."""
    def to_bool(value):
        return None if value is None else bool(value)

    def from_json(kind):
        return lambda value: kind() if value in (None, "") else json.loads(value)

    decoders = []
    for f in fields(Contact):
        kind = field_kind(f)
        if f.name in names and kind in (bool, list, dict):
            decoders.append((f.name, to_bool if kind is bool else from_json(kind)))
    for row in rows:
        for name, decode in decoders:
            row[name] = decode(row[name])
        yield row


def candidate_rows(crm, segment=None, everyone=False, names=None):
    """``(count, rows)``: the contacts of the segment (or all), decoded, by id.

    ``names``: the fields to read (default: all)."""
    if segment and everyone:
        raise CRMError("--segment and --all cannot be combined: export one segment or everyone")
    if not segment and not everyone:
        raise CRMError("choose the audience: --segment NAME or --all")
    names = names or field_names(Contact)
    count, sql, params = _audience_query(crm, segment, everyone, names)
    return count, _decoded(crm.store.iter_query(sql, params), names)


def _audience_query(crm, segment, everyone, names):
    """``(count, sql, params)``: the query for the columns ``names`` of the audience, by id."""
    from crmcore import quote_name

    columns = ", ".join(quote_name(n) for n in names)
    if everyone:
        return crm.store.count("contacts"), f"SELECT {columns} FROM contacts ORDER BY id", ()
    ids = crm.segment_contact_ids(segment)
    sql = f"SELECT {columns} FROM contacts WHERE id IN ({crm.store.dialect.json_values()}) ORDER BY id"
    return len(ids), sql, (json.dumps(ids),)


def _requirement(writer):
    fields = tuple(getattr(writer, "requires", ()) or ())
    return fields, "no " + " or ".join(f.replace("_", " ") for f in fields)


def consenting(crm, rows, requires=((), ""), include_unconsented=False, excluded=None, included=None, progress=None):
    """Yield the contacts that may be exported; count the others per reason.

    ``included`` collects the ids of the contacts yielded, for the log."""
    is_suppressed = suppression_checker(crm.store)
    excluded = excluded if excluded is not None else collections.Counter()
    fields, missing = requires
    keep = included.append if included is not None else (lambda _: None)
    n = 0
    for c in rows:
        n += 1
        if progress and n % 1000 == 0:
            progress(1000)
        email = c["email"]
        # Older versions stored a punycode domain as given: check its canonical form.
        if email and is_suppressed(_canonical(email)):
            excluded[SUPPRESSED] += 1
        elif not include_unconsented and not c["consent"]:
            excluded[NO_CONSENT] += 1
        elif fields and not any(map(c.get, fields)):
            excluded[missing] += 1
        else:
            keep(c["id"])
            yield c
    if progress:
        progress(n % 1000)


def export(crm, fmt, path, segment=None, everyone=False, include_unconsented=False, dry_run=False, options=None,
           progress=None, label=None):
    """Write the audience in format ``fmt`` to ``path`` and log it. Returns an ``ExportResult``.

    ``progress(total)`` is called once with the number of candidates and
    returns ``update(n)``, called as contacts are read (for a progress bar).
    ``label`` is where the result and the log say it went, if not ``path``."""
    from . import customer_match
    from .formats import write_google_customer_match

    crm.require_schema()
    found = export_format(crm, fmt)
    options = dict(options or {})
    excluded, included, excluded_ids = collections.Counter(), [], []
    # The hashed Customer Match file, the big one, takes a single pass that
    # hashes each address once; the same output as the general path.
    one_pass = found.writer is write_google_customer_match and not options.get("unhashed") and not dry_run
    if one_pass:
        total, sql, params = _audience_query(crm, segment, everyone, customer_match.COLUMNS)
        update = progress(total) if progress else None
        digests = suppression_digests(crm.store)
        check = (*digests, suppression_checker(crm.store, digests), _canonical)
        missing = _requirement(found.writer)[1]

        def write(out):
            return customer_match.write_audience_split(crm.store, sql, params, total, out.buffer, check, include_unconsented,
                                                       missing, excluded, included, excluded_ids, update, next_to=tmp)
    else:
        total, rows = candidate_rows(crm, segment, everyone, _columns(found.writer))
        update = progress(total) if progress else None
        audience = consenting(crm, rows, _requirement(found.writer), include_unconsented, excluded, included, update)

        def write(out):
            found.writer(audience, out, options)
            return None  # the checksum is read back from the file
    result = ExportResult(format=fmt, segment=segment or "", path=str(label or path), dry_run=dry_run)
    if dry_run:
        result.rows = sum(1 for _ in audience)
        result.excluded = dict(excluded)
        return result

    if path != "-":
        path = os.path.abspath(path)
        folder = os.path.dirname(path)
        if not os.path.isdir(folder):
            raise CRMError(f"cannot write {result.path}: folder {folder} does not exist")
    # A private (0600) file next to the target, so the rename is atomic; a
    # device, FIFO or "-" is streamed to instead, never renamed over.
    fd, tmp = private_temp(path, "export")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            try:
                checksum = write(out)
            except (CRMError, PluginError):
                raise
            except Exception as exc:
                raise PluginError(found.plugin, f"export format {fmt!r}", exc) from exc
        result.rows = len(included)
        result.excluded = dict(excluded)
        result.sha256 = checksum or file_sha256(tmp)
        with crm.store.transaction():
            result.log_id = log_export(crm, result, included, include_unconsented, options)
            put_in_place(tmp, path, "export")
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return result


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- the log --------------------------------------------------------------------------


def log_export(crm, result, included, include_unconsented, options):
    """Record the export and the ids of every contact in it."""
    from .records import ExportLog

    options = {k: v for k, v in options.items() if v not in (None, False, "")}
    if include_unconsented:
        options["include_unconsented"] = True
    log_id = crm.add(ExportLog(format=result.format, segment=result.segment, exported_at=normalize.now(), user=crm.user,
                               path=result.path if result.path == "standard output" else os.path.abspath(result.path), row_count=result.rows, sha256=result.sha256,
                               excluded=result.excluded, options=options))
    # One statement over a JSON array: the database does the million inserts.
    crm.store.execute(
        f"INSERT INTO export_log_contacts (contact_id, export_id) SELECT v.value, ? FROM ({crm.store.dialect.json_values()}) AS v",
        (log_id, json.dumps(included)),
    )
    return log_id


def export_log(crm, limit=100):
    """Logged exports, newest first."""
    from .records import ExportLog

    sql = "SELECT * FROM export_log ORDER BY id DESC" + (" LIMIT ?" if limit else "")
    return [decode_row(ExportLog, r) for r in crm.store.query(sql, (limit,) if limit else ())]


def dashboard_context(crm):
    """Figures for the dashboard's exports section."""
    recent = export_log(crm, 10)
    for r in recent:
        r["left_out"] = sum(r["excluded"].values())
        r["segment"] = r["segment"] or "(all)"
    return {
        "consented": crm.store.query_value("SELECT count(*) FROM contacts WHERE consent = 1"),
        "suppressed": crm.store.count("suppressions"),
        "exports": crm.store.count("export_log"),
        "recent": recent,
    }


def export_contacts(crm, export_id):
    """The contacts one export included: ids, and whether each was erased since."""
    if crm.store.get("export_log", export_id) is None:
        raise CRMError(f"no export {export_id} in the log (see crm export log)")
    rows = crm.store.query(
        "SELECT contact_id, erasure_id IS NOT NULL AS erased FROM export_log_contacts WHERE export_id = ? ORDER BY contact_id",
        (export_id,),
    )
    return [{"contact_id": r["contact_id"], "erased": bool(r["erased"])} for r in rows]


def where_sent(crm, ref):
    """Exports that included the contact ``ref`` (id or e-mail), oldest first.

    Works after the contact was erased: by its old id, or by its e-mail
    address, matched through the hash kept at erasure."""
    sql = ("SELECT l.id AS export_id, l.format, l.segment, l.exported_at, l.path, l.sha256, e.contact_id, "
           "e.erasure_id IS NOT NULL AS erased FROM export_log_contacts e JOIN export_log l ON l.id = e.export_id WHERE ")
    try:
        contact = crm.find_contact(ref)
    except CRMError:
        contact = None
    ref = str(ref).strip()
    if contact is not None:
        rows = crm.store.query(sql + "e.contact_id = ? AND e.erasure_id IS NULL ORDER BY l.id", (contact["id"],))
    elif ref.isdigit():
        rows = crm.store.query(sql + "e.contact_id = ? ORDER BY l.id", (int(ref),))
    else:
        try:
            key = email_hash(ref)
        except ValueError:
            raise CRMError(f"{ref!r} is neither a contact id nor an e-mail address") from None
        rows = crm.store.query(
            sql + "e.erasure_id IN (SELECT id FROM export_erasures WHERE email_hash = ?) ORDER BY l.id", (key,)
        )
    if contact is None and not rows:
        raise CRMError(f"no contact {ref!r} and no export of it in the log")
    for r in rows:
        r["erased"] = bool(r["erased"])
    return rows


def forget_contact(crm, contact_id, email=None):
    """The contact is being erased: keep its old id and e-mail hash (no
    personal data) so where-sent still answers, and detach its log rows from
    the id. Returns one note per export that included the contact (for
    ``crm contacts erase``), or ``None`` when it was never exported."""
    sent = crm.store.query(
        "SELECT l.id, l.format, l.segment, l.exported_at, l.path FROM export_log_contacts e "
        "JOIN export_log l ON l.id = e.export_id WHERE e.contact_id = ? AND e.erasure_id IS NULL ORDER BY l.id",
        (contact_id,),
    )
    if not sent:
        return None
    forget_contacts(crm, [contact_id], {contact_id: email} if email is not None else None)
    return [f"was exported in export {r['id']}: {r['format']}" + (f" segment {r['segment']}" if r["segment"] else "")
            + f" at {r['exported_at']} to {r['path']}; ask that destination to erase it too" for r in sent]


def forget_contacts(crm, contact_ids, emails=None):
    """Erased or deleted contacts, in one batch of statements: each exported
    one gets an erasure row (old id, e-mail hash) and its log rows point
    there instead of at the id, which may be given to a new contact later."""
    store, ids = crm.store, json.dumps(list(contact_ids))
    exported = [r["contact_id"] for r in store.query(
        f"SELECT DISTINCT contact_id FROM export_log_contacts WHERE erasure_id IS NULL AND contact_id IN ({store.dialect.json_values()}) "
        "ORDER BY contact_id", (ids,))]
    if not exported:
        return
    if emails is None:
        emails = {r["id"]: r["email"] for r in store.query(
            f"SELECT id, email FROM contacts WHERE id IN ({store.dialect.json_values()})", (json.dumps(exported),))}
    now = normalize.now()
    store.executemany("INSERT INTO export_erasures (contact_id, email_hash, at) VALUES (?, ?, ?)",
                      [(cid, _key(emails.get(cid)), now) for cid in exported])
    store.execute(
        "UPDATE export_log_contacts SET erasure_id = (SELECT max(x.id) FROM export_erasures x WHERE x.contact_id = export_log_contacts.contact_id) "
        f"WHERE erasure_id IS NULL AND contact_id IN ({store.dialect.json_values()})", (json.dumps(exported),))


def _canonical(email):
    """A stored address in its canonical form (Unicode domain), or as it is if it no longer validates."""
    if "xn--" not in email.lower():
        return email
    try:
        return normalize.email(email)
    except ValueError:
        return email


def _key(email):
    """The suppression key of an address, or of one stored before validation as it is."""
    if not email:
        return None
    try:
        return email_hash(email)
    except ValueError:
        return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def move_contact(crm, keep_id, duplicate_id):
    """A merge: the duplicate's exports now belong to the kept contact."""
    crm.store.execute(
        "UPDATE export_log_contacts SET contact_id = ? WHERE contact_id = ? AND erasure_id IS NULL "
        "AND export_id NOT IN (SELECT export_id FROM export_log_contacts WHERE contact_id = ?)",
        (keep_id, duplicate_id, keep_id),
    )
    crm.store.execute("DELETE FROM export_log_contacts WHERE contact_id = ? AND erasure_id IS NULL", (duplicate_id,))
