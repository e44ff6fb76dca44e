"""Survey definitions: create from the command line or a YAML/JSON file, list, show, close.

A definition file looks like this (JSON with the same keys works too)::

    name: post-purchase
    description: After an order has been delivered
    base_url: https://shop.example/feedback
    questions:
      - {key: nps, type: nps, text: How likely are you to recommend us to a friend?}
      - {key: delivery, type: csat, text: How satisfied were you with the delivery?}
      - {key: where, type: choice, text: Where did you buy?, choices: [Web shop, Store]}
      - {key: comment, type: text, text: What should we improve?, required: false}
"""

import json
import os

from crmcore import build, CRMError, decode_row, FieldError, normalize

from .records import QUESTION_TYPES, Question, Survey

#: Free text is optional unless said otherwise; every other type is required.
OPTIONAL_BY_DEFAULT = ("text",)


def _field_error(where, exc):
    return CRMError(f"{where}: {exc.field}: {exc.reason}")


def question_from_dict(data, position, where):
    """A validated ``Question`` from a definition entry; errors name the entry."""
    if not isinstance(data, dict):
        raise CRMError(f"{where}: question {position}: expected a mapping with key, type and text")
    data = dict(data)
    kind = str(data.get("type", "")).strip().lower().replace(" ", "_")
    kind = {"single_choice": "choice", "multiple_choice": "multiple", "free_text": "text", "multi": "multiple"}.get(kind, kind)
    if kind not in QUESTION_TYPES:
        raise CRMError(f"{where}: question {position}: type {data.get('type')!r} is not one of {', '.join(QUESTION_TYPES)}")
    data["type"] = kind
    data.setdefault("required", kind not in OPTIONAL_BY_DEFAULT)
    data["position"] = position
    try:
        return build(Question, data)
    except FieldError as exc:
        raise CRMError(f"{where}: question {position}: {exc.field}: {exc.reason}") from None


def parse_question_option(text, position):
    """``TYPE:KEY:TEXT`` from ``--question``; ``rating(10)``, ``choice(A,B)``,
    ``multiple(A,B)``; a ``?`` after the type makes the question optional."""
    kind, sep1, rest = text.partition(":")
    key, sep2, label = rest.partition(":")
    if not sep1 or not sep2:
        raise CRMError(f"--question {text!r} must look like TYPE:KEY:TEXT, e.g. nps:recommend:How likely ...?")
    kind = kind.strip()
    data = {"key": key.strip(), "text": label.strip()}
    if kind.endswith("?"):
        data["required"] = False
        kind = kind[:-1]
    if "(" in kind and kind.endswith(")"):
        kind, _, args = kind[:-1].partition("(")
        if kind.strip().lower() == "rating":
            data["scale"] = args.strip()
        else:
            data["choices"] = [a.strip() for a in args.split(",")]
    data["type"] = kind
    return question_from_dict(data, position, f"--question {position}")


def load_definition(path):
    """Read a YAML or JSON definition file into a dict."""
    if not os.path.isfile(path):
        raise CRMError(f"{path}: file not found")
    with open(path, encoding="utf-8-sig") as f:
        text = f.read()
    if path.lower().endswith(".json"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CRMError(f"{path}: invalid JSON ({exc})") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark else ""
            raise CRMError(f"{path}: {where}invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise CRMError(f"{path}: expected a mapping with name, description and questions")
    return data


def create_survey(crm, name, description="", questions=(), base_url="", where="survey"):
    """Store a survey with its ordered questions in one transaction; returns its id.

    ``questions`` are ``Question`` records or dicts."""
    try:
        survey = build(Survey, {"name": name, "description": description or "", "base_url": base_url or ""})
    except FieldError as exc:
        raise _field_error(where, exc) from None
    built = [q if isinstance(q, Question) else question_from_dict(q, i, where) for i, q in enumerate(questions, start=1)]
    if not built:
        raise CRMError(f"{where}: a survey needs at least one question")
    keys = [q.key.casefold() for q in built]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise CRMError(f"{where}: question key {dupes[0]!r} is used twice")
    if crm.store.query_value("SELECT 1 FROM surveys WHERE name = ?", (survey.name,)):
        raise CRMError(f"a survey named {survey.name!r} already exists")
    with crm.store.transaction():
        survey_id = crm.add(survey)
        for position, q in enumerate(built, start=1):
            q.survey_id, q.position = survey_id, position
        crm.add_many(built)
    return survey_id


def load_survey(crm, path):
    """Create a survey from a YAML/JSON definition file."""
    data = load_definition(path)
    unknown = set(data) - {"name", "description", "questions", "base_url"}
    if unknown:
        raise CRMError(f"{path}: unknown key {sorted(unknown)[0]!r} (keys: name, description, base_url, questions)")
    questions = data.get("questions") or []
    if not isinstance(questions, list):
        raise CRMError(f"{path}: questions must be a list")
    return create_survey(crm, data.get("name") or "", data.get("description") or "", questions, data.get("base_url") or "", where=path)


def get_survey(crm, ref):
    """Survey row (with ``questions``) by name or id; ``CRMError`` when unknown."""
    ref = str(ref).strip()
    rows = crm.store.query("SELECT * FROM surveys WHERE name = ?", (ref,))
    if not rows and ref.isdigit():
        rows = crm.store.query("SELECT * FROM surveys WHERE id = ?", (int(ref),))
    if not rows:
        known = ", ".join(r["name"] for r in crm.store.query("SELECT name FROM surveys ORDER BY id")) or "none yet"
        raise CRMError(f"no survey {ref!r} (surveys: {known})")
    survey = decode_row(Survey, rows[0])
    survey["questions"] = questions_of(crm, survey["id"])
    return survey


def questions_of(crm, survey_id):
    rows = crm.store.query("SELECT * FROM survey_questions WHERE survey_id = ? ORDER BY position, id", (survey_id,))
    return [decode_row(Question, r) for r in rows]


def list_surveys(crm):
    """Every survey with question, invitation and response counts."""
    return crm.store.query(
        "SELECT s.id, s.name, s.status, s.description, s.created_at, s.closed_at, "
        "(SELECT count(*) FROM survey_questions q WHERE q.survey_id = s.id) AS questions, "
        "(SELECT count(*) FROM survey_invitations i WHERE i.survey_id = s.id) AS invitations, "
        "(SELECT count(*) FROM survey_responses r WHERE r.survey_id = s.id) AS responses "
        "FROM surveys s ORDER BY s.id"
    )


def close_survey(crm, ref):
    """Close a survey: it keeps its data but takes no more invitations or responses."""
    survey = get_survey(crm, ref)
    if survey["status"] == "closed":
        raise CRMError(f"survey {survey['name']!r} is already closed")
    return crm.update("surveys", survey["id"], {"status": "closed", "closed_at": normalize.now()})


def require_open(survey):
    if survey["status"] != "open":
        raise CRMError(f"survey {survey['name']!r} is closed")
