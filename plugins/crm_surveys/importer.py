"""Import responses from the CSV (or JSON) a survey tool exports.

Columns map to questions by key, by question text, or by ``--map
'Header=key'`` (``--map 'Header=-'`` ignores a column). Respondents are found
by ``token`` (from the invitation link), ``email`` or ``contact_id``. Every
answer is validated against its question. All-or-nothing: the first bad row
stops the import with file, row and column named, unless a rejects file is
given; then bad rows go there and the rest is saved.
"""

import re

from crmcore import normalize
from crmcore.app import CRMError
from crmcore.importing import ImportFailed, ImportResult, Reject, read_rows, write_rejects

from .answers import AnswerError, record_responses, validate
from .definitions import get_survey, require_open

IGNORE = "-"
#: Header spellings of common survey tools for the non-question columns.
META_ALIASES = {
    "token": "token", "invitation token": "token", "invite token": "token", "custom token": "token", "access code": "token",
    "email": "email", "e-mail": "email", "email address": "email", "respondent email": "email", "recipient email": "email",
    "contact id": "contact_id", "contact_id": "contact_id", "customer id": "contact_id", "external reference": "contact_id",
    "submitted at": "submitted_at", "submitted_at": "submitted_at", "timestamp": "submitted_at", "date submitted": "submitted_at",
    "end date": "submitted_at", "completed at": "submitted_at", "recorded date": "submitted_at", "submit date (utc)": "submitted_at",
    "channel": "channel", "collector": "channel", "distribution channel": "channel", "source": "channel",
}
META = ("token", "email", "contact_id", "submitted_at", "channel")


def _key(text):
    return re.sub(r"[\s_\-./():?]+", "", str(text)).casefold()


def map_columns(headers, survey, explicit, path):
    """``{header: ("meta", name) | ("question", question) | None}``; unknown
    columns are an error naming the column."""
    questions = {q["key"]: q for q in survey["questions"]}
    lookup = {_key(a): ("meta", m) for a, m in META_ALIASES.items()}
    for q in survey["questions"]:
        lookup[_key(q["text"])] = ("question", q)
        lookup[_key(q["key"])] = ("question", q)
    explicit = {_key(h): target for h, target in explicit.items()}
    mapping, used = {}, {}
    for h in headers:
        k = _key(h)
        if k in explicit:
            target = explicit[k]
            if target == IGNORE:
                mapping[h] = None
                continue
            if target in META:
                found = ("meta", target)
            elif target in questions:
                found = ("question", questions[target])
            else:
                raise CRMError(f"{path}: --map {h}={target}: no question {target!r} (questions: {', '.join(questions)}; or {', '.join(META)}, or - to ignore)")
        else:
            found = lookup.get(k)
        if found is None:
            raise CRMError(f"{path}: row 1: column {h!r} is not a question of survey {survey['name']!r} "
                           f"(questions: {', '.join(questions)}); use --map '{h}=KEY' or --map '{h}=-' to ignore it")
        name = found[1] if found[0] == "meta" else found[1]["key"]
        if name in used:
            raise CRMError(f"{path}: row 1: columns {used[name]!r} and {h!r} both map to {name!r}; use --map to choose")
        used[name] = h
        mapping[h] = found
    if not any(m and m[0] == "question" for m in mapping.values()):
        raise CRMError(f"{path}: row 1: no column matches a question of survey {survey['name']!r} ({', '.join(questions)})")
    return mapping


def import_responses(crm, survey_ref, path, *, fmt=None, mapping=None, rejects_path=None, dry_run=False, anonymous=False,
                     channel="import", progress=None):
    """Import a file of responses into the survey; returns an ``ImportResult``."""
    survey = get_survey(crm, survey_ref)
    require_open(survey)
    result = ImportResult(path=path, dry_run=dry_run)
    tokens = {r["token"]: r for r in crm.store.query(
        "SELECT i.id, i.token, i.contact_id, (SELECT min(r.id) FROM survey_responses r WHERE r.invitation_id = i.id) AS used "
        "FROM survey_invitations i WHERE i.survey_id = ?", (survey["id"],))}
    column_map = None
    items, seen_tokens = [], {}

    def reject(number, column, reason, raw):
        result.rejected.append(Reject(number, column, reason, raw))
        if rejects_path is None:
            raise ImportFailed(f"{path}: row {number}: {column}: {reason}")

    for number, raw in read_rows(path, fmt, progress):
        if column_map is None:
            column_map = map_columns(list(raw), survey, mapping or {}, path)
            metas = {m[1] for m in column_map.values() if m and m[0] == "meta"}
            if not anonymous and not metas & {"token", "email", "contact_id"}:
                raise CRMError(f"{path}: row 1: no token, email or contact_id column to link responses to contacts "
                               "(use --anonymous for unlinked feedback)")
        given, meta, header_of = {}, {}, {}
        for header, value in raw.items():
            target = column_map.get(header, "unmapped")
            if target == "unmapped":
                reject(number, header, "column not in the header row", raw)
                break
            if target is None:
                continue
            if target[0] == "meta":
                meta[target[1]] = normalize.text(value) if value is not None else ""
            else:
                given[target[1]["key"]] = value
                header_of[target[1]["key"]] = header
        else:
            try:
                checked = {}
                for q in survey["questions"]:
                    try:
                        answer = validate(q, given.get(q["key"]))
                    except AnswerError as exc:
                        raise _RowError(header_of.get(q["key"], q["key"]), exc.reason) from None
                    if answer is not None:
                        checked[q["key"]] = answer
                if not checked:
                    raise _RowError(next(iter(header_of.values()), "?"), "the response has no answers")
                item = _link(crm, meta, tokens, seen_tokens, number, anonymous)
                item["answers"] = checked
                item["channel"] = meta.get("channel") or channel
                if meta.get("submitted_at"):
                    try:
                        item["submitted_at"] = normalize.timestamp(_iso(meta["submitted_at"]))
                    except ValueError as exc:
                        raise _RowError("submitted_at", str(exc)) from None
            except _RowError as exc:
                reject(number, exc.column, exc.reason, raw)
                continue
            items.append(item)
    if column_map is None:
        raise CRMError(f"{path}: the file has no responses")
    if not dry_run:
        record_responses(crm, survey, items)
    result.created = len(items)
    if rejects_path and result.rejected:
        write_rejects(rejects_path, result.rejected)
    return result


class _RowError(Exception):
    def __init__(self, column, reason):
        super().__init__(f"{column}: {reason}")
        self.column, self.reason = column, reason


def _iso(text):
    """Accept ``2024-05-02 14:03:00`` as well as ISO 8601 with a ``T``."""
    return text.replace(" ", "T", 1) if re.match(r"\d{4}-\d{2}-\d{2} \d", text) else text


def _link(crm, meta, tokens, seen_tokens, number, anonymous):
    """Contact and invitation of a row, from its token, e-mail or contact id."""
    token, email, contact_id = meta.get("token"), meta.get("email"), meta.get("contact_id")
    if token:
        inv = tokens.get(token)
        if inv is None:
            raise _RowError("token", f"unknown token {token!r} (not an invitation of this survey)")
        if inv["used"]:
            raise _RowError("token", f"token {token!r} was already answered (response {inv['used']})")
        if token in seen_tokens:
            raise _RowError("token", f"token {token!r} also answers row {seen_tokens[token]}")
        seen_tokens[token] = number
        return {"contact_id": inv["contact_id"], "invitation_id": inv["id"]}
    if email:
        try:
            address = normalize.email(email)
        except ValueError as exc:
            raise _RowError("email", str(exc)) from None
        found = crm.store.query_value("SELECT id FROM contacts WHERE email = ?", (address,))
        if found is None:
            raise _RowError("email", f"no contact with e-mail {address!r}")
        return {"contact_id": found}
    if contact_id:
        if not contact_id.isdigit() or crm.store.get("contacts", int(contact_id)) is None:
            raise _RowError("contact_id", f"no contact with id {contact_id!r}")
        return {"contact_id": int(contact_id)}
    if anonymous:
        return {}
    raise _RowError("token", "no token, email or contact_id to link the response to a contact (use --anonymous)")
