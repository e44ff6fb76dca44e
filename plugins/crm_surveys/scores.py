"""Scores: NPS, CSAT, CES and rating means with 95% margins of error, overall
and broken down by segment, product, month or channel.

- NPS = % promoters (9-10) - % detractors (0-6). With p and d the shares,
  its variance is (p + d - (p - d)^2) / n and the margin 1.96 * sqrt(var) * 100.
- CSAT = % of answers 4-5, margin 1.96 * sqrt(s (1 - s) / n) * 100.
- CES and ratings: mean, margin 1.96 * sample standard deviation / sqrt(n).
Only questions typed ``nps`` count toward NPS.
"""

import json
import math

from crmcore import CRMError

from .definitions import get_survey
from .records import SCORED

Z95 = 1.96
BY = ("segment", "product", "month", "channel")


def nps(values):
    """``{"score", "margin", "promoters", "passives", "detractors", "n"}`` for 0-10 answers."""
    n = len(values)
    if not n:
        return {"score": None, "margin": None, "promoters": 0, "passives": 0, "detractors": 0, "n": 0}
    pro = sum(1 for v in values if v >= 9)
    det = sum(1 for v in values if v <= 6)
    p, d = pro / n, det / n
    variance = (p + d - (p - d) ** 2) / n
    margin = 100 * Z95 * math.sqrt(variance) if n > 1 else None  # one answer says nothing about the spread
    return {"score": 100 * (p - d), "margin": margin, "promoters": pro,
            "passives": n - pro - det, "detractors": det, "n": n}


def csat(values):
    """Share of 4-5 answers in percent with its margin."""
    n = len(values)
    if not n:
        return {"score": None, "margin": None, "n": 0}
    s = sum(1 for v in values if v >= 4) / n
    return {"score": 100 * s, "margin": 100 * Z95 * math.sqrt(s * (1 - s) / n) if n > 1 else None, "n": n}


def mean(values):
    """Mean with the margin from the sample standard deviation (None below 2 answers)."""
    n = len(values)
    if not n:
        return {"score": None, "margin": None, "n": 0}
    m = sum(values) / n
    if n < 2:
        return {"score": m, "margin": None, "n": n}
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
    return {"score": m, "margin": Z95 * sd / math.sqrt(n), "n": n}


def score(kind, values):
    if kind == "nps":
        return nps(values)
    if kind == "csat":
        return csat(values)
    return mean(values)


def category(value):
    """promoter / passive / detractor of an NPS answer."""
    return "promoter" if value >= 9 else "detractor" if value <= 6 else "passive"


# -- queries ---------------------------------------------------------------------

def _answers(crm, survey_id):
    """Scored answers of a survey with their response's contact, month and channel."""
    return crm.store.query(
        "SELECT a.number, q.key AS question, q.type, r.id AS response_id, r.contact_id, r.channel, "
        "substr(r.submitted_at, 1, 7) AS month, coalesce(i.segment, '') AS segment "
        "FROM survey_answers a JOIN survey_questions q ON q.id = a.question_id "
        "JOIN survey_responses r ON r.id = a.response_id LEFT JOIN survey_invitations i ON i.id = r.invitation_id "
        "WHERE r.survey_id = ? AND a.number IS NOT NULL ORDER BY q.position, r.id",
        (survey_id,),
    )


def _products_of(crm, survey_id):
    """``{response_id: [sku, ...]}``: what the respondent bought up to the response."""
    out = {}
    for r in crm.store.query(
        "SELECT DISTINCT r.id AS response_id, l.sku FROM survey_responses r JOIN orders o ON o.contact_id = r.contact_id "
        "JOIN order_lines l ON l.order_id = o.id WHERE r.survey_id = ? AND o.ordered_at <= substr(r.submitted_at, 1, 10) "
        "AND l.sku != '' ORDER BY l.sku",
        (survey_id,),
    ):
        out.setdefault(r["response_id"], []).append(r["sku"])
    return out


def _group_keys(crm, survey_id, by, segments):
    """A function ``answer row -> [group, ...]`` for a breakdown."""
    if by is None:
        return lambda a: ["all"]
    if by in ("month", "channel"):
        return lambda a: [a[by] or "–"]
    if by == "product":
        bought = _products_of(crm, survey_id)
        return lambda a: bought.get(a["response_id"], [])
    if segments:
        members = {name: set(crm.segment_contact_ids(name)) for name in segments}
        return lambda a: [name for name, ids in members.items() if a["contact_id"] in ids]
    return lambda a: [a["segment"] or "(not invited)"]


def scores(crm, survey_ref, by=None, segments=()):
    """One row per group and scored question: ``group, question, type,
    responses, score, margin`` (plus promoters/passives/detractors for NPS).

    ``by="segment"`` groups by the segment the invitation went to, or by
    current membership of ``segments`` when given."""
    if by is not None and by not in BY:
        raise CRMError(f"--by must be one of {', '.join(BY)}")
    survey = get_survey(crm, survey_ref)
    groups_of = _group_keys(crm, survey["id"], by, segments)
    questions = [q for q in survey["questions"] if q["type"] in SCORED]
    values = {}
    for a in _answers(crm, survey["id"]):
        for g in groups_of(a):
            values.setdefault(g, {}).setdefault(a["question"], []).append(a["number"])
    order = sorted(values) if by != "segment" or not segments else [s for s in segments if s in values]
    rows = []
    for g in order:
        for q in questions:
            found = values[g].get(q["key"])
            if not found:
                continue
            s = score(q["type"], found)
            rows.append({"group": g, "question": q["key"], "type": q["type"], "responses": s["n"],
                         "score": _round(s["score"]), "margin": _round(s["margin"]),
                         "promoters": s.get("promoters"), "passives": s.get("passives"), "detractors": s.get("detractors")})
    return rows


def _round(value, digits=1):
    return None if value is None else round(value, digits)


def distribution(crm, survey_id, question_id, low, high):
    """``[(value, count), ...]`` for every value of a scored question's range."""
    counts = {int(r["v"]): r["n"] for r in crm.store.query(
        "SELECT number AS v, count(*) AS n FROM survey_answers WHERE question_id = ? AND number IS NOT NULL GROUP BY number",
        (question_id,))}
    return [(str(v), counts.get(v, 0)) for v in range(low, high + 1)]


def comments(crm, survey_ref):
    """Free-text answers with the respondent, their NPS (or first score) and segment."""
    survey = get_survey(crm, survey_ref)
    rows = crm.store.query(
        "SELECT r.id AS response, r.contact_id, coalesce(c.email, '') AS email, r.submitted_at, q.key AS question, a.value AS comment, "
        "(SELECT a2.number FROM survey_answers a2 JOIN survey_questions q2 ON q2.id = a2.question_id "
        " WHERE a2.response_id = r.id AND a2.number IS NOT NULL ORDER BY q2.type != 'nps', q2.position LIMIT 1) AS score, "
        "(SELECT q2.type FROM survey_answers a2 JOIN survey_questions q2 ON q2.id = a2.question_id "
        " WHERE a2.response_id = r.id AND a2.number IS NOT NULL ORDER BY q2.type != 'nps', q2.position LIMIT 1) AS score_type, "
        "coalesce(i.segment, '') AS segment "
        "FROM survey_answers a JOIN survey_questions q ON q.id = a.question_id JOIN survey_responses r ON r.id = a.response_id "
        "LEFT JOIN contacts c ON c.id = r.contact_id LEFT JOIN survey_invitations i ON i.id = r.invitation_id "
        "WHERE r.survey_id = ? AND q.type = 'text' AND a.value != '' ORDER BY r.submitted_at DESC, r.id DESC",
        (survey["id"],),
    )
    for r in rows:
        r["category"] = category(r["score"]) if r["score_type"] == "nps" and r["score"] is not None else ""
    return rows


def contacts_nps(crm, contact_ids):
    """NPS over the latest NPS answer of each of these contacts (all surveys)."""
    values = [r["number"] for r in crm.store.query(
        "SELECT number FROM (SELECT a.number, row_number() OVER (PARTITION BY r.contact_id ORDER BY r.submitted_at DESC, r.id DESC) AS k "
        "FROM survey_answers a JOIN survey_questions q ON q.id = a.question_id JOIN survey_responses r ON r.id = a.response_id "
        f"WHERE q.type = 'nps' AND a.number IS NOT NULL AND r.contact_id IN ({crm.store.dialect.json_values()})) AS latest WHERE k = 1",
        (json.dumps(list(contact_ids)),))]
    return nps(values)


#: Latest NPS answer of the contact ``c`` (segment fields; our SQL, never user text).
LAST_NPS_SQL = (
    "(SELECT a.number FROM survey_answers a JOIN survey_questions q ON q.id = a.question_id "
    "JOIN survey_responses r ON r.id = a.response_id WHERE r.contact_id = c.id AND q.type = 'nps' AND a.number IS NOT NULL "
    "ORDER BY r.submitted_at DESC, r.id DESC LIMIT 1)"
)
LAST_NPS_CATEGORY_SQL = (
    f"(CASE WHEN {LAST_NPS_SQL} >= 9 THEN 'promoter' WHEN {LAST_NPS_SQL} >= 7 THEN 'passive' "
    f"WHEN {LAST_NPS_SQL} IS NOT NULL THEN 'detractor' END)"
)
