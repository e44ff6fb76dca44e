"""`crm segments ...`: thin click commands over the library modules."""

import sys

import click

from crmcore import get_crm, output_options, print_record, print_rows

AS_OF_HELP = "Evaluate as of this date (YYYY-MM-DD; default today)."


def _as_of(value):
    from .segments import today_from

    return today_from(value)


@click.group()
def segments():
    """Customer segments: rules, static lists, RFM, territories and targets."""


@segments.command("list")
@output_options
def list_cmd(fmt):
    """Every segment with its kind, rule and size at the last refresh."""
    from .segments import SEGMENT_FIELDS, list_segments

    print_rows(list_segments(get_crm()), SEGMENT_FIELDS, fmt, ["name", "kind", "size", "refreshed_at", "rule"])


@segments.command("fields")
@output_options
def fields_cmd(fmt):
    """Fields a rule can use, with their types."""
    from .fields import describe

    print_rows(describe(get_crm()), ["name", "type", "plugin", "description"], fmt)


@segments.command("create")
@click.argument("name")
@click.option("--rule", help='Rule of a dynamic segment, e.g. \'country in ("DE", "AT") and total_spent > 500\'.')
@click.option("--static", is_flag=True, help="A hand-kept list (add people with add-members).")
@click.option("--description", default="", help="What the segment is for.")
@click.option("--refresh/--no-refresh", default=True, show_default=True, help="Materialise the membership right away.")
def create_cmd(name, rule, static, description, refresh):
    """Create a dynamic segment from a rule, or a static list."""
    from .segments import create_segment, refresh as do_refresh

    crm = get_crm()
    create_segment(crm, name, rule, description, static)
    if refresh and not static:
        result = do_refresh(crm, [name])[0]
        click.echo(f"Created segment {name}: {result['size']:,} members")
    else:
        click.echo(f"Created segment {name}")


@segments.command("edit")
@click.argument("name")
@click.option("--rule", help="New rule.")
@click.option("--description", help="New description.")
@click.option("--rename", "new_name", help="New name.")
def edit_cmd(name, rule, description, new_name):
    """Change a segment's rule, description or name (refresh to apply a new rule)."""
    from .segments import edit_segment

    edit_segment(get_crm(), name, rule, description, new_name)
    click.echo(f"Updated segment {new_name or name}")


@segments.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_cmd(name, yes):
    """Delete a segment with its membership history and targets (asks first)."""
    from .segments import delete_segment, require_segment

    crm = get_crm()
    if not yes:
        require_segment(crm, name)  # a typo fails before the question
        click.confirm(f"Delete segment {name!r} with its membership history and targets?", abort=True)
    delete_segment(crm, name)
    click.echo(f"Deleted segment {name}")


@segments.command("check")
@click.argument("rule")
@click.option("--sql", "show_sql", is_flag=True, help="Also print the SQL and its bound parameters.")
@click.option("--as-of", help=AS_OF_HELP)
def check_cmd(rule, show_sql, as_of):
    """Check a rule and count the contacts it matches, without saving it."""
    from .segments import compile_segment_rule, database_refusal

    crm = get_crm()
    sql, params = compile_segment_rule(crm, rule, _as_of(as_of))
    with database_refusal(crm.store, "rule"):
        count = crm.store.query_value(f"SELECT count(*) FROM ({sql}) AS matched", params)
    click.echo(f"{count:,} contacts match")
    if show_sql:
        click.echo(sql)
        click.echo(f"parameters: {params!r}")


@segments.command("refresh")
@click.argument("names", nargs=-1)
@click.option("--as-of", help=AS_OF_HELP)
@output_options
def refresh_cmd(names, as_of, fmt):
    """Materialise membership of NAME (default: every dynamic segment), recording who entered and left."""
    from crmcore import progress

    from .segments import DisabledField, refresh, refresh_order

    crm = get_crm()
    today = _as_of(as_of)
    order = refresh_order(crm, names)
    results, skipped = [], []
    with progress(len(order), "Refreshing segments", sys.stderr.isatty() and len(order) > 1) as bar:
        for segment in order:
            try:
                results.extend(refresh(crm, [segment["name"]], today))
            except DisabledField as exc:
                if names:  # asked for by name: an error
                    raise
                skipped.append(str(exc))  # refreshing all: the others go on
            bar.update(1)
    print_rows(results, ["segment", "size", "entered", "left", "at"], fmt)
    for line in skipped:
        click.echo(f"Skipped: {line}", err=True)


@segments.command("members")
@click.argument("name")
@click.option("--limit", default=0, help="Show at most N members (0 for all).")
@output_options
def members_cmd(name, limit, fmt):
    """Members of a segment."""
    from .segments import members

    rows = members(get_crm(), name, limit)
    print_rows(rows, ["id", "first_name", "last_name", "email", "country", "city", "owner", "since"], fmt)


@segments.command("show")
@click.argument("name")
@click.option("--as-of", help=AS_OF_HELP)
@output_options
def show_cmd(name, as_of, fmt):
    """Size, rule, last refresh and who entered/left then (and would now)."""
    from .segments import show

    info = show(get_crm(), name, _as_of(as_of))
    if fmt == "csv":
        print_rows([info], list(info), "csv")
    else:
        print_record(info, fmt)


@segments.command("history")
@click.argument("name")
@click.option("--limit", default=0, help="Show at most N events (0 for all).")
@click.option("--refreshes", is_flag=True, help="One line per refresh (size, entered, left) instead of per contact.")
@output_options
def history_cmd(name, limit, refreshes, fmt):
    """Who entered and left the segment, and when (newest first)."""
    from . import segments as lib

    crm = get_crm()
    if refreshes:
        print_rows(lib.refreshes(crm, name), ["at", "size", "entered", "left"], fmt)
    else:
        print_rows(lib.history(crm, name, limit), ["at", "change", "contact_id", "email", "name"], fmt)


def _member_refs(contacts, file):
    from .segments import emails_from_file

    refs = [(None, c) for c in contacts]
    if file:
        refs.extend(emails_from_file(file))
    if not refs:
        raise click.UsageError("give contacts (ids or e-mails) or --file")
    return refs


@segments.command("add-members")
@click.argument("name")
@click.argument("contacts", nargs=-1)
@click.option("--file", type=click.Path(dir_okay=False), help="CSV/JSON file with an e-mail column.")
def add_members_cmd(name, contacts, file):
    """Add contacts (ids or e-mails, or a file of e-mails) to a static segment; all or nothing."""
    from .segments import add_members

    result = add_members(get_crm(), name, _member_refs(contacts, file))
    click.echo(f"{name}: {result['entered']} added, {result['size']:,} members")


@segments.command("remove-members")
@click.argument("name")
@click.argument("contacts", nargs=-1)
@click.option("--file", type=click.Path(dir_okay=False), help="CSV/JSON file with an e-mail column.")
def remove_members_cmd(name, contacts, file):
    """Remove contacts from a static segment."""
    from .segments import add_members

    result = add_members(get_crm(), name, _member_refs(contacts, file), remove=True)
    click.echo(f"{name}: {result['left']} removed, {result['size']:,} members")


@segments.command("dump")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File to write (default or -: print).")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), help="Default: from the file name, else YAML.")
@click.option("--no-members", is_flag=True, help="Leave out the e-mails of static segments.")
def dump_cmd(output, fmt, no_members):
    """Write segment definitions as YAML or JSON (to keep them in git)."""
    import json

    from crmcore import atomic_write

    from .segments import dump

    output = None if output == "-" else output  # -o -: standard output, the default
    data = dump(get_crm(), not no_members)
    fmt = fmt or ("json" if output and output.lower().endswith(".json") else "yaml")
    if fmt == "json":
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    else:
        import yaml

        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)
    if not output:
        click.echo(text, nl=False)
        return
    # Static segments' members are e-mails: a private file, written atomically.
    with atomic_write(output, "segments file") as f:
        f.write(text)
    click.echo(f"Wrote {len(data['segments'])} segments to {output}", err=output == "-")


@segments.command("load")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--refresh/--no-refresh", default=True, show_default=True, help="Refresh dynamic segments afterwards.")
def load_cmd(file, refresh):
    """Create or update segments from a YAML or JSON file (all or nothing)."""
    from .segments import load, refresh as do_refresh

    crm = get_crm()
    result = load(crm, file)
    click.echo(f"{file}: {result['created']} created, {result['updated']} updated")
    if refresh:
        do_refresh(crm)


# -- RFM --------------------------------------------------------------------------


@segments.command("rfm")
@click.option("--as-of", help="Score recency as of this date (default today); later orders are ignored.")
@click.option("--customers", is_flag=True, help="List scored customers instead of the named-segment summary.")
@click.option("--segment", "only", help="With --customers: only this named RFM segment.")
@click.option("--limit", default=0, help="With --customers: at most N rows (0 for all).")
@output_options
def rfm_cmd(as_of, customers, only, limit, fmt):
    """Score every customer with orders on recency, frequency and monetary
    value (1-5 by quintile) and assign named segments."""
    from . import rfm

    from crmcore import progress

    crm = get_crm()
    with progress(rfm.STEPS, "Scoring customers") as bar:
        n = rfm.score(crm, _as_of(as_of), bar.update)
    if customers:
        print_rows(rfm.rows(crm, only, limit), rfm.RFM_FIELDS, fmt)
        return
    if fmt is None:
        click.echo(f"Scored {n:,} customers as of {_as_of(as_of).isoformat()}")
    print_rows(rfm.summary(crm), ["segment", "customers", "share", "revenue"], fmt)


@segments.command("rfm-table")
@click.option("--load", "path", type=click.Path(dir_okay=False), help="YAML/JSON list of [name, r_min, r_max, fm_min, fm_max].")
@click.option("--reset", is_flag=True, help="Go back to the default table.")
@output_options
def rfm_table_cmd(path, reset, fmt):
    """Show or change the table that names RFM segments (first match wins;
    FM is the mean of the F and M scores rounded half up). Run `crm segments rfm` afterwards."""
    from . import rfm

    crm = get_crm()
    if reset:
        crm.set_setting(rfm.SETTING, rfm.DEFAULT_TABLE)
    elif path:
        from .segments import read_data

        data = read_data(path)
        crm.set_setting(rfm.SETTING, [list(r) for r in rfm.check_table(data, path)])
    rows = [dict(zip(["name", "r_min", "r_max", "fm_min", "fm_max"], r)) for r in rfm.named_table(crm)]
    print_rows(rows, ["name", "r_min", "r_max", "fm_min", "fm_max"], fmt)


# -- territories ---------------------------------------------------------------------


@segments.group("territories")
def territories_group():
    """Geographic areas (countries, regions, postal-code prefixes) with an owner."""


@territories_group.command("add")
@click.argument("name")
@click.option("--owner", default="", help="Sales rep who owns the territory.")
@click.option("--country", "countries", multiple=True, required=True, help="Country code or name (repeatable).")
@click.option("--region", "regions", multiple=True, help="Region/state (repeatable).")
@click.option("--postal-prefix", "prefixes", multiple=True, help="Postal-code prefix, e.g. 80 (repeatable).")
@click.option("--replace", is_flag=True, help="Redefine an existing territory.")
def territories_add(name, owner, countries, regions, prefixes, replace):
    """Define a territory."""
    from . import territories

    territories.add(get_crm(), name, owner, countries, regions, prefixes, replace)
    click.echo(f"Territory {name} saved")


@territories_group.command("list")
@output_options
def territories_list(fmt):
    """Territories with their contact counts."""
    from . import territories

    print_rows(territories.list_with_counts(get_crm()), territories.TERRITORY_FIELDS, fmt)


@territories_group.command("remove")
@click.argument("name")
def territories_remove(name):
    """Delete a territory (and its targets); contacts keep their owners."""
    from . import territories

    territories.remove(get_crm(), name)
    click.echo(f"Removed territory {name}")


@territories_group.command("assign")
@click.option("--dry-run", is_flag=True, help="Count the changes, write nothing.")
@output_options
def territories_assign(dry_run, fmt):
    """Set contact owners from their territory's owner."""
    from . import territories

    changes = territories.assign(get_crm(), dry_run)
    rows = [{"territory": k, "contacts": v} for k, v in sorted(changes.items())]
    if fmt:
        print_rows(rows, ["territory", "contacts"], fmt)
        return
    total = sum(changes.values())
    click.echo(f"{total:,} contacts {'would get' if dry_run else 'got'} a new owner")
    if rows:
        print_rows(rows, ["territory", "contacts"])


# -- targets -------------------------------------------------------------------------


@segments.group("targets")
def targets_group():
    """Sales targets per segment or territory and period."""


def _scope(segment, territory):
    if bool(segment) == bool(territory):
        raise click.UsageError("give exactly one of --segment or --territory")
    return ("segment", segment) if segment else ("territory", territory)


@targets_group.command("set")
@click.option("--segment", help="Segment name.")
@click.option("--territory", help="Territory name.")
@click.option("--period", required=True, help="2026, 2026-Q2 or 2026-05.")
@click.option("--revenue", type=float, help="Revenue target.")
@click.option("--units", type=float, help="Units target (order-line quantities).")
def targets_set(segment, territory, period, revenue, units):
    """Set (or replace) a target."""
    from . import targets

    scope, name = _scope(segment, territory)
    targets.set_target(get_crm(), scope, name, period, revenue, units)
    click.echo(f"Target set for {scope} {name}, {period}")


@targets_group.command("show")
@click.option("--period", help="Only this period.")
@click.option("--segment", help="Only this segment.")
@click.option("--territory", help="Only this territory.")
@click.option("--as-of", help="Count orders up to this date (default today).")
@output_options
def targets_show(period, segment, territory, as_of, fmt):
    """Target, actual from orders, gap, attainment and run-rate forecast."""
    from . import targets

    rows = targets.show(get_crm(), period, segment or territory, _as_of(as_of))
    if territory or segment:
        rows = [r for r in rows if r["scope"] == ("segment" if segment else "territory")]
    print_rows(rows, targets.TARGET_FIELDS, fmt, ["scope", "name", "period", "metric", "target", "actual", "gap", "attainment", "forecast"])


@segments.command("pipeline")
@click.argument("name", required=False)
@click.option("--territory", help="The pipeline of a territory's contacts instead of a segment's.")
@click.option("--period", help="Period for won/lost (default: the current quarter).")
@click.option("--as-of", help=AS_OF_HELP)
@output_options
def pipeline_cmd(name, territory, period, as_of, fmt):
    """Open deals of the segment's (or --territory's) contacts by stage, and won/lost in the period."""
    from crmcore import CRMError

    from . import targets

    crm = get_crm()
    p = None
    if period:
        try:
            p = targets.parse_period(period)
        except ValueError as exc:
            raise CRMError(f"--period: {exc}") from None
    if bool(name) == bool(territory):
        raise click.UsageError("give a segment NAME or --territory NAME")
    if territory:
        from . import territories

        ids = territories.contact_ids(crm, territory)
    else:
        ids = crm.segment_contact_ids(name)
    result = targets.pipeline(crm, ids, p, _as_of(as_of))
    if fmt == "json":
        print_record(result, "json")
        return
    print_rows(result["stages"], ["stage", "probability", "deals", "amount", "weighted"], fmt)
    if fmt is None:
        click.echo(f"\nopen {result['open_amount']:,.2f} (weighted {result['open_weighted']:,.2f}); "
                   f"{result['period']}: won {result['won']['deals']} ({result['won']['amount']:,.2f}), "
                   f"lost {result['lost']['deals']} ({result['lost']['amount']:,.2f})")


# -- cohorts, lifetime value, comparison (analytics_cli.py) -----------------------------

from .analytics_cli import register as _register_analytics  # noqa: E402 - after the group exists

_register_analytics(segments)
