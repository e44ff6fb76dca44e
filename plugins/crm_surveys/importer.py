"""Import responses from the CSV (or JSON) a survey tool exports.

Columns map to questions by key, by question text, or by ``--map
'Header=key'`` (``--map 'Header=-'`` ignores a column). Respondents are found
by ``token`` (from the invitation link), ``email`` or ``contact_id``; a
``ref`` column (the tool's response id) makes re-importing a growing export
safe. Every
answer is validated against its question. All-or-nothing: the first bad row
stops the import with file, row and column named, unless a rejects file is
given; then bad rows go there and the rest is saved.
"""

import re

from crmcore import CRMError, ImportFailed, ImportResult, normalize, read_rows, Reject, write_rejects

from .answers import AnswerError, record_responses, validate
from .definitions import get_survey, require_open
from .invitations import token_hash
from .records import RESERVED_KEYS

IGNORE = "-"
#: Header spellings of common survey tools for the non-question columns.
META_ALIASES = {
    "token": "token", "invitation token": "token", "invite token": "token", "custom token": "token", "access code": "token",
    "email": "email", "e-mail": "email", "email address": "email", "respondent email": "email", "recipient email": "email",
    "contact id": "contact_id", "contact_id": "contact_id", "customer id": "contact_id", "external reference": "contact_id",
    "submitted at": "submitted_at", "submitted_at": "submitted_at", "timestamp": "submitted_at", "date submitted": "submitted_at",
    "end date": "submitted_at", "completed at": "submitted_at", "recorded date": "submitted_at", "submit date (utc)": "submitted_at",
    "channel": "channel", "collector": "channel", "distribution channel": "channel", "source": "channel",
    "ref": "ref", "response id": "ref", "responseid": "ref", "respondent id": "ref", "submission id": "ref", "#": "ref",
}
META = RESERVED_KEYS


def _key(text):
    text = str(text).strip()
    return text if text == "#" else re.sub(r"[\s_\-./():?]+", "", text).casefold()


class _Columns:
    """Maps headers to ``("meta", name)``, ``("question", question)`` or ``None`` (ignored)."""

    def __init__(self, survey, explicit, path):
        self.survey, self.path = survey, path
        self.questions = {q["key"]: q for q in survey["questions"]}
        self.lookup = {_key(a): ("meta", m) for a, m in META_ALIASES.items()}
        for q in survey["questions"]:
            self.lookup[_key(q["text"])] = ("question", q)
            self.lookup[_key(q["key"])] = ("question", q)
        self.explicit = {_key(h): target for h, target in explicit.items()}
        self.mapping, self.used = {}, {}

    def target(self, header):
        """The target of ``header``, mapped on first sight; unknown columns raise."""
        if header in self.mapping:
            return self.mapping[header]
        k = _key(header)
        if k in self.explicit:
            name = self.explicit[k]
            if name == IGNORE:
                found = None
            elif name in META:
                found = ("meta", name)
            elif name in self.questions:
                found = ("question", self.questions[name])
            else:
                raise CRMError(f"{self.path}: --map {header}={name}: no question {name!r} (questions: {', '.join(self.questions)}; "
                               f"or {', '.join(META)}, or - to ignore)")
        else:
            found = self.lookup.get(k)
            if found is None:
                raise _RowError(header, f"column {header!r} is not a question of survey {self.survey['name']!r} "
                                f"(questions: {', '.join(self.questions)}); use --map '{header}=KEY' or --map '{header}=-' to ignore it")
        if found is not None:
            name = found[1] if found[0] == "meta" else found[1]["key"]
            if name in self.used:
                raise CRMError(f"{self.path}: row 1: columns {self.used[name]!r} and {header!r} both map to {name!r}; use --map to choose")
            self.used[name] = header
        self.mapping[header] = found
        return found

    def check_header(self, headers, anonymous):
        for h in headers:
            try:
                self.target(h)
            except _RowError as exc:
                raise CRMError(f"{self.path}: row 1: {exc.reason}") from None
        if not any(m and m[0] == "question" for m in self.mapping.values()):
            raise CRMError(f"{self.path}: row 1: no column matches a question of survey {self.survey['name']!r} ({', '.join(self.questions)})")
        if not anonymous and not set(self.used) & {"token", "email", "contact_id"}:
            raise CRMError(f"{self.path}: row 1: no token, email or contact_id column to link responses to contacts "
                           "(use --anonymous for unlinked feedback)")


def import_responses(crm, survey_ref, path, *, fmt=None, mapping=None, rejects_path=None, dry_run=False, anonymous=False,
                     channel="import", progress=None):
    """Import a file of responses into the survey; returns an ``ImportResult``.

    A response whose ``ref`` (the tool's response id) was imported before is
    skipped, so a tool's growing export can be imported again and again."""
    survey = get_survey(crm, survey_ref)
    require_open(survey)
    result = ImportResult(path=path, dry_run=dry_run)
    state = {
        "tokens": {r["token"]: r for r in crm.store.query(  # keyed by the stored hash
            "SELECT i.id, i.token, i.contact_id, (SELECT min(r.id) FROM survey_responses r WHERE r.invitation_id = i.id) AS used "
            "FROM survey_invitations i WHERE i.survey_id = ?", (survey["id"],))},
        "refs": {r["ref"] for r in crm.store.query("SELECT ref FROM survey_responses WHERE survey_id = ? AND ref IS NOT NULL", (survey["id"],))},
        "seen_tokens": {}, "seen_refs": {}, "anonymous": anonymous, "channel": channel,
    }
    columns = _Columns(survey, mapping or {}, path)
    items, started = [], False
    for number, raw in read_rows(path, fmt, progress):
        if not started:
            columns.check_header(list(raw), anonymous)
            started = True
        try:
            item = _row(crm, survey, columns, raw, number, state)
        except _RowError as exc:
            result.rejected.append(Reject(number, exc.column, exc.reason, raw))
            if rejects_path is None:
                raise ImportFailed(f"{path}: row {number}: {exc.column}: {exc.reason}") from None
            continue
        if item is None:
            result.skipped += 1
        else:
            items.append(item)
    if not started:
        raise CRMError(f"{path}: the file has no responses")
    if not dry_run:
        record_responses(crm, survey, items)
    result.created = len(items)
    if rejects_path and result.rejected:
        write_rejects(rejects_path, result.rejected)
    return result


def _row(crm, survey, columns, raw, number, state):
    """The response item of one row, ``None`` for an already imported ref."""
    given, meta, header_of = {}, {}, {}
    for header, value in raw.items():
        target = columns.target(header)
        if target is None:
            continue
        if target[0] == "meta":
            meta[target[1]] = "" if value is None else normalize.text(value)
        else:
            given[target[1]["key"]] = value
            header_of[target[1]["key"]] = header
    ref = meta.get("ref") or None
    if ref is not None:
        if ref in state["seen_refs"]:
            raise _RowError(columns.used["ref"], f"response {ref!r} also in row {state['seen_refs'][ref]}")
        state["seen_refs"][ref] = number
        if ref in state["refs"]:
            return None
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
    item = _link(crm, meta, state, number, columns.used)
    item.update(answers=checked, channel=meta.get("channel") or state["channel"], ref=ref)
    if meta.get("submitted_at"):
        try:
            item["submitted_at"] = normalize.timestamp(_iso(meta["submitted_at"]))
        except ValueError as exc:
            raise _RowError(columns.used["submitted_at"], str(exc)) from None
    return item


class _RowError(Exception):
    def __init__(self, column, reason):
        super().__init__(f"{column}: {reason}")
        self.column, self.reason = column, reason


def _iso(text):
    """Accept ``2024-05-02 14:03:00`` as well as ISO 8601 with a ``T``."""
    return text.replace(" ", "T", 1) if re.match(r"\d{4}-\d{2}-\d{2} \d", text) else text


def _link(crm, meta, state, number, headers):
    """Contact and invitation of a row, from its token, e-mail or contact id.
    Errors name the file's own header (``headers``: meta name -> header)."""
    token, email, contact_id = meta.get("token"), meta.get("email"), meta.get("contact_id")
    if token:
        inv = state["tokens"].get(token_hash(token))
        column = headers["token"]
        if inv is None:
            raise _RowError(column, f"unknown token {token!r} (not an invitation of this survey)")
        if inv["used"]:
            raise _RowError(column, f"token {token!r} was already answered (response {inv['used']})")
        if token in state["seen_tokens"]:
            raise _RowError(column, f"token {token!r} also answers row {state['seen_tokens'][token]}")
        state["seen_tokens"][token] = number
        return {"contact_id": inv["contact_id"], "invitation_id": inv["id"]}
    if email:
        column = headers["email"]
        try:
            address = normalize.email(email)
        except ValueError as exc:
            raise _RowError(column, str(exc)) from None
        found = crm.store.query_value("SELECT id FROM contacts WHERE email = ?", (address,))
        if found is None:
            raise _RowError(column, f"no contact with e-mail {address!r}")
        return {"contact_id": found}
    if contact_id:
        if not contact_id.isdigit() or crm.store.get("contacts", int(contact_id)) is None:
            raise _RowError(headers["contact_id"], f"no contact with id {contact_id!r}")
        return {"contact_id": int(contact_id)}
    if state["anonymous"]:
        return {}
    raise _RowError(next((headers[m] for m in ("token", "email", "contact_id") if m in headers), "token"),
                    "no token, email or contact_id to link the response to a contact (use --anonymous)")
