"""crm_service: the service desk.

Cases from every channel in one queue with priorities, assignees and SLA
deadlines in business hours; each case's conversation (inbound mail, replies
e-mailed through SMTP, internal notes, attachments kept as files); mail import
from .eml, mbox, Maildir and IMAP with threading; saved replies (macros); a
CSAT invitation when a case is solved (with the surveys plugin); a ``service``
report and a dashboard section. Declares two hooks of its own
(``crm_case_status_changed`` and ``crm_mail_bounced``, see ``hookspecs.py``).
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
    cli.add_lazy_command("service", "crm_service.commands:service",
                         "Service desk: cases, conversations, SLAs, mail import and replies.")


@hookimpl
def crm_register_template_dirs(register):
    register(TEMPLATES)


@hookimpl
def crm_register_reports(register):
    from .report import context

    register("service", "service.html", "Service desk: backlog, response and resolution times, SLA attainment, CSAT, "
             "top tags and products", context, params=[])


@hookimpl
def crm_register_dashboard_sections(register):
    from .report import dashboard_context

    register("Service desk", "service_dashboard.html", dashboard_context)


@hookimpl
def crm_register_segment_fields(register, store):
    from .fields import segment_fields

    for name, sql, kind, description in segment_fields(store):
        register(name, sql, kind, description)


@hookimpl
def crm_register_permissions(register):
    register("cases:work", ["manager", "service"], "answer, change and solve service cases")


@hookimpl
def crm_register_routes(register):
    """The agent's queue and the case pages of ``crm serve`` (``web.py``)."""
    from .web import ROUTES

    for path, endpoint, permission, methods in ROUTES:
        register(path, endpoint, permission, methods=methods)


@hookimpl
def crm_register_static(register):
    """``static/service.css`` at ``/static/plugins/service/service.css``."""
    register(os.path.join(os.path.dirname(__file__), "static"))


@hookimpl
def crm_register_menu_items(register):
    register("Service", "/service", "contacts:read")


@hookimpl
def crm_register_contact_panels(register):
    """The contact's cases on the contact page."""
    from .web import contact_panel

    register("Cases", "service_cases_panel.html", contact_panel)


@hookimpl
def crm_case_status_changed(crm, changes):
    """A solved case invites its customer to the CSAT survey (surveys plugin)."""
    from .csat import invite_solved

    invite_solved(crm, changes)


@hookimpl
def crm_contacts_merged(crm, keep_id, duplicate_id):
    from .privacy import merge_contacts

    merge_contacts(crm, keep_id, duplicate_id)


@hookimpl
def crm_contact_erased(crm, contact_id, email):
    from .privacy import erase_contact

    erased = erase_contact(crm, contact_id, email)
    return [f"service: {erased} case(s) with their messages and attachment files deleted"] if erased else None


@hookimpl
def crm_records_deleted(crm, table, ids):
    """A deleted contact's cases, messages and files go with it (as on erasure),
    and so do a deleted case's messages and files, so the foreign keys never
    block the delete."""
    if table == "contacts":
        from .privacy import erase_contact

        for contact_id in ids:
            erase_contact(crm, contact_id)
    elif table == "service_cases":
        from .privacy import delete_messages

        delete_messages(crm, ids)


@hookimpl(trylast=True)
def crm_demo_data(crm, rng, contact_ids):
    """Runs after the other plugins' demo data: cases follow purchases and NPS answers."""
    from .demo import add_demo_cases

    add_demo_cases(crm, rng, contact_ids)
