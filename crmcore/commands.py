"""Core command groups: contacts, companies, deals, activities, orders,
plugins, report, demo and quickstart. Each command is thin: it parses options
and calls the library."""

import json
import os
import sys

import click

from .cli import (
    add_or_fail,
    build_or_fail,
    custom_from,
    get_crm,
    given,
    progress_bar,
    record_options,
    update_or_fail,
)
from .output import output_options, print_record, print_rows
from .scaffold import plugins_new

ACTIVITY_TABLE = ["id", "contact_id", "deal_id", "kind", "channel", "subject", "due_at", "done_at", "owner"]
CONTACT_TABLE = ["id", "first_name", "last_name", "email", "phone", "company", "country", "owner"]


def _fields(table):
    from .entities import CORE_RECORD_TYPES
    from .schema import field_names, table_of

    return field_names(next(c for c in CORE_RECORD_TYPES if table_of(c) == table))


LIMIT_HELP = "Show at most N records (0 for all)."


def _print_list(table, filters, sort, limit, fmt, table_fields):
    """Print a filtered list; on a terminal table, say when the limit hid records."""
    from .queries import count_records, list_records

    crm = get_crm()
    rows = list_records(crm, table, filters, sort, limit)
    print_rows(rows, _fields(table), fmt, table_fields)
    if fmt is None and limit and len(rows) == limit:
        total = count_records(crm, table, filters)
        if total > limit:
            click.echo(f"showing {limit:,} of {total:,} (use --limit N, or --limit 0 for all)", err=True)


# -- contacts -------------------------------------------------------------------


@click.group()
def contacts():
    """People: add, list, search, import, export, merge."""


@contacts.command("add")
@record_options("contacts", exclude=("company_id",))
def contacts_add(extra, **values):
    """Add a contact. The e-mail must be unique; the phone is normalised to
    E.164 when a country is given."""
    from .entities import Contact

    crm = get_crm()
    data = given(values)
    if extra:
        data["custom"] = custom_from(extra)
    if data.get("company"):
        data["company_id"] = crm.company_id_for(data["company"])
    if data.get("consent") and not data.get("consent_source"):
        data["consent_source"] = "crm contacts add"  # consent is recorded with where it came from
    cid = add_or_fail(crm, build_or_fail(Contact, data))
    click.echo(f"Added contact {cid}")


@contacts.command("list")
@click.option("--country", help="Only contacts in this country (ISO code).")
@click.option("--owner", help="Only contacts of this owner.")
@click.option("--tag", help="Only contacts with this tag.")
@click.option("--company", help="Only contacts of this company name.")
@click.option("--consent/--no-consent", default=None, help="Only contacts with (or without) marketing consent.")
@click.option("--sort", default="id", show_default=True, help="Field to sort by; add :desc to reverse.")
@click.option("--limit", default=100, show_default=True, help=LIMIT_HELP)
@output_options
def contacts_list(country, owner, tag, company, consent, sort, limit, fmt):
    """List contacts."""
    from . import normalize

    filters = {"country": normalize.country(country) if country else None, "owner": owner, "company": company,
               "tag": tag, "consent": consent}
    _print_list("contacts", filters, sort, limit, fmt, CONTACT_TABLE)


@contacts.command("show")
@click.argument("contact")
@output_options
def contacts_show(contact, fmt):
    """Show one contact (id or e-mail) with deals, orders and recent activities."""
    from .queries import contact_overview

    found = contact_overview(get_crm(), contact)
    if fmt == "json":
        print_record(found, "json")
        return
    from .currency import base_currency

    related = {k: found.pop(k) for k in ("deals", "orders", "total_spent", "last_order", "activities", "facts")}
    print_record(found)
    click.echo(f"\norders: {related['orders']}, total spent {related['total_spent']:,.2f} {base_currency(get_crm())}, last order {related['last_order'] or '–'}")
    for label, value in related["facts"].items():
        click.echo(f"{label}: {value if value not in (None, '') else '–'}")
    if related["deals"]:
        click.echo("\ndeals:")
        print_rows(related["deals"], ["id", "title", "stage", "status", "amount", "currency"])
    if related["activities"]:
        click.echo("\nrecent activities:")
        print_rows(related["activities"], ["id", "kind", "subject", "due_at", "done_at"])


@contacts.command("timeline")
@click.argument("contact")
@click.option("--limit", default=50, show_default=True, help=LIMIT_HELP)
@output_options
def contacts_timeline(contact, limit, fmt):
    """Everything that happened with a contact (id or e-mail), newest first:
    activities, orders with their lines, deals, changes, and every enabled
    plugin's events (survey answers, exports, segment changes...)."""
    from .timeline import TIMELINE_FIELDS

    print_rows(get_crm().timeline(contact, limit), TIMELINE_FIELDS, fmt)


@contacts.command("edit")
@click.argument("contact")
@record_options("contacts", exclude=("company_id",))
def contacts_edit(contact, extra, **values):
    """Change fields of a contact (id or e-mail); only the options given change."""
    crm = get_crm()
    row = crm.find_contact(contact)
    changes = given(values)
    if extra:
        changes["custom"] = custom_from(extra, row["custom"])
    if changes.get("company"):
        changes["company_id"] = crm.company_id_for(changes["company"])
    if not changes:
        raise click.UsageError("nothing to change: give at least one option, e.g. --phone")
    update_or_fail(crm, "contacts", row["id"], changes)
    click.echo(f"Updated contact {row['id']}")


@contacts.command("delete")
@click.argument("contact", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def contacts_delete(contact, yes):
    """Delete contacts (ids or e-mails) with their activities and orders."""
    crm = get_crm()
    rows = [crm.find_contact(c) for c in contact]
    if not yes:
        click.confirm(f"Delete {len(rows)} contact(s) with their activities and orders?", abort=True)
    crm.delete("contacts", [r["id"] for r in rows])
    click.echo(f"Deleted {len(rows)} contact(s)")


@contacts.command("search")
@click.argument("query")
@click.option("--limit", default=20, show_default=True, help=LIMIT_HELP)
@output_options
def contacts_search(query, limit, fmt):
    """Full-text search over names, e-mail, company, city, tags and notes.

    Every word must match the start of a word in the contact: `ann berl`
    finds Anna from Berlin."""
    crm = get_crm()
    rows = crm.search_contacts(query, limit)
    print_rows(rows, _fields("contacts"), fmt, CONTACT_TABLE)


IMPORT_OPTIONS = [
    click.argument("file", type=click.Path(dir_okay=False)),
    click.option("--format", "fmt", type=click.Choice(["csv", "json", "jsonl", "xlsx"]), help="File format (default: from the extension and content)."),
    click.option("--map", "mapping", multiple=True, metavar="HEADER=FIELD",
                 help="Map a column header to a field, to custom.NAME (a custom attribute) or to - (leave it out); repeatable."),
    click.option("--dry-run", is_flag=True, help="Validate and count, but write nothing."),
    click.option("--rejects", type=click.Path(dir_okay=False), help="Write bad rows here (with row number and reason) and import the rest."),
    click.option("--json", "as_json", is_flag=True, help="Print the result as JSON."),
]


def import_options(fn):
    for option in reversed(IMPORT_OPTIONS):
        fn = option(fn)
    return fn


# Options of `crm contacts import` and `crm orders import` for files as other
# systems write them (crmcore/import_profiles.py, crmcore/dates.py, crmcore/xlsx.py).
SOURCE_OPTIONS = [
    click.option("--profile", metavar="NAME", help="Read the file as this export format (default: recognised from the header; see crm import-profiles)."),
    click.option("--date-format", type=click.Choice(["DMY", "MDY", "YMD"], case_sensitive=False),
                 help="How the file writes dates such as 11/03/2026 (default: learnt from the file's values)."),
    click.option("--sheet", metavar="NAME", help="Sheet of an Excel workbook to import (default: the first)."),
]


def source_options(fn):
    for option in reversed(SOURCE_OPTIONS):
        fn = option(fn)
    return fn


def run_import(importer, crm, file, fmt, mapping, dry_run, rejects, as_json, on_conflict, label, **source):
    """Shared body of the import commands: progress bar, summary, rejects."""
    from .importing import parse_map

    with progress_bar(file, label) as bar:
        result = importer(crm, file, fmt=fmt, mapping=parse_map(mapping), on_conflict=on_conflict, dry_run=dry_run,
                          rejects_path=rejects, progress=bar.update, **source)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
    else:
        recognised = getattr(result, "recognised", lambda: None)()
        if recognised:
            click.echo(recognised)
        for note in getattr(result, "notes", ()):
            click.echo(f"Note: {note}")
        click.echo(result.summary())
        if result.extra_columns:
            click.echo(f"Unmapped columns kept as custom attributes: {', '.join(result.extra_columns)}")
        if result.rejected and rejects:
            click.echo(f"Rejected rows written to {rejects}")
    return result


@contacts.command("import")
@import_options
@source_options
@click.option("--on-conflict", type=click.Choice(["update", "skip", "error"]), default="update", show_default=True,
              help="What to do when a contact with the same e-mail exists.")
@click.option("--commit-every", type=int, metavar="N",
              help="For huge files: commit every N rows; if the import is interrupted, the same command resumes after the last committed row.")
@click.option("--empty", type=click.Choice(["keep", "clear"]), default="keep", show_default=True,
              help="What an empty cell does to an existing contact: keep the stored value, or clear the field.")
def contacts_import(file, fmt, mapping, dry_run, rejects, as_json, on_conflict, commit_every, profile, date_format, sheet, empty):
    """Import contacts from CSV (comma or semicolon, UTF-8), Excel (.xlsx), JSON or JSON Lines.

    Exports of Shopify, WooCommerce, Mailchimp and HubSpot are recognised
    from their headers (crm import-profiles), as are common headers
    ("E-mail", "First Name", ...); other columns are kept as custom
    attributes. Rows are matched on e-mail. One bad row stops the import and
    nothing is written, unless --rejects is given."""
    from functools import partial

    from .importing import import_contacts

    run_import(partial(import_contacts, commit_every=commit_every, empty=empty), get_crm(), file, fmt, mapping, dry_run, rejects, as_json,
               on_conflict, "Importing contacts", profile=profile, date_format=date_format, sheet=sheet)


@contacts.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File to write (default or -: standard output).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "jsonl"]), default="csv", show_default=True)
def contacts_export(output, fmt):
    """Export every contact with every field (for backups and other tools).

    Marketing audiences with consent rules come from `crm export`."""
    from .exporting import export_table

    crm = get_crm()
    output = None if output == "-" else output  # -o -: standard output, the default
    count = export_table(crm, "contacts", output, fmt)
    if output:
        click.echo(f"Exported {count} contacts to {output}", err=True)


@contacts.command("merge")
@click.argument("keep")
@click.argument("duplicate")
def contacts_merge(keep, duplicate):
    """Merge DUPLICATE into KEEP (ids or e-mails): deals, activities, orders
    and plugin records move to KEEP, empty fields are filled, DUPLICATE is deleted."""
    notes = []
    kept = get_crm().merge_contacts(keep, duplicate, notes)
    click.echo(f"Merged {duplicate} into contact {kept['id']} ({kept['email'] or kept['first_name']})")
    for note in notes:
        click.echo(f"  {note}")


@contacts.command("unsubscribe")
@click.argument("email", nargs=-1, required=True)
def contacts_unsubscribe(email):
    """Withdraw marketing consent for good: the address goes on the
    suppression list, and no later import subscribes it again."""
    crm = get_crm()
    with crm.store.transaction():  # all the addresses or none
        for address in email:
            crm.suppress(address)
    click.echo(f"Suppressed {len(email)} address(es)")


@contacts.command("erase")
@click.argument("contact")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def contacts_erase(contact, yes):
    """Erase a person's personal data everywhere (right to erasure).

    Every plugin removes what it holds; activities and the contact's change
    history are deleted; deals and orders stay for the books without the
    link; a hash of the e-mail stays on the suppression list so the person is
    never re-imported as a marketing contact."""
    crm = get_crm()
    row = crm.find_contact(contact)
    if not yes:
        click.confirm(f"Erase contact {row['id']} ({row['email'] or row['first_name']}) and all personal data?", abort=True)
    notes = crm.erase_contact(str(row["id"]))
    click.echo(f"Erased contact {row['id']}")
    for note in notes:
        click.echo(f"  {note}")


@contacts.command("history")
@click.argument("contact")
@output_options
def contacts_history(contact, fmt):
    """Changes to a contact: who, when, which fields, old and new values."""
    crm = get_crm()
    print_rows(crm.history("contacts", crm.find_contact(contact)["id"]), ["at", "user", "action", "changes"], fmt)


# -- companies ------------------------------------------------------------------


@click.group()
def companies():
    """Companies (accounts)."""


@companies.command("add")
@record_options("companies")
def companies_add(**values):
    """Add a company. The domain, when given, must be unique."""
    from .entities import Company

    crm = get_crm()
    cid = add_or_fail(crm, build_or_fail(Company, given(values)))
    click.echo(f"Added company {cid}")


@companies.command("list")
@click.option("--country", help="Only companies in this country.")
@click.option("--industry", help="Only companies in this industry.")
@click.option("--sort", default="id", show_default=True, help="Field to sort by; add :desc to reverse.")
@click.option("--limit", default=100, show_default=True, help=LIMIT_HELP)
@output_options
def companies_list(country, industry, sort, limit, fmt):
    """List companies."""
    _print_list("companies", {"country": country and country.upper(), "industry": industry}, sort, limit, fmt,
                ["id", "name", "domain", "industry", "size", "city", "country", "owner"])


@companies.command("show")
@click.argument("company")
@output_options
def companies_show(company, fmt):
    """Show a company (id or name) with its contacts and deals."""
    from .queries import company_overview

    found = company_overview(get_crm(), company)
    if fmt == "json":
        print_record(found, "json")
        return
    people, deals, account = found.pop("contacts"), found.pop("deals"), found.pop("account")
    print_record(found)
    if account["orders"]:
        overdue = f", {account['days_late']} days late" if account["reorder_overdue"] else ""
        rhythm = (f"reorders every {account['reorder_interval_days']:g} days, next due {account['next_reorder']}{overdue}"
                  if account["reorder_interval_days"] is not None else "one order day so far: no reorder rhythm yet")
        from .currency import base_currency

        click.echo(f"\naccount: {account['orders']} orders, revenue {account['revenue']:,.2f} {base_currency(get_crm())} "
                   f"({account['revenue_12m']:,.2f} in the last 12 months), last order {account['last_order']}; {rhythm}")
        click.echo("\nrevenue per month:")
        print_rows(account["revenue_per_month"], ["month", "orders", "revenue"])
    click.echo("\ncontacts:")
    print_rows(people, ["id", "first_name", "last_name", "email", "job_title"])
    click.echo("\ndeals:")
    print_rows(deals, ["id", "title", "stage", "status", "amount"])


@companies.command("edit")
@click.argument("company")
@record_options("companies")
def companies_edit(company, **values):
    """Change fields of a company (id or name)."""
    crm = get_crm()
    row = crm.find_company(company)
    changes = given(values)
    if not changes:
        raise click.UsageError("nothing to change: give at least one option")
    update_or_fail(crm, "companies", row["id"], changes)
    click.echo(f"Updated company {row['id']}")


@companies.command("delete")
@click.argument("company")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def companies_delete(company, yes):
    """Delete a company; its contacts and deals stay, unlinked."""
    crm = get_crm()
    row = crm.find_company(company)
    if not yes:
        click.confirm(f"Delete company {row['name']!r}?", abort=True)
    crm.delete("companies", [row["id"]])
    click.echo(f"Deleted company {row['id']}")


# -- deals ----------------------------------------------------------------------


@click.group()
def deals():
    """Deals and the sales pipeline."""


DEAL_TABLE = ["id", "title", "contact_id", "company_id", "amount", "currency", "stage", "status", "expected_close", "owner"]


@deals.command("add")
@record_options("deals", exclude=("status", "closed_at"), required=("title",))
def deals_add(**values):
    """Add a deal for a contact and/or company. Stage defaults to the first
    pipeline stage; probability to the stage's."""
    from .entities import Deal

    crm = get_crm()
    data = crm.resolve_references(given(values))
    data.setdefault("stage", crm.stages[0][0])
    if str(data["stage"]).strip().lower() in ("won", "lost"):  # added closed, as `deals move` would close it
        from . import normalize

        data.update(status=str(data["stage"]).strip().lower(), closed_at=normalize.now()[:10])
    did = add_or_fail(crm, build_or_fail(Deal, data))
    click.echo(f"Added deal {did}")


@deals.command("list")
@click.option("--stage", help="Only deals in this stage.")
@click.option("--status", type=click.Choice(["open", "won", "lost"]), help="Only deals with this status.")
@click.option("--owner", help="Only deals of this owner.")
@click.option("--contact", help="Only deals of this contact (id or e-mail).")
@click.option("--sort", default="id", show_default=True, help="Field to sort by; add :desc to reverse.")
@click.option("--limit", default=100, show_default=True, help=LIMIT_HELP)
@output_options
def deals_list(stage, status, owner, contact, sort, limit, fmt):
    """List deals."""
    contact_id = get_crm().find_contact(contact)["id"] if contact else None
    filters = {"stage": stage, "status": status, "owner": owner, "contact_id": contact_id}
    _print_list("deals", filters, sort, limit, fmt, DEAL_TABLE)


@deals.command("show")
@click.argument("deal", type=int)
@output_options
def deals_show(deal, fmt):
    """Show one deal."""
    from .errors import CRMError

    crm = get_crm()
    row = crm.get("deals", deal)
    if row is None:
        raise CRMError(f"no deal {deal}")
    print_record(row, fmt)


@deals.command("move")
@click.argument("deal", type=int)
@click.argument("stage")
def deals_move(deal, stage):
    """Move a deal to another pipeline stage; `won` and `lost` close it."""
    crm = get_crm()
    moved = crm.move_deal(deal, stage)
    click.echo(f"Deal {deal} is now in stage {moved['stage']} ({moved['status']})")


@deals.command("pipeline")
@click.option("--owner", help="Only deals of this owner.")
@output_options
def deals_pipeline(owner, fmt):
    """Open deals per stage: count, value and probability-weighted value."""
    crm = get_crm()
    rows = crm.pipeline(owner)
    print_rows(rows, ["stage", "probability", "deals", "amount", "weighted"], fmt)


@deals.command("stages")
@click.argument("stages", nargs=-1)
@click.option("--move", "moves", multiple=True, metavar="OLD=NEW", help="Move the deals of a stage you leave out to a new one (repeatable).")
def deals_stages(stages, moves):
    """Show the pipeline stages, or set them: `crm deals stages lead=10 demo=40 won=100 lost=0`.

    Each stage is NAME=PROBABILITY (percent), in pipeline order; `won` and
    `lost` must be present. Deals in a stage you leave out move with
    `--move OLD=NEW`. `crm deals stages rename OLD NEW` renames one stage,
    deals included."""
    from .errors import CRMError

    crm = get_crm()
    if stages and stages[0] == "rename":
        if len(stages) != 3 or moves:
            raise CRMError("rename takes two names: crm deals stages rename OLD NEW")
        from .pipeline import rename_stage

        rename_stage(crm, stages[1], stages[2])
    elif stages:
        crm.set_stages(stages, moves)
    elif moves:
        raise CRMError("--move goes with the new stages: crm deals stages lead=10 ... --move OLD=NEW")
    for name, probability in crm.stages:
        click.echo(f"{name:<16} {probability:>3}%")


# -- activities -----------------------------------------------------------------


@click.group()
def activities():
    """Calls, e-mails, meetings, notes and tasks."""


@activities.command("log")
@record_options("activities")
def activities_log(**values):
    """Log an activity (a touchpoint) for a contact and/or deal.

    Example: crm activities log --contact ada@example.com --kind call --subject "Follow-up" --done-at 2024-05-02T10:00"""
    from .entities import Activity

    crm = get_crm()
    data = crm.resolve_references(given(values))
    if not data.get("contact_id") and not data.get("deal_id"):
        raise click.UsageError("give --contact or --deal")
    aid = add_or_fail(crm, build_or_fail(Activity, data))
    click.echo(f"Logged activity {aid}")


@activities.command("list")
@click.option("--contact", help="Only activities of this contact (id or e-mail).")
@click.option("--kind", type=click.Choice(["call", "email", "meeting", "note", "task"]))
@click.option("--open", "only_open", is_flag=True, help="Only activities not done yet (open tasks).")
@click.option("--owner", help="Only activities of this owner (a user's e-mail or name).")
@click.option("--overdue", is_flag=True, help="Only open tasks due before now.")
@click.option("--due", type=click.Choice(["today", "week"]), help="Only open tasks due by the end of today / within 7 days (overdue included).")
@click.option("--sort", default="id", show_default=True, help="Field to sort by; add :desc to reverse.")
@click.option("--limit", default=100, show_default=True, help=LIMIT_HELP)
@output_options
def activities_list(contact, kind, only_open, owner, overdue, due, sort, limit, fmt):
    """List activities: calls, e-mails, meetings, notes and tasks."""
    from .queries import task_window

    contact_id = get_crm().find_contact(contact)["id"] if contact else None
    filters = {"contact_id": contact_id, "kind": kind, "open": True if only_open else None, "owner": owner,
               **task_window(due, overdue)}
    _print_list("activities", filters, sort, limit, fmt, ACTIVITY_TABLE)


@click.command("tasks")
@click.option("--owner", help="Whose tasks (default: CRM_USER, the same user the web app logs in).")
@click.option("--overdue", is_flag=True, help="Only tasks due before now.")
@click.option("--due", type=click.Choice(["today", "week"]), help="Only tasks due by the end of today / within 7 days.")
@click.option("--limit", default=100, show_default=True, help=LIMIT_HELP)
@output_options
def tasks(owner, overdue, due, limit, fmt):
    """My open tasks, soonest due first (a shortcut for `crm activities list --kind task --open --owner ME`)."""
    from .app import current_user
    from .queries import task_window

    filters = {"kind": "task", "open": True, "owner": owner or current_user(), **task_window(due, overdue)}
    _print_list("activities", filters, "due_at", limit, fmt, ACTIVITY_TABLE)


@activities.command("done")
@click.argument("activity", type=int)
def activities_done(activity):
    """Mark an activity (task) as done now."""
    from . import normalize

    crm = get_crm()
    update_or_fail(crm, "activities", activity, {"done_at": normalize.now()})
    click.echo(f"Activity {activity} done")


# -- orders ---------------------------------------------------------------------


@click.group()
def orders():
    """Purchase history: orders and their lines."""


@orders.command("import")
@import_options
@source_options
@click.option("--on-conflict", type=click.Choice(["update", "skip", "error"]), default="skip", show_default=True,
              help="What to do with an order whose ref exists: skip it (safe re-import), replace it, or fail.")
def orders_import(file, fmt, mapping, dry_run, rejects, as_json, on_conflict, profile, date_format, sheet):
    """Import orders, one row per order line.

    Columns: ref, ordered_at, email or contact_id, channel, currency, total,
    sku, description, quantity, unit_price. Rows with the same ref form one
    order. Shopify and WooCommerce order exports are recognised from their
    headers (crm import-profiles). All-or-nothing unless --rejects is given."""
    from .importing import import_orders

    run_import(import_orders, get_crm(), file, fmt, mapping, dry_run, rejects, as_json, on_conflict, "Importing orders",
               profile=profile, date_format=date_format, sheet=sheet)


@orders.command("list")
@click.option("--contact", help="Only orders of this contact (id or e-mail).")
@click.option("--since", help="Only orders on or after this date (YYYY-MM-DD).")
@click.option("--sort", default="id", show_default=True, help="Field to sort by; add :desc to reverse.")
@click.option("--limit", default=100, show_default=True, help=LIMIT_HELP)
@output_options
def orders_list(contact, since, sort, limit, fmt):
    """List orders."""
    from .queries import parse_since

    contact_id = get_crm().find_contact(contact)["id"] if contact else None
    _print_list("orders", {"contact_id": contact_id, "since": parse_since(since)}, sort, limit, fmt,
                ["id", "ref", "contact_id", "ordered_at", "channel", "currency", "total"])


@orders.command("show")
@click.argument("order")
@output_options
def orders_show(order, fmt):
    """Show one order (id or ref) with its lines."""
    from .queries import find_order

    head = find_order(get_crm(), order)
    if fmt == "json":
        print_record(head, "json")
        return
    lines = head.pop("lines")
    print_record(head)
    click.echo("")
    print_rows(lines, ["sku", "description", "quantity", "unit_price"])


# -- plugins --------------------------------------------------------------------


@click.group()
def plugins():
    """Installed plugins and which are enabled for this database."""


plugins.add_command(plugins_new)


@plugins.command("list")
@click.option("--verbose", "-v", is_flag=True, help="Also list each plugin's hooks.")
@output_options
def plugins_list(verbose, fmt):
    """Name, version, enabled state and hooks of every installed plugin.

    The table counts the hooks (it fits 80 columns); --verbose lists them,
    --json and --csv always do."""
    import textwrap

    crm = get_crm(migrate=False)
    rows = crm.plugin_info()
    if fmt is None:
        print_rows([{**r, "hooks": len(r["hooks"])} for r in rows], ["name", "version", "enabled", "hooks"])
        for r in rows if verbose else ():
            if r["hooks"]:
                click.echo(f"\n{r['name']}:")
                click.echo(textwrap.fill(", ".join(r["hooks"]), width=78, initial_indent="  ", subsequent_indent="  ",
                                         break_on_hyphens=False))
    else:
        print_rows(rows, ["name", "version", "enabled", "hooks", "error"], fmt)
    if fmt is None:
        for f in crm.plugin_failures:
            click.echo(f"not loaded: {f.name}: {f.reason}")


@plugins.command("enable")
@click.argument("name")
def plugins_enable(name):
    """Enable a plugin for this database (and apply its migrations)."""
    crm = get_crm()
    crm.set_enabled(name, True)
    click.echo(f"Enabled {name}")


@plugins.command("disable")
@click.argument("name")
def plugins_disable(name):
    """Disable a plugin for this database. Its tables and data are kept."""
    crm = get_crm()
    crm.set_enabled(name, False)
    click.echo(f"Disabled {name} (its data is kept; `crm plugins enable {name}` brings it back)")


# -- reports --------------------------------------------------------------------


@click.group()
def report():
    """HTML reports: self-contained files that open in any browser and print well."""


@report.command("list")
@output_options
def report_list(fmt):
    """Reports of the core and enabled plugins."""
    crm = get_crm(migrate=False)
    rows = [{"name": r.name, "plugin": r.plugin, "description": r.description} for r in sorted(crm.registry.reports.values(), key=lambda r: r.name)]
    print_rows(rows, ["name", "plugin", "description"], fmt)


@report.command("render")
@click.argument("name")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="HTML file to write (default: NAME.html; -: standard output).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A report parameter (repeatable), e.g. --param sku=ABC-1.")
@click.option("--open", "open_browser", is_flag=True, help="Open the report in a browser afterwards.")
@click.option("--stamp", is_flag=True, help="Put the generation time and a content hash in the footer.")
def report_render(name, output, params, open_browser, stamp):
    """Render report NAME to one self-contained HTML file."""
    from .reports import parse_params, write_report

    from .errors import CRMError
    from .output import written_to

    if open_browser and output == "-":
        raise CRMError("--open needs a file: give -o FILE.html, not -o -")
    crm = get_crm()
    with written_to(output or f"{name}.html") as target:
        path = write_report(crm, name, target, parse_params(params), stamp)
    if output == "-":
        return
    click.echo(path)
    if open_browser:
        open_in_browser(path)


def open_in_browser(path):
    """Open a written file in the user's browser (``BROWSER`` is honoured);
    ``CRMError`` when there is none, so that --open never fails silently."""
    import pathlib
    import webbrowser

    from .errors import CRMError

    try:
        opened = webbrowser.open(pathlib.Path(path).resolve().as_uri())
    except webbrowser.Error:
        opened = False
    if not opened:
        raise CRMError(f"no browser found to open {path} (it is written; open it yourself, or set BROWSER)")


# -- demo / quickstart ------------------------------------------------------------


@click.command()
@click.option("--contacts", "n_contacts", default=1000, show_default=True, help="How many contacts to create.")
@click.option("--seed", default=42, show_default=True, help="Random seed: the same seed gives the same data.")
def demo(n_contacts, seed):
    """Fill the database with realistic sample data (contacts in several
    countries, companies, deals, activities, three years of orders, and data
    for every enabled plugin).

    Adds to what is there: run it again, or after `crm quickstart`, for more
    contacts and orders (plugins add their sample data once)."""
    from .demo import generate

    crm = get_crm(migrate=False)
    crm.migrate()
    counts = generate(crm, n_contacts, seed, progress=sys.stderr.isatty())
    click.echo("Demo data: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))


@click.command()
@click.option("--contacts", "n_contacts", default=2000, show_default=True, help="How many demo contacts to create.")
@click.option("-o", "--output", default="crm-dashboard.html", show_default=True, type=click.Path(dir_okay=False), help="Where to write the dashboard.")
def quickstart(n_contacts, output):
    """Create a demo CRM with every plugin enabled and write its dashboard.

    Uses the database from --db / CRM_DB / ./crm.db; refuses to add demo
    data to a database that already has contacts."""
    from .errors import CRMError
    from .demo import generate
    from .reports import write_report
    from .store import redact

    crm = get_crm(migrate=False)
    crm.migrate()
    for plugin in crm.plugins:
        if not crm.is_enabled(plugin.name):
            crm.set_enabled(plugin.name, True)
    if crm.store.count("contacts"):
        raise CRMError(f"{redact(crm.location)} already has contacts; use another --db for the demo (or `crm report render dashboard`)")
    counts = generate(crm, n_contacts, 42, progress=sys.stderr.isatty())
    click.echo(f"Created demo CRM {redact(crm.location)}: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    path = write_report(crm, "dashboard", output, {}, False)
    click.echo(f"Dashboard written to {os.path.abspath(path)}")
    from .users import add_user, generate_password, has_admin

    if not has_admin(crm):  # so that `crm serve` lets someone in at once
        password = generate_password()
        add_user(crm, "admin@example.com", "admin", password, name="Admin")
        click.echo(f"Web login (crm serve): admin@example.com / {password}  (change it: crm users set-password admin@example.com)")

