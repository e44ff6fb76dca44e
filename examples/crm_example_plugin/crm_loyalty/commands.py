"""``crm loyalty ...``: thin click commands over ``points``."""

import click

from crmcore.cli import get_crm
from crmcore.output import output_options, print_rows


@click.group()
def loyalty():
    """Loyalty points earned on orders (example plugin)."""


@loyalty.command("award", context_settings={"ignore_unknown_options": True})  # lets POINTS be negative
@click.argument("contact")
@click.argument("points", type=int)
@click.option("--reason", default="manual", show_default=True)
def award_cmd(contact, points, reason):
    """Give POINTS to CONTACT (id or e-mail); negative POINTS redeem."""
    from .points import award

    click.echo(f"Balance: {award(get_crm(), contact, points, reason)}")


@loyalty.command("balance")
@click.option("--limit", default=20, show_default=True)
@output_options
def balance_cmd(limit, fmt):
    """Members with the most points."""
    from .points import balances

    print_rows(balances(get_crm(), limit), ["contact_id", "email", "name", "points"], fmt)
