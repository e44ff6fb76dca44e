"""`crm segments cohorts | clv | compare`: thin click commands over cohorts.py,
clv.py and compare.py, added to the `segments` group by ``register``."""

import click

from crmcore import get_crm, output_options, print_record, print_rows


def _date(value):
    from .segments import today_from

    return today_from(value)


@click.command("cohorts")
@click.option("--by", type=click.Choice(["month", "quarter"]), default="month", show_default=True, help="Cohort and period length.")
@click.option("--metric", type=click.Choice(["customers", "revenue"]), default="customers", show_default=True,
              help="What `rate` measures: customers still buying, or revenue against the first period's.")
@click.option("--segment", help="Only the members of this segment.")
@click.option("--as-of", help="Count orders up to this date (YYYY-MM-DD; default today).")
@click.option("--periods", "per_period", is_flag=True, help="One row per calendar period: retention and churn rates instead.")
@output_options
def cohorts_cmd(by, metric, segment, as_of, per_period, fmt):
    """Retention cohorts: customers grouped by the period of their first order,
    and for each later period how many still buy, the rate and the revenue.
    Over all customers, keeps the retention summary the dashboard shows."""
    from . import cohorts

    from crmcore import progress

    crm = get_crm()
    day = _date(as_of)
    with progress(1, "Counting cohorts") as bar:
        if per_period:
            rows = cohorts.periods(crm, by, segment, day)
        else:
            rows = cohorts.cohorts(crm, by, metric, segment, day)
        bar.update(1)
    if per_period:
        print_rows(rows, cohorts.PERIOD_FIELDS, fmt)
        return
    if not segment and metric == "customers":
        cohorts.save_summary(crm, by, day, rows)   # what the dashboard shows
    print_rows(rows, cohorts.COHORT_FIELDS, fmt)
    if fmt is None and any(r["partial"] for r in rows):
        click.echo(f"\npartial: the {by} of {day.isoformat()} is still running")


@click.command("clv")
@click.option("--as-of", required=True, help="Fit to the orders up to this date (YYYY-MM-DD).")
@click.option("--horizon-days", type=click.IntRange(min=1), default=365, show_default=True, help="Days ahead to value.")
@click.option("--discount-rate", type=float, default=0.0, show_default=True, help="Yearly discount rate (0.1 = 10%).")
@click.option("--params", "show_params", is_flag=True, help="Print the fitted model parameters instead of the customers.")
@click.option("--limit", default=0, help="Show at most N customers, highest value first (0 for all).")
@output_options
def clv_cmd(as_of, horizon_days, discount_rate, show_params, limit, fmt):
    """Customer lifetime value: BG/NBD for future purchases and P(alive),
    Gamma-Gamma for the average order value. Stores the scores for the
    segment fields clv, p_alive and expected_purchases (needs crmcore[clv])."""
    from crmcore import progress

    from . import clv

    crm = get_crm()
    with progress(clv.STEPS, "Fitting lifetime value") as bar:
        params, _ = clv.compute(crm, _date(as_of), horizon_days, discount_rate, progress=bar.update)
    if show_params:
        shown = {k: params[k] for k in clv.PARAM_NAMES} if fmt == "json" else params
        if fmt == "csv":
            print_rows([shown], list(shown), "csv")
        else:
            print_record(shown, fmt)
        return
    print_rows(clv.rows(crm, limit), clv.CLV_FIELDS, fmt)


@click.command("compare")
@click.argument("names", nargs=-1, required=True)
@click.option("--as-of", help="Count orders and deals up to this date (YYYY-MM-DD; default today).")
@output_options
def compare_cmd(names, as_of, fmt):
    """Compare segments or territories (NAME, or segment:NAME / territory:NAME)
    on customers, revenue, orders, average order value, margin, RFM mix, NPS,
    open pipeline, win rate, retention and lifetime value."""
    from . import compare

    from crmcore import progress

    with progress(len(names), "Comparing") as bar:
        rows = compare.compare(get_crm(), list(names), _date(as_of), progress=bar.update)
    if fmt:
        print_rows(rows, compare.COMPARE_FIELDS, fmt)
        return
    table, heads = compare.transposed(rows)
    print_rows(table, ["metric", *heads])


def register(group):
    """Add the analytics commands to the `segments` click group."""
    group.add_command(cohorts_cmd)
    group.add_command(clv_cmd)
    group.add_command(compare_cmd)
