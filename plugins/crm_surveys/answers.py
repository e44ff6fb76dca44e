"""Answer validation and the one write path for responses.

Every response, whether typed at the terminal, imported from a survey tool or
generated for the demo, goes through ``record_responses``: one transaction,
``executemany`` for the rows, and the plugin's own event
``crm_survey_responses_recorded`` once per batch inside that transaction (the
deprecated per-response ``crm_survey_response_recorded`` still fires for
plugins that implement it).
"""

import json

from crmcore import CRMError, decode_row, normalize, to_row

from .records import SCORED, Response, bounds

#: Separator of several options in one cell (what the HTML form writes).
MULTI_SEPARATOR = ";"


class AnswerError(ValueError):
    """An answer that does not fit its question; ``question`` names it."""

    def __init__(self, question, reason):
        super().__init__(f"{question}: {reason}")
        self.question = question
        self.reason = reason


def validate(question, raw):
    """``(number, value, choices)`` for one raw answer, or ``None`` when blank
    and optional. ``question`` is a stored question dict. Raises ``AnswerError``."""
    key, kind = question["key"], question["type"]
    if isinstance(raw, str):
        raw = raw.strip()
    if raw is None or raw == "" or raw == []:
        if question["required"]:
            raise AnswerError(key, "an answer is required")
        return None
    if kind in SCORED:
        low, high = bounds(question)
        try:
            score = normalize.integer(raw)
        except ValueError:
            raise AnswerError(key, f"{raw!r} is not a whole number from {low} to {high}") from None
        if not low <= score <= high:
            raise AnswerError(key, f"{score} is out of range {low}-{high}")
        return float(score), "", []
    if kind == "choice":
        return None, _choice(question, raw), []
    if kind == "multiple":
        items = raw if isinstance(raw, list) else str(raw).split(MULTI_SEPARATOR)
        picked = []
        for item in items:
            if str(item).strip():
                choice = _choice(question, item)
                if choice not in picked:
                    picked.append(choice)
        if not picked:
            return validate(question, None)
        return None, MULTI_SEPARATOR.join(picked), picked
    return None, normalize.long_text(raw), []


def _choice(question, raw):
    text = normalize.text(raw)
    for choice in question["choices"]:
        if choice.casefold() == text.casefold():
            return choice
    raise AnswerError(question["key"], f"{text!r} is not one of: {', '.join(question['choices'])}")


def validate_all(survey, given):
    """Validate ``{question key: raw}`` against every question of ``survey``.

    Returns ``{question key: (number, value, choices)}`` for the answered
    questions; unknown keys and missing required answers raise."""
    by_key = {q["key"]: q for q in survey["questions"]}
    for key in given:
        if key not in by_key:
            raise AnswerError(key, f"no such question in survey {survey['name']!r} (questions: {', '.join(by_key)})")
    out = {}
    for q in survey["questions"]:
        checked = validate(q, given.get(q["key"]))
        if checked is not None:
            out[q["key"]] = checked
    if not out:
        raise AnswerError(survey["questions"][0]["key"], "the response has no answers")
    return out


def record_responses(crm, survey, items):
    """Save validated responses of one survey in one transaction; returns ids.

    ``items``: dicts with ``answers`` (from ``validate_all``) and optionally
    ``contact_id``, ``invitation_id``, ``channel``, ``submitted_at``, ``ref``."""
    if not items:
        return []
    questions = {q["key"]: q for q in survey["questions"]}
    stamp = normalize.now()
    open_invitations = _open_invitations(crm, survey["id"], {i["contact_id"] for i in items if i.get("contact_id") and not i.get("invitation_id")})
    rows = []
    for item in items:
        invitation_id = item.get("invitation_id")
        if invitation_id is None and open_invitations.get(item.get("contact_id")):
            invitation_id = open_invitations[item["contact_id"]].pop()  # answered by phone or e-mail, not the link
        rec = Response(survey_id=survey["id"], contact_id=item.get("contact_id"), invitation_id=invitation_id,
                       channel=item.get("channel") or "", ref=item.get("ref"), submitted_at=item.get("submitted_at") or stamp,
                       created_at=stamp, updated_at=stamp)
        row = to_row(rec)
        row.pop("id")
        rows.append(row)
    survey_row = {k: v for k, v in survey.items() if k != "questions"}
    with crm.store.transaction():
        ids = crm.store.insert_many("survey_responses", rows)
        answer_rows = []
        for response_id, item in zip(ids, items):
            for key, (number, value, choices) in item["answers"].items():
                answer_rows.append({"response_id": response_id, "question_id": questions[key]["id"], "number": number,
                                    "value": value, "choices": json.dumps(choices, ensure_ascii=False)})
        crm.store.insert_many("survey_answers", answer_rows)
        batch = []
        for response_id, row, item in zip(ids, rows, items):
            row["id"] = response_id
            answers = [{"question": key, "type": questions[key]["type"], "number": number, "value": value, "choices": choices}
                       for key, (number, value, choices) in item["answers"].items()]
            batch.append({"response": decode_row(Response, row), "answers": answers})
        crm.emit("crm_survey_responses_recorded", crm=crm, survey=survey_row, responses=batch)
        if crm.hook_impls("crm_survey_response_recorded"):  # plugins written against the per-response hook
            for done in batch:
                crm.emit("crm_survey_response_recorded", crm=crm, survey=survey_row, **done)
    return ids


def _open_invitations(crm, survey_id, contact_ids):
    """Per contact, the ids of their unanswered invitations to the survey (newest
    last), so a response that came without its token still counts for its batch."""
    found = {}
    ids = sorted(contact_ids)
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for r in crm.store.query(
            f"SELECT i.id, i.contact_id FROM survey_invitations i WHERE i.survey_id = ? AND i.contact_id IN ({', '.join('?' * len(chunk))}) "
            "AND NOT EXISTS (SELECT 1 FROM survey_responses r WHERE r.invitation_id = i.id) ORDER BY i.id",
            [survey_id, *chunk],
        ):
            found.setdefault(r["contact_id"], []).append(r["id"])
    return found


def record_response(crm, survey, answers, contact_id=None, channel="", submitted_at=None, invitation_id=None):
    """Validate ``{key: raw}`` answers and save one response; returns its id."""
    from .definitions import require_open

    require_open(survey)
    try:
        checked = validate_all(survey, answers)
    except AnswerError as exc:
        raise CRMError(f"invalid answer to {exc.question}: {exc.reason}") from None
    item = {"answers": checked, "contact_id": contact_id, "channel": channel, "submitted_at": submitted_at, "invitation_id": invitation_id}
    return record_responses(crm, survey, [item])[0]


def needs_followup(answers):
    """The reason a response needs a follow-up (NPS 0-6 or CSAT 1-2), or ``None``."""
    for a in answers:
        if a["number"] is None:
            continue
        if a["type"] == "nps" and a["number"] <= 6:
            return f"detractor (NPS {a['number']:.0f})"
        if a["type"] == "csat" and a["number"] <= 2:
            return f"unhappy (CSAT {a['number']:.0f})"
    return None


def create_followups(crm, survey, responses):
    """Create the follow-up tasks for unhappy respondents (``responses`` as in
    ``crm_survey_responses_recorded``), in one batch; returns their ids."""
    import datetime as dt

    from crmcore import Activity

    wanted = [(done["response"], done["answers"], needs_followup(done["answers"])) for done in responses]
    wanted = [(r, a, reason) for r, a, reason in wanted if reason is not None and r["contact_id"] is not None]
    if not wanted:
        return []
    contact_ids = sorted({r["contact_id"] for r, _, _ in wanted})
    owners = {row["id"]: row["owner"] for row in crm.store.query(
        f"SELECT id, owner FROM contacts WHERE id IN ({crm.store.dialect.json_values()})", (json.dumps(contact_ids),))}
    tasks = []
    for response, answers, reason in wanted:
        comments = [a["value"] for a in answers if a["type"] == "text" and a["value"]]
        scores = ", ".join(f"{a['question']}={a['number']:.0f}" for a in answers if a["number"] is not None)
        submitted = dt.datetime.fromisoformat(response["submitted_at"])
        tasks.append(Activity(contact_id=response["contact_id"], kind="task", channel=response["channel"] or "survey",
                              subject=f"Survey follow-up: {reason} in {survey['name']!r}",
                              body="\n".join([f"Scores: {scores}"] + [f"Comment: {c}" for c in comments]),
                              owner=owners.get(response["contact_id"]) or "",
                              due_at=(submitted + dt.timedelta(days=2)).isoformat(timespec="seconds")))
    activity_ids = crm.add_many(tasks)
    crm.store.executemany("UPDATE survey_responses SET followup_id = ? WHERE id = ?",
                          [(aid, r["id"]) for aid, (r, _, _) in zip(activity_ids, wanted)])
    return activity_ids
