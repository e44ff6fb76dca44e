"""``crm campaigns ...``: thin click commands over the library modules."""

import json

import click

from crmcore import get_crm, output_options, print_record, print_rows, progress

SMTP_HELP = "Where to send: smtp://user:pass@host:port (STARTTLS when offered), smtps://... (TLS), file://DIR (.eml files); default CRM_SMTP_URL."


@click.group()
def campaigns():
    """E-mail campaigns to a segment: personalised, sent once, measured against a control group."""


@campaigns.command("create")
@click.argument("name")
@click.option("--segment", required=True, help="The audience: a segment (rule-based or static list).")
@click.option("--subject", "subjects", multiple=True, required=True,
              help="Subject (Jinja2). Repeat for an A/B test: variants A, B, ... in order.")
@click.option("--share", "shares", multiple=True, metavar="PCT",
              help="Share of the audience per --subject, in order (e.g. --share 70%% --share 30%%); equal when left out.")
@click.option("--template", "template", required=True, type=click.Path(dir_okay=False),
              help="Plain-text body: a Jinja2 template file.")
@click.option("--html-template", type=click.Path(dir_okay=False), help="Optional HTML body: a Jinja2 template file (autoescaped).")
@click.option("--from", "from_addr", help="Sender, e.g. 'Shop <news@shop.example>' (default: the setting campaigns.from).")
@click.option("--holdout", "--control", "holdout", default="0%", show_default=True, metavar="PCT",
              help="Share of the audience held out as a control group (never sent to), e.g. 10%.")
def campaigns_create(name, segment, subjects, shares, template, html_template, from_addr, holdout):
    """Create a campaign (a draft until it is sent).

    Templates see the contact's fields (first_name, email, city, ...), custom
    attributes (custom.NAME), unsubscribe_url, rfm (segment, r, f, m when the
    segments plugin has scored RFM) and suggestions (products to offer, with
    the products plugin)."""
    from .campaigns import create_campaign, parse_percent, read_template

    crm = get_crm()
    text = read_template(template, "--template")
    html = read_template(html_template, "--html-template") if html_template else ""
    parsed = [parse_percent(s, "--share") for s in shares]
    cid = create_campaign(crm, name, segment, list(subjects), text, html, from_addr, parse_percent(holdout, "--holdout"), parsed)
    click.echo(f"Created campaign {cid} ({name}) for segment {segment!r}" +
               (f" with {len(subjects)} subject variants" if len(subjects) > 1 else ""))


@campaigns.command("list")
@output_options
def campaigns_list(fmt):
    """Campaigns with their status and outbox counts."""
    from .campaigns import LIST_FIELDS, list_campaigns

    print_rows(list_campaigns(get_crm()), LIST_FIELDS, fmt, ["id", "name", "segment", "status", "sent", "failed", "held_out", "started_at"])


@campaigns.command("show")
@click.argument("name")
@output_options
def campaigns_show(name, fmt):
    """A campaign: audience, sender, subject variants and templates."""
    from .campaigns import get_campaign, variant_names

    row = get_campaign(get_crm(), name)
    if fmt:
        print_record(row, "json") if fmt == "json" else print_rows([row], list(row), "csv")
        return
    variants = row.pop("variants")
    text, html = row.pop("text_template"), row.pop("html_template")
    print_record(row)
    click.echo("")
    print_rows([{"variant": n, **v} for n, v in zip(variant_names({"variants": variants}), variants)], ["variant", "share", "subject"])
    click.echo("\n--- text template ---\n" + text.rstrip("\n"))
    if html:
        click.echo("\n--- html template ---\n" + html.rstrip("\n"))


@campaigns.command("preview")
@click.argument("name")
@click.option("--contact", required=True, help="The contact (e-mail or id) to render the message for.")
@click.option("--variant", help="Subject variant (A, B, ...); default A.")
def campaigns_preview(name, contact, variant):
    """The message as it will be sent to one contact, headers included."""
    from .previews import preview

    click.echo(preview(get_crm(), name, contact, variant).decode("utf-8", "replace"), nl=False)


@campaigns.command("test")
@click.argument("name")
@click.option("--to", "to", required=True, help="Address to send the test message to.")
@click.option("--contact", help="Personalise for this contact (e-mail or id); default: the contact with the --to address, else a sample.")
@click.option("--smtp", "url", help=SMTP_HELP)
def campaigns_test(name, to, contact, url):
    """Send one test message (subject marked [test]); nothing is recorded."""
    from .previews import send_test

    sent_to = send_test(get_crm(), name, to, contact, url)
    click.echo(f"Sent a test of {name} to {sent_to}")


@campaigns.command("send")
@click.argument("name")
@click.option("--smtp", "url", help=SMTP_HELP)
@click.option("--rate", help="At most this many messages, e.g. 10/s, 600/m.")
@click.option("--dry-run", is_flag=True, help="Render every message and count the audience; send and write nothing.")
def campaigns_send(name, url, rate, dry_run):
    """Send a campaign; run it again to resume after an interruption.

    The first run freezes the audience (consent and suppression are checked
    then, and again right before each message); each message is marked sent
    once the server accepted it."""
    from .sending import dry_run as do_dry_run, parse_rate, send

    crm = get_crm()
    per_second = parse_rate(rate)
    if dry_run:
        result = do_dry_run(crm, name)
        excluded = ", ".join(f"{n} {why}" for why, n in sorted(result["excluded"].items())) or "none"
        click.echo(f"Dry run of {name}: would send {result['would_send']}, hold out {result['holdout']}; left out: {excluded}")
        for problem in result["problems"][:20]:
            click.echo(f"  cannot build: {problem}")
        if result["problems"]:
            raise click.ClickException(f"{len(result['problems'])} messages cannot be built")
        return
    from .campaigns import get_campaign

    campaign = get_campaign(crm, name)
    if campaign["status"] == "draft":  # the audience is frozen first: its size is the segment's at most
        todo = len(crm.segment_contact_ids(campaign["segment"]))
    else:
        todo = crm.store.query_value("SELECT count(*) FROM campaign_outbox WHERE campaign_id = ? AND status = 'queued'",
                                     (campaign["id"],))
    with progress(todo or 0, f"Sending {name}", None if todo else False) as bar:
        result = send(crm, name, url=url, rate=per_second, progress=bar.update)
    line = f"{name}: sent {result['sent']}, failed {result['failed']}, skipped {result['skipped']}"
    if result["frozen"]:
        line = f"Froze an audience of {result['frozen']}. " + line
    if result["remaining"]:
        line += f"; {result['remaining']} still queued (temporary failures): run the same command again"
    click.echo(line)


@campaigns.command("status")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def campaigns_status(name, as_json):
    """Sent, failed, skipped, queued and held-out counts, per subject variant."""
    from .results import STATUS_FIELDS, status

    result = status(get_crm(), name)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        return
    click.echo(f"{result['campaign']}: {result['status']}; sent {result['sent']}, failed {result['failed']}, "
               f"bounced {result['bounced']}, skipped {result['skipped']}, queued {result['queued']}, holdout {result['holdout']}")
    click.echo("")
    print_rows(result["variants"], STATUS_FIELDS)
    if result["failures"]:
        click.echo("\nFailures:")
        print_rows(result["failures"], ["email", "attempts", "error"])


@campaigns.command("results")
@click.argument("name")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3650), help="Days after the send to count orders in.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def campaigns_results(name, days, as_json):
    """Orders and revenue of the recipients within N days against the control group."""
    from .results import RESULT_FIELDS, results

    result = results(get_crm(), name, days)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        return
    if not result["since"]:
        click.echo(f"{name} has not been sent yet")
        return
    click.echo(f"{result['campaign']}: orders from {result['since']} until before {result['until']} ({days} days)")
    print_rows(result["groups"], RESULT_FIELDS)
    if result["uplift_per_recipient"] is not None:
        pct = f" ({result['uplift_pct']:+.1f}%)" if result["uplift_pct"] is not None else ""
        click.echo(f"\nRevenue per recipient {result['revenue_per_recipient']:.2f} vs per holdout member "
                   f"{result['revenue_per_holdout']:.2f}: uplift {result['uplift_per_recipient']:+.2f}{pct}")
    else:
        click.echo("\nNo control group (create the campaign with --holdout 10%) or no recipients: no uplift to measure.")
    if result["unsubscribed"]:
        click.echo(f"Unsubscribed since the send: {result['unsubscribed']}")


@campaigns.command("import-bounces")
@click.argument("path", type=click.Path())
@click.option("--suppress-after", default=1, show_default=True, type=click.IntRange(1, 100),
              help="Suppress an address after this many hard bounces (over all campaigns).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def campaigns_import_bounces(path, suppress_after, as_json):
    """Read bounce reports (DSNs) from an mbox file or a Maildir folder: hard
    bounces mark the recipient bounced, and suppress the address after N."""
    from .bounces import import_bounces

    result = import_bounces(get_crm(), path, suppress_after)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(f"Read {result['messages']} messages, {result['reports']} bounce reports: {result['hard']} hard bounces recorded "
               f"({result['already']} already known), {result['soft']} soft, {result['unmatched']} not from a campaign; "
               f"{len(result['suppressed'])} addresses suppressed")
