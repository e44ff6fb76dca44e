"""`crm products ...`: thin click commands over catalogue, stock and analytics."""

import click

from crmcore import custom_from, get_crm, given, output_options, print_record, print_rows

PRODUCT_OPTION_SKIP = {"id", "sku", "custom", "created_at", "updated_at"}
# Stock quantities may be written as -3: let click pass them through as arguments,
# so a negative receipt gets our one-line error instead of "no such option".
SIGNED = {"ignore_unknown_options": True}


def product_options(fn):
    """``--name``, ``--price``, ... one option per Product field, plus ``--set KEY=VALUE``."""
    from .records import Product
    from crmcore import field_kind, fields

    for f in reversed(fields(Product)):
        if f.name in PRODUCT_OPTION_SKIP:
            continue
        opt = f.name.replace("_", "-")
        help_text = f.metadata.get("description") or None
        if field_kind(f) is bool:
            fn = click.option(f"--{opt}/--no-{opt}", f.name, default=None, help=help_text)(fn)
        else:
            fn = click.option(f"--{opt}", f.name, help=help_text)(fn)
    return click.option("--set", "extra", multiple=True, metavar="KEY=VALUE", help="Set a custom attribute (repeatable).")(fn)


@click.group()
def products():
    """Product catalogue, stock ledger per location, suppliers, planning, purchase orders, sales and cross-selling."""


@products.command("add")
@click.argument("sku")
@product_options
def products_add(sku, extra, **values):
    """Add a product: `crm products add GRD-010 --name "Watering can" --price 19.90 --cost 7.10`."""
    from .catalogue import add

    crm = get_crm()
    data = {"sku": sku, **given(values)}
    if extra:
        data["custom"] = custom_from(extra)
    add(crm, data)
    click.echo(f"Added product {sku}")


@products.command("edit")
@click.argument("sku")
@click.option("--new-sku", help="Rename the SKU.")
@product_options
def products_edit(sku, new_sku, extra, **values):
    """Change a product's fields: price, lifecycle, active flag, specs, custom attributes."""
    from .catalogue import edit, find

    crm = get_crm()
    changes = given(values)
    if new_sku:
        changes["sku"] = new_sku
    if extra:
        changes["custom"] = custom_from(extra, find(crm, sku)["custom"])
    if not changes:
        raise click.UsageError("nothing to change: give at least one option")
    edit(crm, sku, changes)
    click.echo(f"Updated product {new_sku or sku}")


@products.command("list")
@click.option("--category", help="Only this category.")
@click.option("--lifecycle", type=click.Choice(["planned", "active", "discontinued"]))
@click.option("--active/--inactive", default=None, help="Only products (not) offered for sale.")
@click.option("--search", help="SKU or name contains this text.")
@click.option("--limit", default=0, help="Show at most N products (0 for all).")
@output_options
def products_list(category, lifecycle, active, search, limit, fmt):
    """List products."""
    from .catalogue import LIST_FIELDS, list_products
    from .records import Product
    from crmcore import field_names

    rows = list_products(get_crm(), category, lifecycle, active, search, limit)
    print_rows(rows, field_names(Product), fmt, LIST_FIELDS)


@products.command("show")
@click.argument("sku")
@output_options
def products_show(sku, fmt):
    """Specs, price and margin, stock per location and the last 90 days of sales."""
    from .analytics import SALES_FIELDS, product_facts

    facts = product_facts(get_crm(), sku)
    if fmt == "json":
        print_record(facts, "json")
        return
    sales, stock = facts.pop("sales_90_days"), facts.pop("stock")
    print_record(facts)
    click.echo("\nstock:")
    print_rows(stock, ["location", "stock", "reorder_point", "reorder_quantity"])
    click.echo(f"\nsales since {sales['since']} (90 days): {sales['units']:g} units, revenue {sales['revenue']:,.2f}, "
               f"{sales['orders']} orders, {sales['customers']} customers")
    if sales["by_month"]:
        print_rows(sales["by_month"], ["month", *SALES_FIELDS])


@products.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "jsonl"]), help="File format (default: from the extension).")
@click.option("--map", "mapping", multiple=True, metavar="HEADER=FIELD", help="Map a column header to a field (repeatable).")
@click.option("--dry-run", is_flag=True, help="Validate and count, but write nothing.")
@click.option("--rejects", type=click.Path(dir_okay=False), help="Write bad rows here (with row number and reason) and import the rest.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--on-conflict", type=click.Choice(["update", "skip", "error"]), default="update", show_default=True,
              help="What to do when a product with the same SKU exists.")
def products_import(file, fmt, mapping, dry_run, rejects, as_json, on_conflict):
    """Import products from CSV, JSON or JSON Lines, matched on SKU.

    One bad row (or a SKU twice in the file) stops the import and nothing is
    written, unless --rejects is given. Unknown columns become custom attributes."""
    from crmcore import run_import

    from .catalogue import import_products

    run_import(import_products, get_crm(), file, fmt, mapping, dry_run, rejects, as_json, on_conflict, "Importing products")


@products.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File to write (default or -: standard output).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "jsonl"]), default="csv", show_default=True)
def products_export(output, fmt):
    """Export the whole catalogue with every field (re-importable)."""
    from crmcore import export_table

    output = None if output == "-" else output  # -o -: standard output, the default
    count = export_table(get_crm(), "products", output, fmt)
    if output:
        click.echo(f"Exported {count} products to {output}", err=True)


@products.command("unknown-skus")
@output_options
def products_unknown_skus(fmt):
    """SKUs on order lines that are not in the catalogue (they move no stock)."""
    from .analytics import unknown_skus

    print_rows(unknown_skus(get_crm()), ["sku", "lines", "orders", "units", "description"], fmt)


# -- stock ----------------------------------------------------------------------


@products.group()
def stock():
    """The stock ledger: receipts, adjustments, transfers and levels."""


@stock.command("receive", context_settings=SIGNED)
@click.argument("sku")
@click.argument("quantity")
@click.option("--location", default="main", show_default=True)
@click.option("--ref", default="", help="Delivery note or purchase order.")
@click.option("--reason", default="", help="Why (default: goods received).")
@click.option("--at", help="When the goods arrived (default: now).")
def stock_receive(sku, quantity, location, ref, reason, at):
    """Book goods received: `crm products stock receive GRD-001 50 --ref PO-17`."""
    from .stock import receive

    now = receive(get_crm(), sku, quantity, location, reason, ref, at)
    click.echo(f"{sku} at {location}: {now:g} in stock")


@stock.command("adjust", context_settings=SIGNED)
@click.argument("sku")
@click.argument("quantity")
@click.option("--reason", required=True, help="Why the stock changed: stock count, damaged, lost...")
@click.option("--location", default="main", show_default=True)
@click.option("--at", help="When (default: now).")
def stock_adjust(sku, quantity, reason, location, at):
    """Correct stock by a signed quantity: `crm products stock adjust KIT-001 -2 --reason damaged`."""
    from .stock import adjust

    now = adjust(get_crm(), sku, quantity, reason, location, at)
    click.echo(f"{sku} at {location}: {now:g} in stock")


@stock.command("transfer", context_settings=SIGNED)
@click.argument("sku")
@click.argument("quantity")
@click.option("--from", "source", required=True, help="Location the goods leave.")
@click.option("--to", "target", required=True, help="Location the goods arrive at.")
@click.option("--reason", default="")
@click.option("--at", help="When (default: now).")
def stock_transfer(sku, quantity, source, target, reason, at):
    """Move stock between locations: `crm products stock transfer OUT-001 5 --from main --to store`."""
    from .stock import transfer

    left, arrived = transfer(get_crm(), sku, quantity, source, target, reason, at)
    click.echo(f"{sku}: {left:g} at {source}, {arrived:g} at {target}")


@stock.command("levels")
@click.option("--location", help="Only this location.")
@click.option("--sku", help="Only this product.")
@output_options
def stock_levels(location, sku, fmt):
    """Stock per product and location (the sum of the ledger)."""
    from .stock import levels

    print_rows(levels(get_crm(), location, sku), ["sku", "name", "location", "stock", "reorder_point", "reorder_quantity"], fmt)


@stock.command("ledger")
@click.option("--sku", help="Only this product.")
@click.option("--location", help="Only this location.")
@click.option("--limit", default=100, show_default=True, help="Show at most N movements (0 for all).")
@output_options
def stock_ledger(sku, location, limit, fmt):
    """Stock movements, newest first: what changed, why, when and by whom."""
    from .stock import LEDGER_FIELDS, ledger

    print_rows(ledger(get_crm(), sku, location, limit), LEDGER_FIELDS, fmt)


@stock.command("reorder")
@click.argument("sku")
@click.option("--point", required=True, help="Reorder when stock is at or under this.")
@click.option("--quantity", required=True, help="Usual order size.")
@click.option("--location", default="main", show_default=True)
def stock_reorder(sku, point, quantity, location):
    """Set the reorder point and quantity of a product at a location."""
    from .stock import set_reorder

    set_reorder(get_crm(), sku, point, quantity, location)
    click.echo(f"{sku} at {location}: reorder at {point}, order {quantity}")


@stock.command("sync")
def stock_sync():
    """Book the sales of order lines whose SKU was added to the catalogue
    after the order was saved."""
    from .stock import sync_all_sales

    click.echo(f"{sync_all_sales(get_crm())} sale movements written")


# -- analytics ------------------------------------------------------------------


@products.command("low-stock")
@click.option("--location", help="Only this location.")
@click.option("--cover-days", default=30, show_default=True, type=click.IntRange(1, 3650),
              help="Days of demand the suggested order should cover.")
@output_options
def products_low_stock(location, cover_days, fmt):
    """Products at or under their reorder point, with average daily sales
    (last 30 / 90 days), days of cover left and a suggested order quantity."""
    from .stock import low_stock

    fields = ["sku", "name", "location", "stock", "reorder_point", "reorder_quantity", "avg_daily_30", "avg_daily_90",
              "days_cover", "suggested_order"]
    print_rows(low_stock(get_crm(), location, cover_days), fields, fmt)


@products.command("sales")
@click.option("--since", help="Only orders on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Only orders on or before this date.")
@click.option("--by", "by", type=click.Choice(["product", "category", "month", "segment"]), default="product", show_default=True)
@click.option("--segment", "segments", multiple=True, help="With --by segment: a segment name (repeatable; default: every segment).")
@output_options
def products_sales(since, until, by, segments, fmt):
    """Units, revenue, cost, margin, orders and customers."""
    from .analytics import GROUPINGS, SALES_FIELDS, sales, sales_by_segment

    crm = get_crm()
    if by == "segment":
        rows, label = sales_by_segment(crm, segments, since, until), "segment"
    else:
        if segments:
            raise click.UsageError("--segment only goes with --by segment")
        rows, label = sales(crm, by, since, until), GROUPINGS[by][0]
    print_rows(rows, [label, *SALES_FIELDS], fmt)


@products.command("bought-together")
@click.argument("sku")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--min-orders", default=1, show_default=True, type=click.IntRange(1), help="Ignore pairs seen in fewer orders.")
@click.option("--min-lift", default=1.0, show_default=True, type=click.FloatRange(0),
              help="Only pairs bought together more often than chance by this factor (lift above it); 0 shows every pair.")
@output_options
def products_bought_together(sku, limit, min_orders, min_lift, fmt):
    """Products most often in the same order as SKU, with support, confidence and lift."""
    from .analytics import BOUGHT_TOGETHER_FIELDS, bought_together

    print_rows(bought_together(get_crm(), sku, limit, min_orders, min_lift), BOUGHT_TOGETHER_FIELDS, fmt)


@products.command("suggest")
@click.argument("contact")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--min-lift", default=1.0, show_default=True, type=click.FloatRange(0),
              help="Count only pairs bought together more often than chance by this factor; 0 counts every pair.")
@output_options
def products_suggest(contact, limit, min_lift, fmt):
    """Products CONTACT (id or e-mail) has not bought but that go with what they bought."""
    from .analytics import suggest

    print_rows(suggest(get_crm(), contact, limit, min_lift), ["sku", "name", "category", "price", "score", "because_of"], fmt)


# -- just-in-time supply (supply_commands.py) ---------------------------------------

from .supply_commands import add_supply_commands  # noqa: E402

add_supply_commands(products, stock)
