"""The survey answer page of ``crm serve``: ``/s/{token}``, no login.

The invitation's token is the secret in the address; it answers once. Answers
go through the same validation (``validate_all``) and write path
(``record_responses``, which fires ``crm_survey_response_recorded`` and so the
follow-up task) as ``crm surveys import-responses``. Registered through the
core's ``crm_register_routes`` hook: the core never imports this plugin.
"""

from crmcore import render_page as render

from .answers import AnswerError, record_responses, validate_all
from .definitions import get_survey
from .invitations import token_hash
from .records import SCORED, bounds


def _invitation(crm, token):
    if not token or len(token) > 100:
        return None
    rows = crm.store.query(
        "SELECT i.id, i.survey_id, i.contact_id, (SELECT min(r.id) FROM survey_responses r WHERE r.invitation_id = i.id) AS used "
        "FROM survey_invitations i WHERE i.token = ?", (token_hash(token),))
    return rows[0] if rows else None


def _questions(survey):
    out = []
    for q in survey["questions"]:
        item = dict(q)
        if q["type"] in SCORED:
            low, high = bounds(q)
            item["options"] = [str(v) for v in range(low, high + 1)]
        out.append(item)
    return out


def _plain(request, title, text, status):
    return render(request, "survey_answer.html", {"state": "message", "title": title, "text": text}, status=status)


def answer_page(request):
    crm = request.state.crm
    invitation = _invitation(crm, request.path_params["token"])
    if invitation is None:
        return _plain(request, "Link not valid", "This survey link is unknown or no longer valid.", 404)
    survey = get_survey(crm, str(invitation["survey_id"]))
    if invitation["used"]:
        return _plain(request, "Already answered", "This survey was answered with this link already. Thank you!", 410)
    if survey["status"] != "open":
        return _plain(request, "Survey closed", "This survey is closed and takes no more answers. Thank you all the same!", 410)
    given, error = {}, None
    if request.method == "POST":
        form = request.state.form
        for q in survey["questions"]:
            if q["type"] == "multiple":
                given[q["key"]] = [str(v) for v in form.getlist(q["key"])]
            else:
                given[q["key"]] = str(form.get(q["key"], ""))
        try:
            checked = validate_all(survey, given)
        except AnswerError as exc:
            error = (exc.question, exc.reason)
        else:
            with crm.store.transaction():
                ids = record_responses(crm, survey, [{"answers": checked, "contact_id": invitation["contact_id"],
                                                      "invitation_id": invitation["id"], "channel": "web"}])
                if invitation["contact_id"] is not None:  # the contact's history: answered on the web (crm.user is "public link")
                    crm.audit("survey answer", "contacts", invitation["contact_id"], {"survey": survey["name"], "response": ids[0]})
            return _plain(request, "Thank you!", "Your answers were saved.", 200)
    return render(request, "survey_answer.html", {"state": "form", "survey": survey, "questions": _questions(survey),
                                                   "given": given, "error": error}, status=400 if error else 200)


def contact_panel(crm, user, contact):
    """The contact's latest survey answers, newest first (the contact page's panel)."""
    responses = crm.store.query(
        "SELECT r.id, r.submitted_at, r.channel, s.name AS survey FROM survey_responses r JOIN surveys s ON s.id = r.survey_id "
        "WHERE r.contact_id = ? ORDER BY r.submitted_at DESC, r.id DESC LIMIT 3", (contact["id"],))
    for r in responses:
        r["answers"] = crm.store.query(
            "SELECT q.key, q.type, a.number, a.value FROM survey_answers a JOIN survey_questions q ON q.id = a.question_id "
            "WHERE a.response_id = ? ORDER BY q.position, q.id", (r["id"],))
    return {"responses": responses}


# -- results (logged-in users with reports:read) ---------------------------------------


def surveys_page(request):
    """Every survey with its counts and headline score."""
    from .definitions import list_surveys
    from .scores import scores

    crm = request.state.crm
    rows = list_surveys(crm)
    for r in rows:
        cards = scores(crm, r["name"]) if r["responses"] else []
        r["headline"] = cards[0] if cards else None
    return render(request, "web_surveys.html", {"rows": rows})


def survey_results(request):
    """One survey's results: scores with margins, answer distributions, latest comments."""
    from crmcore import CRMError, access

    from .scores import comments, distribution, scores

    crm = request.state.crm
    try:
        survey = get_survey(crm, request.path_params["name"])
    except CRMError:
        raise access.NotFound("no such survey") from None
    distributions = [{"question": q, "data": distribution(crm, survey["id"], q["id"], *bounds(q))}
                     for q in survey["questions"] if q["type"] in SCORED]
    for d in distributions:
        top = max([n for _, n in d["data"]] or [0])
        d["bars"] = [(value, n, round(100 * n / top) if top else 0) for value, n in d["data"]]
    return render(request, "web_survey_results.html", {
        "survey": survey, "cards": scores(crm, survey["name"]), "distributions": distributions,
        "comments": comments(crm, survey["name"])[:20],
        "responses": crm.store.query_value("SELECT count(*) FROM survey_responses WHERE survey_id = ?", (survey["id"],)),
    })
