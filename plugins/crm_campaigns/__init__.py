"""crm_campaigns: personalised messages to a segment, sent safely, measured by what customers did.

A campaign is a subject (A/B variants with a share each), a plain-text and an
optional HTML body as sandboxed Jinja2 templates, a segment and a sender.
Sending freezes the audience into an outbox in the database (consent and
suppression checked then and again right before each message), marks each
message sent once the server accepted it, and so resumes after a kill
without sending anyone a second copy (except the one message in flight).
``results`` compares the recipients' orders with a held-out control group.
Other plugins add channels with ``crm_register_transports``.
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
    cli.add_lazy_command("campaigns", "crm_campaigns.commands:campaigns",
                         "E-mail campaigns to a segment: personalised, sent once, measured against a control group.")


@hookimpl
def crm_register_template_dirs(register):
    register(TEMPLATES)


@hookimpl
def crm_register_reports(register):
    from .report import context
    from .report_params import CAMPAIGN

    register("campaign", "campaign.html", "One campaign: delivery per subject variant, orders and revenue of the "
             "recipients against the control group (--param campaign=NAME, --param days=30)", context, params=CAMPAIGN)


@hookimpl
def crm_register_dashboard_sections(register):
    from .report import dashboard_context

    register("Campaigns", "campaigns_dashboard.html", dashboard_context)


@hookimpl
def crm_contact_timeline(crm, contact):
    """A line per campaign message the contact was sent."""
    import json

    rows = crm.store.query(
        "SELECT o.sent_at, o.variant, c.id, c.name, c.variants FROM campaign_outbox o JOIN campaigns c ON c.id = o.campaign_id "
        "WHERE o.contact_id = ? AND o.status IN ('sent', 'bounced')", (contact["id"],))
    return [{"at": r["sent_at"], "kind": "campaign",
             "summary": f"e-mail campaign {r['name']}" + (f" (subject {r['variant']})" if len(json.loads(r["variants"] or "[]")) > 1 else ""),
             "ref": r["id"]} for r in rows]


@hookimpl
def crm_contact_erased(crm, contact_id):
    """The outbox rows go with the contact (the core deletes them); say which
    campaigns had reached the person, for the one running the erasure."""
    if not crm.store.table_exists("campaign_outbox"):
        return None
    names = [r["name"] for r in crm.store.query(
        "SELECT DISTINCT c.name FROM campaign_outbox o JOIN campaigns c ON c.id = o.campaign_id "
        "WHERE o.contact_id = ? AND o.status IN ('sent', 'bounced') ORDER BY c.name", (contact_id,))]
    if names:
        return [f"campaigns: e-mails had been sent to this person by {', '.join(names)} "
                "(copies kept by a file:// transport are not removed)"]
    return None


@hookimpl
def crm_mail_bounced(crm, bounces):
    """Bounces the service desk's mail import found (``crm service import-mail``
    or ``fetch``) mark this plugin's recipients as ``crm campaigns import-bounces`` does."""
    from .bounces import record_bounces

    record_bounces(crm, [{"recipient": b["email"], "action": b.get("action") or "", "status": b.get("status") or "",
                          "diagnostic": b.get("diagnostic") or "", "message_id": b.get("message_id")} for b in bounces])


@hookimpl
def crm_register_jobs(crm, register):
    """`crm run-due` resumes campaigns left half-sent (a killed or interrupted
    send, deferred retries), through ``CRM_SMTP_URL``; only when that is set."""
    import os

    from .transports import SMTP_ENV

    if os.environ.get(SMTP_ENV):
        register("campaigns.resume", _resume_sends, "15m", "resume campaigns still sending (CRM_SMTP_URL)")


def _resume_sends(crm):
    from .sending import send

    names = [r["name"] for r in crm.store.query("SELECT name FROM campaigns WHERE status = 'sending' ORDER BY id")]
    done = {name: send(crm, name) for name in names}
    if not done:
        return "no campaign is sending"
    return "; ".join(f"{name}: {r['sent']} sent, {r['remaining']} still queued" for name, r in done.items())
