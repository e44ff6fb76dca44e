"""``crm rates``: exchange rates for converting orders to the base currency (crmcore/currency.py)."""

import click

from .cli import get_crm
from .output import output_options, print_rows


@click.group()
def rates():
    """Exchange rates: every revenue figure is converted to the base currency at the order date's rate."""


@rates.command("load")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--base", help="The currency the file's rates are against (1 BASE = rate CURRENCY); default: the base "
                             "currency, EUR for the ECB's file.")
def rates_load(file, base):
    """Load dated rates from FILE and convert the orders again.

    FILE is a CSV with the columns date,currency,rate (1 base = rate currency
    on that date; an optional base column), or the ECB's euro reference rates
    as published (eurofxref-hist.csv: Date,USD,JPY,...). Loading a file again
    replaces the rates it holds; all or nothing."""
    from .currency import load_rates

    done = load_rates(get_crm(), file, base)
    click.echo(f"Loaded {done['rates']} rates for {', '.join(done['currencies'])} from {done['first']} to {done['last']}")
    if done["without_rate"]:
        click.echo(f"{done['without_rate']} orders still have no rate on or before their date (crm rates list shows what is loaded)")


@rates.command("list")
@click.option("--currency", help="Only the rates of this currency (quoted or as base).")
@click.option("--limit", default=100, show_default=True, help="Show at most this many rates, newest first (0: all).")
@output_options
def rates_list(currency, limit, fmt):
    """The stored rates, newest first: 1 BASE = RATE CURRENCY on DAY."""
    from .currency import RATE_FIELDS, base_currency, list_rates

    crm = get_crm()
    rows = list_rates(crm, currency)
    if limit:
        rows = rows[:limit]
    if fmt is None:
        click.echo(f"Base currency: {base_currency(crm)}")
    print_rows(rows, RATE_FIELDS, fmt)
