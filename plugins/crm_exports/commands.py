"""``crm export FORMAT ...``, ``crm export formats``, ``crm export log`` and
``crm contacts where-sent``: thin commands over ``exporter``."""

import json

import click

from crmcore import crm_for_listing, get_crm, output_options, print_rows


def _formats(ctx):
    """Export formats of the command's database (its disabled plugins left
    out); without a database, those of every installed plugin, so that help
    never creates a database."""
    return crm_for_listing().registry.export_formats


class ExportGroup(click.Group):
    """``crm export NAME`` resolves NAME to a registered export format, so a
    format added by any plugin is a command with the same options."""

    def list_commands(self, ctx):
        return sorted(set(self.commands) | set(_formats(ctx)))

    def get_command(self, ctx, name):
        if name in self.commands:
            return self.commands[name]
        found = _formats(ctx).get(name)
        if found is None:
            return None
        return format_command(found)

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            known = ", ".join(sorted(_formats(ctx))) or "none"
            raise click.UsageError(f"unknown export format {name!r} (formats: {known}; see crm export formats)")
        return super().resolve_command(ctx, args)


def format_command(found):
    """The click command for one export format."""

    def run(segment, everyone, output, include_unconsented, dry_run, as_json, **options):
        import contextlib

        from crmcore import progress

        from .exporter import export

        if not output and not dry_run:
            raise click.UsageError("give the file to write with -o FILE")
        crm = get_crm()
        with contextlib.ExitStack() as stack:
            # A bar on a terminal once the audience size is known; silent otherwise.
            def start(total):
                return stack.enter_context(progress(total, f"Exporting {found.name}")).update

            result = export(crm, found.name, output or "", segment=segment, everyone=everyone,
                            include_unconsented=include_unconsented, dry_run=dry_run, options=options, progress=start,
                            label="standard output" if output == "-" else None)
        # With -o - the audience goes to standard output; the summary to standard error.
        click.echo(json.dumps(result.as_dict()) if as_json else result.summary(), err=output == "-")

    params = [
        click.Option(["--segment"], metavar="NAME", help="Export the contacts of this segment."),
        click.Option(["--all", "everyone"], is_flag=True, help="Export every contact (consent rules still apply)."),
        click.Option(["-o", "--output"], type=click.Path(dir_okay=False), metavar="FILE", help="File to write (replaced atomically; - for standard output)."),
        click.Option(["--include-unconsented"], is_flag=True,
                     help="Also export contacts without marketing consent (suppressed addresses never are)."),
        click.Option(["--dry-run"], is_flag=True, help="Count who would be exported and left out; write nothing."),
        click.Option(["--json", "as_json"], is_flag=True, help="Print the result as JSON."),
        *getattr(found.writer, "click_options", []),
    ]
    return click.Command(found.name, params=params, callback=run,
                         help=f"{found.description}.\n\nOnly contacts with marketing consent and not on the suppression list are written; the summary says how many were left out and why. Every export is logged (crm export log).",
                         short_help=found.description)


@click.group(cls=ExportGroup)
def export():
    """Marketing audiences: `crm export FORMAT --segment NAME -o FILE`.

    FORMAT is any name listed by `crm export formats` (mailchimp, hubspot,
    google-customer-match, meta-custom-audience, vcard, csv, json, and those
    of other plugins). `crm contacts export` is the full backup instead."""


@export.command("formats")
@output_options
def export_formats(fmt):
    """Every export format, including those added by other plugins."""
    from .exporter import list_formats

    print_rows(list_formats(get_crm()), ["name", "plugin", "description"], fmt)


@export.command("log")
@click.argument("export_id", required=False, type=int)
@click.option("--limit", default=100, show_default=True, help="Show at most N exports (0 for all).")
@output_options
def export_log_command(export_id, limit, fmt):
    """Logged exports, newest first: format, segment, time, rows, file checksum.

    With EXPORT_ID: the contacts that export included."""
    from .exporter import LOG_FIELDS, export_contacts, export_log

    crm = get_crm()
    if export_id is not None:
        print_rows(export_contacts(crm, export_id), ["contact_id", "erased"], fmt)
        return
    rows = export_log(crm, limit)
    print_rows(rows, LOG_FIELDS + ["options"], fmt, ["id", "exported_at", "format", "segment", "row_count", "path", "sha256"])


@click.command("where-sent")
@click.argument("contact")
@output_options
def where_sent(contact, fmt):
    """Exports that included CONTACT (id or e-mail), also after an erasure."""
    from crmcore import CRMError

    from .exporter import WHERE_SENT_FIELDS, where_sent as find

    crm = get_crm()
    if "export_log" not in crm.registry.record_types:  # the exports plugin is disabled here
        raise CRMError("where-sent needs the exports plugin: crm plugins enable exports")
    print_rows(find(crm, contact), WHERE_SENT_FIELDS, fmt)
