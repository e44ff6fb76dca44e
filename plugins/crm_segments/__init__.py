"""crm_segments: dynamic and static segments, RFM, territories, targets.

Rules in a small expression language are compiled to parameterised SQL
(``rules.py``); membership is materialised with a history of who entered and
left (``segments.py``); RFM scores customers by quintile (``rfm.py``);
territories and targets live in ``territories.py`` and ``targets.py``.

Other plugins ask for members through the core: ``crm.segment_contact_ids(name)``.
Module-level imports stay light so that ``crm --help`` is fast.
"""

import os

from crmcore import hookimpl

from . import hookspecs as crm_hookspecs  # noqa: F401 - added to the plugin manager by the core

crm_api_version = 1


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
    cli.add_lazy_command("segments", "crm_segments.commands:segments",
                         "Customer segments: rules, static lists, RFM, territories and targets.")


@hookimpl
def crm_register_template_dirs(register):
    register(os.path.join(os.path.dirname(__file__), "templates"))


@hookimpl
def crm_register_reports(register):
    from . import report_params, reports

    register("segments", "segments.html", "Every segment side by side: customers, revenue, pipeline, targets", reports.segments_context,
             params=report_params.SEGMENTS)
    register("segment", "segment.html", "One segment (--param name=NAME): size over time, movers, RFM mix, products, territories",
             reports.segment_context, params=report_params.SEGMENT)
    register("rfm", "rfm.html", "RFM: the 5x5 recency/frequency grid and named-segment sizes", reports.rfm_context, params=report_params.RFM)

    from . import analytics_reports

    register("cohorts", "cohorts.html", "Retention cohorts (--param by=month|quarter, metric=customers|revenue, segment=NAME, as_of=DATE): "
             "heat grid, retention and churn per period, lifetime value", analytics_reports.cohorts_context,
             params=report_params.COHORTS)


@hookimpl
def crm_register_dashboard_sections(register):
    from . import reports

    register("Segments", "segments_dashboard.html", reports.dashboard_context)


@hookimpl
def crm_register_jobs(register):
    register("segments.refresh", _refresh_job, "1d", "refresh every dynamic segment (membership history for reports)")


def _refresh_job(crm):
    from .segments import refresh

    skipped = []
    results = refresh(crm, skipped=skipped)
    return f"{len(results)} segment{'s' if len(results) != 1 else ''} refreshed" + (f"; skipped: {'; '.join(skipped)}" if skipped else "")


@hookimpl
def crm_segment_contact_ids(crm, name):
    from .segments import contact_ids

    return contact_ids(crm, name)


@hookimpl
def crm_segment_names(crm):
    return [r["name"] for r in crm.store.query("SELECT name FROM segments ORDER BY name")]


@hookimpl
def crm_contacts_merged(crm, keep_id, duplicate_id):
    from .segments import merge_contacts

    merge_contacts(crm, keep_id, duplicate_id)


@hookimpl(trylast=True)
def crm_demo_data(crm, rng):
    """Runs after other plugins' demo data, so fields they register have data."""
    from .demo import generate

    generate(crm, rng)


@hookimpl
def crm_contact_scope(crm, user):
    """A sales user sees the contacts of the territories named on their account
    (``crm users add ... --territory NAME``), by the territories' own rules."""
    from .scope import user_scope

    return user_scope(crm, user.get("territories") or [])


@hookimpl
def crm_contact_timeline(crm, contact):
    """Entries into and exits from segments."""
    rows = crm.store.query(
        "SELECT h.id, h.at, h.change, s.name FROM segment_history h JOIN segments s ON s.id = h.segment_id "
        "WHERE h.contact_id = ? ORDER BY h.id", (contact["id"],))
    return [{"at": r["at"], "kind": "segment", "summary": f"{r['change']} segment {r['name']}", "ref": r["id"]} for r in rows]


@hookimpl
def crm_contact_facts(crm, contact):
    """The contact's segments, RFM segment and lifetime value, when scored."""
    cid = contact["id"]
    names = [r["name"] for r in crm.store.query(
        "SELECT s.name FROM segment_members m JOIN segments s ON s.id = m.segment_id WHERE m.contact_id = ? ORDER BY s.name", (cid,))]
    facts = {"segments": ", ".join(names)}
    rfm = crm.store.query("SELECT segment, score FROM segment_rfm WHERE contact_id = ?", (cid,))
    if rfm:
        facts["RFM"] = f"{rfm[0]['segment']} ({rfm[0]['score']})"
    clv = crm.store.query("SELECT clv, p_alive FROM segment_clv WHERE contact_id = ?", (cid,)) if crm.store.table_exists("segment_clv") else []
    if clv and clv[0]["clv"] is not None:
        facts["lifetime value"] = f"{clv[0]['clv']:,.2f} (P(alive) {clv[0]['p_alive']:.0%})"
    return facts


@hookimpl
def crm_register_routes(register):
    """The segments pages of ``crm serve`` (web.py): list, members, rule editor."""
    from . import web

    register("/segments", web.segments_page, "segments:read")
    register("/segments/new", web.new_segment, "segments:write", methods=("GET", "POST"))
    register("/segments/{name}", web.segment_page, "segments:read")
    register("/segments/{name}/edit", web.edit_segment_page, "segments:write", methods=("GET", "POST"))


@hookimpl
def crm_register_menu_items(register):
    register("Segments", "/segments", "segments:read")
