"""`crm import-profiles`: the export formats the importer recognises."""

import click

from .cli import get_crm
from .output import output_options, print_rows

PROFILE_FIELDS = ["name", "kind", "system", "description", "signature", "date_format", "source", "plugin"]


@click.command("import-profiles")
@output_options
def import_profiles_command(fmt):
    """Export formats the importer recognises from their headers (--profile NAME forces one)."""
    from .import_profiles import registered

    rows = [p.as_dict() for p in sorted(registered(get_crm()).values(), key=lambda p: (p.kind, p.name))]
    print_rows(rows, PROFILE_FIELDS, fmt, ["name", "kind", "system", "description"])
