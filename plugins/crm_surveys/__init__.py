"""crm_surveys: customer feedback (NPS, CSAT, CES, ratings, choices, free text).

Surveys with ordered questions, invitations with unguessable tokens for a
segment, response import and terminal entry, scores with margins of error by
segment, product, month and channel, a ``survey`` report and a dashboard
section. Unhappy respondents get a follow-up task through the plugin's own
event ``crm_survey_responses_recorded`` (one call per batch of responses),
which other plugins may implement too.
"""

import os

from crmcore import hookimpl

from . import hookspecs as crm_hookspecs  # noqa: F401  - picked up by the core plugin manager

crm_api_version = 1
TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")


@hookimpl
def crm_register_record_types(register):
    from .records import RECORD_TYPES

    for cls in RECORD_TYPES:
        register(cls)


@hookimpl
def crm_register_migrations(register):
    from .migrations import MIGRATIONS

    for fn in MIGRATIONS:
        register(fn)


@hookimpl
def crm_register_commands(cli):
    cli.add_lazy_command("surveys", "crm_surveys.commands:surveys",
                         "Customer feedback: NPS, CSAT, CES, ratings, choices and free text.")


@hookimpl
def crm_register_template_dirs(register):
    register(TEMPLATES)


@hookimpl
def crm_register_reports(register):
    from .report import context
    from .report_params import SURVEY

    register("survey", "survey.html", "One survey: scores with margins of error, distributions, trend, segments, products, "
             "detractor comments and follow-ups (--param survey=NAME, min_answers=30)", context, params=SURVEY)


@hookimpl
def crm_register_dashboard_sections(register):
    from .report import dashboard_context

    register("Customer feedback", "surveys_dashboard.html", dashboard_context)


@hookimpl
def crm_register_segment_fields(register):
    from .scores import LAST_NPS_CATEGORY_SQL, LAST_NPS_SQL

    register("last_nps", LAST_NPS_SQL, "number", "the contact's latest NPS answer (0-10)")
    register("last_nps_category", LAST_NPS_CATEGORY_SQL, "text", "promoter, passive or detractor by the latest NPS answer")


@hookimpl
def crm_register_routes(register):
    """The public answer page of an invitation link (``crm serve``)."""
    from .web import answer_page

    register("/s/{token}", answer_page, "public", methods=("GET", "POST"))
    from .web import survey_results, surveys_page

    register("/surveys", surveys_page, "reports:read")
    register("/surveys/{name}", survey_results, "reports:read")


@hookimpl
def crm_register_menu_items(register):
    register("Surveys", "/surveys", "reports:read")


@hookimpl
def crm_register_contact_panels(register):
    """The contact's latest survey answers on the contact page (``crm serve``)."""
    from .web import contact_panel

    register("Survey answers", "survey_panel.html", contact_panel)


@hookimpl
def crm_survey_responses_recorded(crm, survey, responses):
    """A detractor (NPS 0-6) or a CSAT of 1-2 gets a follow-up task for the contact's owner."""
    from .answers import create_followups

    create_followups(crm, survey, responses)


@hookimpl
def crm_segment_metrics(crm, segment, contact_ids):
    """NPS of a segment over each member's latest NPS answer."""
    from .scores import contacts_nps

    result = contacts_nps(crm, contact_ids)
    return {"NPS": None if result["score"] is None else round(result["score"], 1), "NPS responses": result["n"],
            "NPS margin": None if result["margin"] is None else round(result["margin"], 1)}


@hookimpl
def crm_contacts_merged(crm, keep_id, duplicate_id):
    crm.store.execute("UPDATE survey_responses SET contact_id = ? WHERE contact_id = ?", (keep_id, duplicate_id))
    crm.store.execute("UPDATE survey_invitations SET contact_id = ? WHERE contact_id = ?", (keep_id, duplicate_id))


@hookimpl
def crm_contact_erased(crm, contact_id):
    from .privacy import erase_contact

    return erase_contact(crm, contact_id) or None


@hookimpl
def crm_records_deleted(crm, table, ids):
    """A deleted contact's responses lose the link and free text (as on erasure),
    so the foreign keys never block the delete."""
    if table == "contacts":
        from .privacy import erase_contacts

        erase_contacts(crm, ids)


@hookimpl
def crm_demo_data(crm, rng, contact_ids):
    from .demo import add_demo_survey

    add_demo_survey(crm, rng, contact_ids)


@hookimpl
def crm_contact_timeline(crm, contact):
    """Survey answers, with the scores given."""
    rows = crm.store.query(
        "SELECT r.id, r.submitted_at, s.name, q.key, a.number FROM survey_responses r JOIN surveys s ON s.id = r.survey_id "
        "LEFT JOIN survey_answers a ON a.response_id = r.id AND a.number IS NOT NULL "
        "LEFT JOIN survey_questions q ON q.id = a.question_id WHERE r.contact_id = ? ORDER BY r.id, q.position", (contact["id"],))
    events = {}
    for r in rows:
        event = events.setdefault(r["id"], {"at": r["submitted_at"], "kind": "survey", "summary": f"answered {r['name']}", "ref": r["id"],
                                            "scores": []})
        if r["key"] is not None:
            event["scores"].append(f"{r['key']} {r['number']:g}")
    return [{**{k: v for k, v in e.items() if k != "scores"},
             "summary": e["summary"] + (f": {', '.join(e['scores'])}" if e["scores"] else "")} for e in events.values()]


@hookimpl
def crm_contact_facts(crm, contact):
    """The contact's latest NPS answer."""
    from .scores import LAST_NPS_SQL

    last = crm.store.query_value(f"SELECT {LAST_NPS_SQL} FROM contacts c WHERE c.id = ?", (contact["id"],))
    return {"last NPS": None if last is None else int(last)}
