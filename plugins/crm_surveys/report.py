"""Context of the ``survey`` report and of the dashboard section."""

from crmcore import CRMError, report_period

from .definitions import get_survey
from .records import SCORED, bounds
from .scores import comments, distribution, nps, scores

# The survey a manager means when none is named: the one answered most
# recently (a survey just created has nothing to show yet), then the newest open one.
LATEST_SURVEY = (
    "SELECT s.id, s.name FROM surveys s ORDER BY "
    "(SELECT max(r.submitted_at) FROM survey_responses r WHERE r.survey_id = s.id) DESC NULLS LAST, "
    "(s.status = 'open') DESC, s.id DESC LIMIT 1"
)


def _pick_survey(crm, params):
    ref = params.get("survey")
    if not ref:
        ref = next((r["name"] for r in crm.store.query(LATEST_SURVEY)), None)
        if ref is None:
            raise CRMError("no surveys yet: create one with `crm surveys create` or `crm surveys load`")
    return get_survey(crm, ref)


#: A month with fewer NPS answers is not drawn: its margin of error is too wide to read a trend
#: from (about ±30 points at 30 answers). ``--param min_answers=N`` changes it.
MIN_ANSWERS = 30


def _min_answers(params):
    value = params.get("min_answers")
    if value in (None, ""):
        return MIN_ANSWERS
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 1:
        raise CRMError(f"--param min_answers={value!r}: use a whole number of answers, 1 or more")
    return number


def _period(crm, survey_id, as_of=None):
    """The last 12 months up to ``as_of``, else up to the newest answer or order, whichever is later."""
    if not as_of:
        newest = crm.store.query_value("SELECT max(substr(submitted_at, 1, 10)) FROM survey_responses WHERE survey_id = ?", (survey_id,))
        data = report_period(crm).as_of.isoformat()
        as_of = max(newest or data, data)
    return report_period(crm, as_of)


def nps_by_month(crm, name, question, period):
    """``[(month label, score, margin, answers), ...]`` for every month of ``period`` (none: 0 answers) and the rows behind it."""
    rows = {r["group"]: r for r in scores(crm, name, "month") if r["question"] == question and r["group"] in period.keys}
    points = [(m.label, rows[m.key]["score"] if m.key in rows else None, rows[m.key]["margin"] if m.key in rows else None,
               rows[m.key]["responses"] if m.key in rows else 0) for m in period.months]
    table = [{**rows[m.key], "group": m.label + (" (partial)" if m.partial else "")} for m in period.months if m.key in rows]
    return points, table


def context(crm, params):
    survey = _pick_survey(crm, params)
    min_answers = _min_answers(params)
    sid = survey["id"]
    store = crm.store
    name = survey["name"]
    cards = scores(crm, name)
    distributions = []
    for q in survey["questions"]:
        if q["type"] in SCORED:
            distributions.append({"question": q, "data": distribution(crm, sid, q["id"], *bounds(q))})
    nps_keys = [q["key"] for q in survey["questions"] if q["type"] == "nps"]
    period = _period(crm, sid, params.get("as_of"))
    trend, trend_rows = nps_by_month(crm, name, nps_keys[0], period) if nps_keys else ([], [])
    followups = store.query(
        "SELECT r.id AS response, r.contact_id, coalesce(c.email, '') AS email, a.owner, a.subject, a.due_at, a.done_at, "
        "CASE WHEN a.id IS NULL THEN 'deleted' WHEN a.done_at IS NULL THEN 'open' ELSE 'done' END AS status "
        "FROM survey_responses r LEFT JOIN activities a ON a.id = r.followup_id LEFT JOIN contacts c ON c.id = r.contact_id "
        "WHERE r.survey_id = ? AND r.followup_id IS NOT NULL ORDER BY r.submitted_at DESC, r.id DESC",
        (sid,),
    )
    status_counts = {s: sum(1 for f in followups if f["status"] == s) for s in ("open", "done", "deleted")}
    invitations = store.query_value("SELECT count(*) FROM survey_invitations WHERE survey_id = ?", (sid,))
    invited_responses = store.query_value("SELECT count(DISTINCT invitation_id) FROM survey_responses WHERE survey_id = ? AND invitation_id IS NOT NULL", (sid,))
    from .invitations import batches

    return {
        "survey": survey,
        "responses": store.query_value("SELECT count(*) FROM survey_responses WHERE survey_id = ?", (sid,)),
        "invitations": invitations,
        "response_rate": round(100.0 * invited_responses / invitations, 1) if invitations else None,
        "cards": cards,
        "distributions": distributions,
        "trend": trend,
        "trend_rows": trend_rows,
        "period": period,
        "min_answers": min_answers,
        "by_segment": scores(crm, name, "segment"),
        "by_product": sorted((r for r in scores(crm, name, "product") if r["type"] == "nps"), key=lambda r: -r["responses"])[:20],
        "by_channel": scores(crm, name, "channel"),
        "batches": batches(crm, name),
        "detractor_comments": [r for r in comments(crm, name) if r["category"] == "detractor"][:50],
        "followups": followups,
        "followup_counts": status_counts,
    }


def dashboard_context(crm):
    """NPS with its margin, responses and open follow-ups of the survey answered most recently."""
    row = crm.store.query(LATEST_SURVEY)
    if not row:
        return {"survey": None}
    sid = row[0]["id"]
    values = [r["number"] for r in crm.store.query(
        "SELECT a.number FROM survey_answers a JOIN survey_questions q ON q.id = a.question_id JOIN survey_responses r ON r.id = a.response_id "
        "WHERE r.survey_id = ? AND q.type = 'nps' AND a.number IS NOT NULL", (sid,))]
    result = nps(values)
    survey = get_survey(crm, sid)
    nps_keys = [q["key"] for q in survey["questions"] if q["type"] == "nps"]
    period = _period(crm, sid)
    by_month = nps_by_month(crm, survey["name"], nps_keys[0], period)[0] if nps_keys else []
    return {
        "period": period,
        "min_answers": MIN_ANSWERS,
        "survey": row[0]["name"],
        "nps": None if result["score"] is None else round(result["score"], 1),
        "margin": None if result["margin"] is None else round(result["margin"], 1),
        "n": result["n"],
        "responses": crm.store.query_value("SELECT count(*) FROM survey_responses WHERE survey_id = ?", (sid,)),
        "open_followups": crm.store.query_value(
            "SELECT count(*) FROM survey_responses r JOIN activities a ON a.id = r.followup_id WHERE r.survey_id = ? AND a.done_at IS NULL", (sid,)),
        "mix": [("promoters", result["promoters"]), ("passives", result["passives"]), ("detractors", result["detractors"])],
        "trend": by_month,
    }
