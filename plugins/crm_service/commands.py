"""``crm service ...``: thin click commands over the library modules."""

import click

from crmcore import get_crm, output_options, print_rows

from .records import CHANNELS, PRIORITIES, STATUSES


@click.group()
def service():
    """Service desk: cases, conversations, SLAs, mail import and replies."""


@service.command("open")
@click.argument("contact", metavar="EMAIL")
@click.option("--subject", required=True, help="What the case is about.")
@click.option("--priority", type=click.Choice(PRIORITIES), default="normal", show_default=True)
@click.option("--channel", type=click.Choice(CHANNELS), default="phone", show_default=True,
              help="Where the customer reached us.")
@click.option("--sku", default="", help="The product the case is about (products plugin).")
@click.option("--description", default="", help="What the customer said; the conversation's first message.")
@click.option("--assignee", default="", help="The agent who takes it (e-mail or name).")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
def open_(contact, subject, priority, channel, sku, description, assignee, tags):
    """Open a case for a customer (EMAIL or contact id; an unknown e-mail becomes a new contact)."""
    from .cases import get_case, open_case

    crm = get_crm()
    case_id = open_case(crm, contact, subject, priority=priority, channel=channel, sku=sku, description=description,
                        assignee=assignee, tags=tags)
    case = get_case(crm, case_id)
    click.echo(f"Opened case #{case_id} ({priority}); first response due {case['first_response_due']} UTC, "
               f"resolution due {case['resolution_due']} UTC")


@service.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only cases in this status.")
@click.option("--assignee", help="Only cases of this agent ('' for unassigned).")
@click.option("--priority", type=click.Choice(PRIORITIES), help="Only cases of this priority.")
@click.option("--breached", is_flag=True, help="Only cases whose first-response or resolution target has run out.")
@click.option("--limit", type=click.IntRange(1), help="At most this many cases.")
@output_options
def list_(status, assignee, priority, breached, limit, fmt):
    """Cases, newest first (with --breached: the longest overdue first)."""
    from .cases import LIST_FIELDS, list_cases

    rows = list_cases(get_crm(), status=status, assignee=assignee, priority=priority, breached=breached, limit=limit)
    print_rows(rows, LIST_FIELDS, fmt, ["id", "status", "priority", "subject", "email", "assignee", "breach_at"])


@service.command("show")
@click.argument("case_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the case and its conversation as JSON.")
def show(case_id, as_json):
    """A case and its conversation, oldest message first."""
    import json

    from .cases import conversation
    from .files import full_path

    crm = get_crm()
    data = conversation(crm, case_id)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return
    case, contact = data["case"], data["contact"]
    who = _who(contact)
    click.echo(f"Case #{case['id']}: {case['subject']}")
    click.echo(f"  {case['status']}, {case['priority']}, {case['channel']}; customer {who}; "
               f"assignee {case['assignee'] or '-'}" + (f"; product {case['sku']}" if case["sku"] else ""))
    if case["tags"]:
        click.echo(f"  tags: {', '.join(case['tags'])}")
    dues = [f"first response due {case['first_response_due']}" if case["first_response_due"] else "",
            f"resolution due {case['resolution_due']}" if case["resolution_due"] else ""]
    if any(dues):
        click.echo("  " + "; ".join(d for d in dues if d) + " (UTC)")
    if data["csat"] is not None:
        click.echo(f"  CSAT: {data['csat']:g} of 5")
    for m in data["messages"]:
        label = {"inbound": "from", "outbound": "reply by", "internal": "internal note by"}[m["direction"]]
        state = f" [{m['delivery']}]" if m["delivery"] and m["delivery"] != "sent" else ""
        click.echo(f"\n--- {m['at']} {label} {m['author'] or '-'}{state}")
        click.echo(m["body"])
        for a in m["attachments"]:
            click.echo(f"    attachment: {a['filename']} ({a['size']:,} bytes) {full_path(crm, a['path']) or a['path']}")


@service.command("reply")
@click.argument("case_id", metavar="ID")
@click.option("--body", help="The text of the reply.")
@click.option("--body-file", type=click.File("r", encoding="utf-8"), help="Read the text from a file ('-' for standard input).")
@click.option("--macro", help="Use a saved reply (crm service macros), filled in for this case.")
@click.option("--internal", is_flag=True, help="An internal note the customer never sees (nothing is sent).")
@click.option("--smtp", help="The SMTP server: smtp://user:password@host:port or smtps://... (default: CRM_SMTP_URL).")
@click.option("--from", "sender", help="The sender's address (default: CRM_SERVICE_FROM).")
def reply_(case_id, body, body_file, macro, internal, smtp, sender):
    """Answer a case: e-mail the customer, or add an --internal note."""
    from .cases import get_case
    from .replies import reply

    crm = get_crm()
    given = [x for x in (body, body_file, macro) if x]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --body, --body-file and --macro")
    if body_file:
        body = body_file.read()
    elif macro:
        from .macros import render

        case = get_case(crm, case_id)
        contact = crm.get("contacts", case["contact_id"]) if case["contact_id"] else None
        body = render(crm, macro, case, contact)
    mid = reply(crm, case_id, body, internal=internal, smtp=smtp, sender=sender)
    click.echo(f"Added internal note {mid}" if internal else f"Sent reply {mid}")


@service.command("assign")
@click.argument("case_id", metavar="ID")
@click.argument("user", metavar="USER")
def assign_(case_id, user):
    """Give a case to an agent (e-mail or name)."""
    from .cases import assign

    case = assign(get_crm(), case_id, user)
    click.echo(f"Case #{case['id']} assigned to {case['assignee']}")


@service.command("status")
@click.argument("case_id", metavar="ID")
@click.argument("status", type=click.Choice(STATUSES))
def status_(case_id, status):
    """Move a case to a status (pending and on-hold pause the SLA clock)."""
    from .cases import set_status

    case = set_status(get_crm(), [case_id], status)[0]
    click.echo(f"Case #{case['id']} is {case['status']}")


@service.command("priority")
@click.argument("case_id", metavar="ID")
@click.argument("priority", type=click.Choice(PRIORITIES))
def priority_(case_id, priority):
    """Change a case's priority (its SLA targets and due times follow)."""
    from .cases import set_priority

    case = set_priority(get_crm(), case_id, priority)
    click.echo(f"Case #{case['id']} is {case['priority']}; due {case['breach_at'] or '-'} UTC")


@service.command("solve")
@click.argument("case_id", metavar="ID")
@click.option("--smtp", help="The SMTP server for the CSAT invitation e-mail (default: CRM_SMTP_URL).")
def solve_(case_id, smtp):
    """Mark a case solved (the customer gets a CSAT invitation with the surveys plugin)."""
    from crmcore import CRMError

    from .cases import get_case, solve
    from .mailer import smtp_url
    from .replies import send_queued

    crm = get_crm()
    case = solve(crm, case_id)
    click.echo(f"Case #{case['id']} solved")
    invitation = get_case(crm, case["id"])["csat_invitation_id"]
    if not invitation:
        return
    click.echo(f"CSAT invitation {invitation} created (survey invitations batch 'service case #{case['id']}')")
    queued = crm.store.query_value(
        "SELECT count(*) FROM service_messages WHERE case_id = ? AND delivery IN ('queued', 'failed')", (case["id"],))
    if not queued:
        return
    if not smtp_url(smtp):
        click.echo("The invitation e-mail is queued: crm service send-queued --smtp URL sends it")
        return
    try:
        sent, failed = send_queued(crm, smtp, case_id=case["id"])
    except CRMError as exc:
        sent, failed = 0, str(exc)
    click.echo("The invitation was e-mailed" if sent and not failed else
               "The invitation e-mail could not be sent; crm service send-queued tries again", err=bool(failed))


@service.command("search")
@click.argument("text")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@output_options
def search_(text, limit, fmt):
    """Cases whose subject or any message contains every word (prefixes match)."""
    from .cases import LIST_FIELDS, search

    rows = search(get_crm(), text, limit)
    print_rows(rows, LIST_FIELDS, fmt, ["id", "status", "priority", "subject", "email", "assignee"])


@service.command("send-queued")
@click.option("--smtp", help="The SMTP server (default: CRM_SMTP_URL).")
def send_queued_(smtp):
    """Send replies that are still queued or failed to send."""
    from .replies import send_queued

    sent, failed = send_queued(get_crm(), smtp)
    click.echo(f"Sent {sent} repl{'y' if sent == 1 else 'ies'}" + (f", {failed} failed again" if failed else ""))
    if failed:
        raise SystemExit(1)


@service.command("csat-survey")
@click.argument("name", required=False)
def csat_survey(name):
    """Show or set the survey whose invitation a solved case sends (default: csat)."""
    from .csat import SETTING, survey_name

    crm = get_crm()
    if name:
        crm.set_setting(SETTING, name)
    click.echo(f"Solved cases invite to the survey {survey_name(crm)!r}"
               + ("" if crm.is_enabled("surveys") else " (when the surveys plugin is enabled)"))


@service.command("sender")
@click.argument("address", required=False)
def sender_(address):
    """Show or set the address replies come from (the service.from setting; CRM_SERVICE_FROM wins)."""
    import os

    from crmcore import normalize

    from .replies import FROM_ENV, FROM_SETTING

    crm = get_crm()
    if address:
        try:
            crm.set_setting(FROM_SETTING, normalize.email(address))
        except ValueError:
            raise click.BadParameter(f"{address!r} is not an e-mail address", param_hint="ADDRESS") from None
    current = os.environ.get(FROM_ENV) or crm.get_setting(FROM_SETTING)
    if not current:
        click.echo(f"No sender set: crm service sender help@your-shop.example (or {FROM_ENV})")
    else:
        click.echo(f"Replies come from {current}" + (f" ({FROM_ENV})" if os.environ.get(FROM_ENV) else ""))


def _print_counts(counts):
    click.echo(", ".join(f"{v} {k}" for k, v in counts.items()))


@service.command("import-mail")
@click.argument("path", type=click.Path(exists=True))
def import_mail_(path):
    """Import mail from an .eml file, an mbox file or a Maildir folder: new mails
    open cases, replies join theirs, re-imported mails are skipped."""
    from crmcore import progress

    from .mailin import count_source, import_mail

    crm = get_crm()
    total = count_source(path)
    with progress(total or 0, "Importing mail", show=None if total else False) as bar:
        counts = import_mail(crm, path, progress=bar.update)
    _print_counts(counts)


@service.command("fetch")
@click.option("--imap", "url", envvar="CRM_IMAP_URL", required=True,
              help="The mailbox: imaps://user:password@host/INBOX (default: CRM_IMAP_URL).")
def fetch_(url):
    """Import the unseen mails of an IMAP mailbox and mark them seen."""
    from .mailin import fetch

    _print_counts(fetch(get_crm(), url))


# -- SLA ---------------------------------------------------------------------------


@service.group("sla")
def sla():
    """SLA policies per priority and the business hours they count in."""


@sla.command("show")
@output_options
def sla_show(fmt):
    """The targets per priority, the business week and the holidays."""
    from .sla import config, policy_rows

    crm = get_crm()
    print_rows(policy_rows(crm), ["priority", "first_response", "resolution"], fmt)
    if fmt is None:
        cfg = config(crm)
        click.echo(f"\nBusiness hours ({cfg['timezone']}):")
        for day, hours in cfg["week"].items():
            click.echo(f"  {day}  {hours or 'closed'}")
        click.echo(f"Holidays: {', '.join(cfg['holidays']) or 'none'}")


@sla.command("load")
@click.argument("file", type=click.Path(dir_okay=False))
def sla_load(file):
    """Load SLA policies, business week and holidays from YAML; open cases are re-timed."""
    from .sla import load

    cfg = load(get_crm(), file)
    click.echo(f"Loaded the SLA: {len(cfg['policies'])} policies, {sum(1 for v in cfg['week'].values() if v)} business days "
               f"a week, {len(cfg['holidays'])} holidays")


# -- macros ------------------------------------------------------------------------


@service.group("macros")
def macros():
    """Saved replies with placeholders ({{ contact.first_name }}, {{ case.id }} ...)."""


@macros.command("list")
@output_options
def macros_list(fmt):
    from .macros import list_macros

    print_rows(list_macros(get_crm()), ["id", "name", "body", "updated_at"], fmt, ["name", "body"])


@macros.command("add")
@click.argument("name")
@click.option("--body", help="The text (Jinja2 placeholders).")
@click.option("--body-file", type=click.File("r", encoding="utf-8"), help="Read the text from a file.")
def macros_add(name, body, body_file):
    """Save a macro (replaces one of the same name)."""
    from .macros import save

    if bool(body) == bool(body_file):
        raise click.UsageError("give exactly one of --body and --body-file")
    save(get_crm(), name, body if body else body_file.read())
    click.echo(f"Saved macro {name!r}")


@macros.command("show")
@click.argument("name")
def macros_show(name):
    from .macros import get

    click.echo(get(get_crm(), name)["body"])


@macros.command("delete")
@click.argument("name")
def macros_delete(name):
    from .macros import delete

    delete(get_crm(), name)
    click.echo(f"Deleted macro {name!r}")


def _who(contact):
    if not contact:
        return "-"
    name = f"{contact['first_name']} {contact['last_name']}".strip()
    return f"{name} <{contact['email']}>" if name and contact["email"] else (name or contact["email"] or f"contact {contact['id']}")
