"""crm_exports: marketing audiences out of the CRM, respecting consent.

``crm export FORMAT --segment NAME -o FILE`` writes a segment for Mailchimp,
HubSpot, Google Ads Customer Match, Meta Custom Audiences, vCard 4.0, CSV or
JSON; other plugins add formats through ``crm_register_export_formats``.
Every export is logged with the contacts it held, so ``crm contacts
where-sent`` can answer "who received this person?", even after an erasure.
"""

from crmcore import hookimpl

crm_api_version = 1


@hookimpl
def crm_register_record_types(register):
    from .records import ExportLog

    register(ExportLog)


@hookimpl
def crm_register_migrations(register):
    from .migrations import MIGRATIONS

    for fn in MIGRATIONS:
        register(fn)


@hookimpl(wrapper=True)
def crm_demo_data(crm, rng):
    """A wrapper: runs after every other plugin's demo data (segments and
    suppressions included), whatever their order."""
    result = yield
    from .demo import add_demo_exports

    add_demo_exports(crm, rng)
    return result


@hookimpl
def crm_register_export_formats(register):
    from .formats import BUILTIN_FORMATS

    for name, writer, description in BUILTIN_FORMATS:
        register(name, writer, description)


@hookimpl
def crm_register_template_dirs(register):
    import os

    register(os.path.join(os.path.dirname(__file__), "templates"))


@hookimpl
def crm_register_dashboard_sections(register):
    from .exporter import dashboard_context

    register("Marketing exports", "exports_section.html", dashboard_context)


@hookimpl
def crm_register_commands(cli):
    cli.add_lazy_command("export", "crm_exports.commands:export", "Marketing audiences: `crm export FORMAT --segment NAME -o FILE`.")
    cli.add_lazy_command("where-sent", "crm_exports.commands:where_sent",
                         "Exports that included CONTACT (id or e-mail), also after an erasure.", parent="contacts")


@hookimpl
def crm_contact_erased(crm, contact_id, email):
    """Keep where the person was sent (ids and the e-mail hash only) and tell
    whoever runs the erasure which destinations must be asked to erase too."""
    from .exporter import forget_contact

    return forget_contact(crm, contact_id, email)


@hookimpl
def crm_records_deleted(crm, table, ids):
    if table == "contacts":
        from .exporter import forget_contacts

        forget_contacts(crm, ids)


@hookimpl
def crm_contacts_merged(crm, keep_id, duplicate_id):
    from .exporter import move_contact

    move_contact(crm, keep_id, duplicate_id)


@hookimpl
def crm_contact_timeline(crm, contact):
    """Each export that included the contact: format, segment and file."""
    rows = crm.store.query(
        "SELECT l.id, l.format, l.segment, l.exported_at, l.path FROM export_log_contacts e JOIN export_log l ON l.id = e.export_id "
        "WHERE e.contact_id = ? AND e.erasure_id IS NULL ORDER BY l.id", (contact["id"],))
    return [{"at": r["exported_at"], "kind": "export",
             "summary": f"exported to {r['format']}" + (f" (segment {r['segment']})" if r["segment"] else "") + f": {r['path']}",
             "ref": r["id"]} for r in rows]


@hookimpl
def crm_register_permissions(register):
    register("exports:download", ["manager", "sales"], "download an audience of the contacts one may see")


@hookimpl
def crm_register_routes(register):
    """Download an audience from ``crm serve`` (web.py)."""
    from . import web

    register("/exports", web.exports_page, "exports:download")
    register("/exports/download", web.download, "exports:download", methods=("POST",))


@hookimpl
def crm_register_menu_items(register):
    register("Exports", "/exports", "exports:download")
