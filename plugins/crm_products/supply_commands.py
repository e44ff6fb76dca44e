"""`crm products locations|suppliers|plan|po|history` and the stock
commands of just-in-time supply: thin click commands over locations,
suppliers, planning, purchasing and supply_report."""

import click

from crmcore import get_crm, output_options, print_record, print_rows

SIGNED = {"ignore_unknown_options": True}


def _pairs(items, what):
    """``SKU=QTY`` arguments -> ``[(sku, qty)]``."""
    out = []
    for item in items:
        sku, sep, qty = item.partition("=")
        if not sep or not sku.strip() or not qty.strip():
            raise click.UsageError(f"{what} {item!r} must look like SKU=QUANTITY")
        out.append((sku.strip(), qty.strip()))
    return out


# -- stock: count, negative, return, cancel ---------------------------------------------


@click.command("count", context_settings=SIGNED)
@click.argument("sku")
@click.argument("quantity")
@click.option("--location", default="main", show_default=True)
@click.option("--at", help="When it was counted: a date means the close of that day (its sales are counted); default now.")
def stock_count(sku, quantity, location, at):
    """Stocktake: QUANTITY on hand at LOCATION as of --at. Only sales after
    it move stock, so order history imported later does not drain it."""
    from .locations import count

    now = count(get_crm(), sku, quantity, location, at)
    click.echo(f"{sku} at {location}: counted {quantity}, {now:g} in stock now")


@click.command("counts")
@click.option("--sku", help="Only this product.")
@click.option("--location", help="Only this location.")
@output_options
def stock_counts(sku, location, fmt):
    """Stocktakes, newest first."""
    from .locations import stocktakes

    print_rows(stocktakes(get_crm(), sku, location), ["sku", "location", "at", "quantity", "user"], fmt)


@click.command("negative")
@click.option("--location", help="Only this location.")
@output_options
def stock_negative(location, fmt):
    """Locations below zero: sales recorded with nothing on the shelf, and
    the movement that took the stock under zero. Fix with a stocktake
    (count), a receipt or a transfer."""
    from .locations import NEGATIVE_FIELDS, negative

    print_rows(negative(get_crm(), location), NEGATIVE_FIELDS, fmt)


@click.command("return", context_settings=SIGNED)
@click.argument("sku")
@click.argument("quantity")
@click.option("--location", default="main", show_default=True)
@click.option("--ref", default="", help="The order or return number.")
@click.option("--reason", default="")
@click.option("--at", help="When (default: now).")
def stock_return(sku, quantity, location, ref, reason, at):
    """Goods a customer brought back go back into stock."""
    from .locations import return_stock

    now = return_stock(get_crm(), sku, quantity, location, ref, reason, at)
    click.echo(f"{sku} at {location}: {now:g} in stock")


@click.command("cancel")
@click.argument("order")
@click.option("--reason", default="")
def stock_cancel(order, reason):
    """Cancel the sales order ORDER (its ref): its lines give their stock back."""
    from .locations import cancel_order

    written = cancel_order(get_crm(), order, reason)
    click.echo(f"Order {order} cancelled: {written} movements put stock back")


# -- locations -----------------------------------------------------------------


@click.group("locations")
def locations():
    """Stock locations and which sales channel takes stock from which."""


@locations.command("map")
@click.argument("channel")
@click.argument("location")
def locations_map(channel, location):
    """Sales of orders in CHANNEL (e.g. store, web) take stock from LOCATION.
    Applies to sales booked from now on."""
    from .locations import map_channel

    map_channel(get_crm(), channel, location)
    click.echo(f"Sales in {channel} take stock from {location}")


@locations.command("unmap")
@click.argument("channel")
def locations_unmap(channel):
    """Sales in CHANNEL go back to the default location."""
    from .locations import unmap_channel

    unmap_channel(get_crm(), channel)
    click.echo(f"Sales in {channel} take stock from the default location")


@locations.command("list")
@output_options
def locations_list(fmt):
    """Every location with its channels, the products it holds and its units."""
    from .locations import LOCATION_FIELDS, list_locations
    from .stock import sale_location

    crm = get_crm()
    rows = list_locations(crm)
    print_rows(rows, LOCATION_FIELDS, fmt)
    if fmt is None:
        click.echo(f"\nOther channels sell from {sale_location(crm)} (setting products.sale_location).")


# -- suppliers --------------------------------------------------------------------------


@click.group("suppliers")
def suppliers():
    """Suppliers, and their cost, pack size, minimum order and lead time per SKU."""


@suppliers.command("add")
@click.argument("name")
@click.option("--email")
@click.option("--phone")
@click.option("--currency")
@click.option("--lead-time", "lead_time_days", help="Usual days from order to delivery (default 7).")
@click.option("--ordering-cost", help="Fixed cost of placing one order (for the EOQ).")
@click.option("--notes")
@click.option("--sku", help="Also set this SKU's terms with this supplier:")
@click.option("--cost", help="  unit cost from this supplier")
@click.option("--pack-size", help="  orders are whole packs of this many units")
@click.option("--moq", "min_order", help="  minimum order quantity in units")
@click.option("--sku-lead-time", help="  lead time in days for this SKU")
@click.option("--supplier-sku", help="  the supplier's own article number")
@click.option("--preferred/--not-preferred", default=None, help="  the SKU's preferred supplier (the first one is)")
def suppliers_add(name, email, phone, currency, lead_time_days, ordering_cost, notes, sku, cost, pack_size, min_order,
                  sku_lead_time, supplier_sku, preferred):
    """Add a supplier (or change one), and with --sku its terms for a product:
    `crm products suppliers add Nordwerk --lead-time 10 --sku GRD-001 --cost 7.1 --pack-size 12 --moq 24`."""
    from .suppliers import add_supplier, set_terms

    crm = get_crm()
    term_opts = (cost, pack_size, min_order, sku_lead_time, supplier_sku, preferred)
    if not sku and any(v is not None for v in term_opts):
        raise click.UsageError("--cost, --pack-size, --moq, --sku-lead-time, --supplier-sku and --preferred need --sku")
    with crm.store.transaction():
        _, created = add_supplier(crm, {"name": name, "email": email, "phone": phone, "currency": currency,
                                        "lead_time_days": lead_time_days, "ordering_cost": ordering_cost, "notes": notes})
        if sku:
            set_terms(crm, name, sku, cost=cost, pack_size=pack_size, min_order=min_order, lead_time_days=sku_lead_time,
                      supplier_sku=supplier_sku, preferred=preferred)
    click.echo(f"{'Added' if created else 'Updated'} supplier {name}" + (f" with terms for {sku}" if sku else ""))


@suppliers.command("list")
@output_options
def suppliers_list(fmt):
    """Suppliers with their lead time and how many SKUs they supply."""
    from .suppliers import SUPPLIER_FIELDS, list_suppliers

    print_rows(list_suppliers(get_crm()), SUPPLIER_FIELDS, fmt)


@suppliers.command("show")
@click.argument("name")
@output_options
def suppliers_show(name, fmt):
    """One supplier: contact, terms per SKU and recent purchase orders."""
    from .suppliers import TERMS_FIELDS, show_supplier

    sup = show_supplier(get_crm(), name)
    if fmt == "json":
        print_record(sup, "json")
        return
    products, orders = sup.pop("products"), sup.pop("purchase_orders")
    print_record(sup)
    click.echo("\nproducts:")
    print_rows(products, TERMS_FIELDS)
    click.echo("\npurchase orders:")
    print_rows(orders, ["ref", "status", "location", "ordered_at", "expected_at", "received_at"])


@suppliers.command("terms")
@click.option("--supplier", help="Only this supplier.")
@click.option("--sku", help="Only this product.")
@output_options
def suppliers_terms(supplier, sku, fmt):
    """Every supplier's cost, pack size, minimum order and lead time per SKU."""
    from .suppliers import TERMS_FIELDS, terms

    print_rows(terms(get_crm(), supplier, sku), TERMS_FIELDS, fmt)


# -- plan ---------------------------------------------------------------------------------


def plan_options(fn):
    for opt in reversed([
        click.option("--location", help="Only what to send to this location (po create: where the goods go, default main)."),
        click.option("--service-level", "service", help="Chance of not running out during a lead time (default 95%)."),
        click.option("--window", default=90, show_default=True, type=click.IntRange(2, 3650), help="Days of sales to measure demand on."),
        click.option("--holding-cost", "holding_rate", help="Yearly cost of holding stock, share of its cost (e.g. 25%): with --ordering-cost gives the EOQ."),
        click.option("--ordering-cost", help="Cost of placing one order (a supplier's own wins)."),
        click.option("--cover-days", help="Without costs: days of demand one order covers (default 30)."),
        click.option("--as-of", help="Plan as on this date (default today)."),
    ]):
        fn = opt(fn)
    return fn


def _plan(location, service, window, holding_rate, ordering_cost, cover_days, as_of):
    import datetime as dt

    from crmcore import CRMError

    from .planning import plan

    day = None
    if as_of:
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            raise CRMError(f"invalid --as-of {as_of!r}: give a date as YYYY-MM-DD") from None
    crm = get_crm()
    return crm, plan(crm, location, service=service, window=window, as_of=day, holding_rate=holding_rate,
                     ordering_cost=ordering_cost, cover_days=cover_days)


@click.command("plan")
@plan_options
@output_options
def plan_cmd(fmt, **options):
    """What to order from which supplier, and which transfers between
    locations fix a shortage first. Per SKU and location: demand over the
    window, safety stock for the service level (z x sigma x sqrt(lead time)),
    reorder point, order-up-to level and, when costs are set, the EOQ."""
    from .planning import PLAN_FIELDS

    _, rows = _plan(**options)
    table = ["action", "sku", "location", "from_location", "supplier", "quantity", "on_hand", "on_order", "daily_demand",
             "reorder_point", "order_up_to"]
    print_rows(rows, PLAN_FIELDS, fmt, table)


# -- purchase orders -----------------------------------------------------------------------


@click.group("po")
def po():
    """Purchase orders: create (by hand or --from-plan), send, receive.

    `send` writes the supplier's PO files (CSV and printable HTML) and marks
    the order sent; it does not e-mail them (not supported yet): attach the
    files yourself."""


@po.command("create")
@click.argument("lines", nargs=-1)
@click.option("--supplier", help="Supplier name (not with --from-plan).")
@click.option("--from-plan", is_flag=True, help="Draft one order per supplier and location from `crm products plan`.")
@plan_options
def po_create(lines, supplier, from_plan, **options):
    """Draft purchase orders: `crm products po create --supplier Nordwerk GRD-001=24 GRD-002=12`
    (rounded up to the supplier's minimum order and packs), or `--from-plan`."""
    from .purchasing import create, create_from_plan

    if from_plan:
        if lines or supplier:
            raise click.UsageError("--from-plan takes no SKU=QUANTITY lines and no --supplier")
        crm, rows = _plan(**options)
        refs, unsourced = create_from_plan(crm, rows)
        for ref in refs:
            click.echo(f"Drafted {ref}")
        if not refs:
            click.echo("Nothing to buy: the plan has no purchases")
        for r in unsourced:
            click.echo(f"warning: {r['sku']} at {r['location']}: {r['quantity']:g} needed but no supplier "
                       f"(crm products suppliers add NAME --sku {r['sku']} ...)", err=True)
        return
    if not supplier:
        raise click.UsageError("give --supplier and SKU=QUANTITY lines, or --from-plan")
    ref = create(get_crm(), supplier, _pairs(lines, "line"), options["location"] or "main")
    click.echo(f"Drafted {ref}")


@po.command("list")
@click.option("--status", type=click.Choice(["draft", "sent", "partial", "received", "cancelled"]))
@click.option("--supplier", help="Only this supplier.")
@output_options
def po_list(status, supplier, fmt):
    """Purchase orders with units ordered and received."""
    from .purchasing import PO_FIELDS, list_pos

    print_rows(list_pos(get_crm(), status, supplier), PO_FIELDS, fmt)


@po.command("show")
@click.argument("ref")
@output_options
def po_show(ref, fmt):
    """One purchase order with its lines."""
    from .purchasing import PO_LINE_FIELDS, show_po

    order = show_po(get_crm(), ref)
    if fmt == "json":
        print_record(order, "json")
        return
    lines = order.pop("lines")
    print_record({k: v for k, v in order.items() if k not in ("id", "supplier_id")})
    click.echo("")
    print_rows(lines, PO_LINE_FIELDS)


@po.command("send")
@click.argument("ref")
@click.option("-o", "--output-dir", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the PO files.")
def po_send(ref, output_dir):
    """Write the supplier's PO files (REF-supplier.csv and .html, printable)
    and mark the order sent, with its promised delivery date. E-mailing them
    is not supported yet: send the files yourself."""
    from .purchasing import send

    for path in send(get_crm(), ref, output_dir):
        click.echo(path)


@po.command("receive")
@click.argument("ref")
@click.argument("lines", nargs=-1)
@click.option("--at", help="When the goods arrived (default now).")
def po_receive(ref, lines, at):
    """Book delivered goods into stock: everything still open, or only
    SKU=QUANTITY lines (a partial delivery)."""
    from .purchasing import receive

    status = receive(get_crm(), ref, dict(_pairs(lines, "line")) if lines else None, at)
    click.echo(f"{ref}: {status}")


@po.command("cancel")
@click.argument("ref")
def po_cancel(ref):
    """Cancel a purchase order that has not been fully received."""
    from .purchasing import cancel

    cancel(get_crm(), ref)
    click.echo(f"{ref}: cancelled")


# -- history -----------------------------------------------------------------------------


@click.command("history")
@click.argument("sku")
@output_options
def history_cmd(sku, fmt):
    """A product's changes from the audit trail: price, version, specs, who and when."""
    from .supply_report import HISTORY_FIELDS, history

    print_rows(history(get_crm(), sku), HISTORY_FIELDS, fmt)


def add_supply_commands(products, stock):
    for cmd in (stock_count, stock_counts, stock_negative, stock_return, stock_cancel):
        stock.add_command(cmd)
    for cmd in (locations, suppliers, plan_cmd, po, history_cmd):
        products.add_command(cmd)
