"""crm_products: the product catalogue, a stock ledger per location, reorder
points, sales analytics and frequently-bought-together from order lines.

Only public hooks: it adds tables, commands, reports, a dashboard section and
segment fields, and books stock for every saved order line."""

import os

from crmcore import hookimpl

crm_api_version = 1

TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")


@hookimpl
def crm_register_record_types(register):
    from .records import RECORD_TYPES

    for cls in RECORD_TYPES:
        register(cls)
    from .supply_records import SUPPLY_RECORD_TYPES

    for cls in SUPPLY_RECORD_TYPES:
        register(cls)


@hookimpl
def crm_register_migrations(register):
    from .migrations import MIGRATIONS

    for fn in MIGRATIONS:
        register(fn)


@hookimpl
def crm_register_commands(cli):
    cli.add_lazy_command("products", "crm_products.commands:products",
                         "Product catalogue, stock ledger per location, suppliers, planning, purchase orders, sales and cross-selling.")


@hookimpl
def crm_register_import_aliases(register):
    from .catalogue import IMPORT_ALIASES

    register("products", IMPORT_ALIASES)
    # a shop export's location column (the POS store, the web warehouse) picks
    # where the sale takes stock: it arrives as the order's channel
    register("orders", {"location": "channel", "stock location": "channel", "store location": "channel",
                        "pos location": "channel", "warehouse": "channel"})


@hookimpl
def crm_register_template_dirs(register):
    register(TEMPLATES)


@hookimpl
def crm_register_reports(register):
    from . import report_params, reports

    register("products", "products.html", "Catalogue, top sellers, revenue by category and month, margin and low stock",
             reports.products_context, params=report_params.PRODUCTS)
    register("product", "product.html", "One product (--param sku=...): specs, sales trend, top customers, bought together",
             reports.product_context, params=report_params.PRODUCT)
    from .supply_report import supply_context

    register("supply", "supply.html", "Stock value and days of cover per location, stock-out risk, excess stock, supplier reliability",
             supply_context, params=report_params.SUPPLY)


@hookimpl
def crm_register_dashboard_sections(register):
    from . import reports

    register("Products", "products_dashboard.html", reports.dashboard_context)


@hookimpl
def crm_register_segment_fields(register):
    register("bought_sku", "SELECT ol.sku FROM orders o JOIN order_lines ol ON ol.order_id = o.id WHERE o.contact_id = c.id",
             "set", "SKUs the contact has bought")
    register("bought_category",
             "SELECT p.category FROM orders o JOIN order_lines ol ON ol.order_id = o.id "
             "JOIN products p ON p.sku = ol.sku WHERE o.contact_id = c.id",
             "set", "product categories the contact has bought from")


@hookimpl
def crm_records_saved(crm, table, records):
    """Selling moves stock: saved order lines get (or correct) their sale
    movements. An edited line or order makes the sales summaries be rebuilt
    (new lines are added to them by the next report). A saved product gets
    its cost's factor to the base currency."""
    if table == "products":
        from .analytics import convert_costs

        convert_costs(crm, {r["currency"] for r in records})
        return
    if table not in ("orders", "order_lines"):
        return
    from . import summary

    from .stock import sync_sales

    if table == "orders":
        if summary.orders_touch_summed_lines(crm, [r["id"] for r in records]):
            summary.invalidate(crm)
        # an order moved to another channel sells from that channel's location
        from .stock import lines_of_orders

        sync_sales(crm, lines_of_orders(crm, [r["id"] for r in records], with_quantity=True))
        return

    sync_sales(crm, records)
    if summary.lines_already_summed(crm, [r["id"] for r in records]):
        summary.invalidate(crm)


@hookimpl
def crm_records_deleted(crm, table, ids):
    """Deleted orders (or the orders of deleted contacts) give their stock back."""
    if table not in ("orders", "order_lines", "contacts"):
        return
    from . import summary
    from .stock import _chunks, lines_of_orders, sync_sales

    if table == "order_lines":
        lines = [{"id": i, "order_id": None, "sku": None, "quantity": 0} for i in ids]
        summary.invalidate(crm)
    else:
        order_ids = ids
        if table == "contacts":
            order_ids = []
            for chunk in _chunks(list(ids)):
                order_ids += [r[0] for r in crm.store.execute(
                    f"SELECT id FROM orders WHERE contact_id IN ({', '.join('?' * len(chunk))})", chunk)]
        lines = lines_of_orders(crm, order_ids)
        summary.subtract_orders(crm, order_ids)
    sync_sales(crm, lines)
    if table != "order_lines":
        from .locations import forget_orders

        forget_orders(crm, order_ids)


@hookimpl
def crm_contacts_merged(crm, keep_id, duplicate_id):
    from .summary import move_buyer

    move_buyer(crm, keep_id, duplicate_id)


@hookimpl
def crm_contact_erased(crm, contact_id, email):
    from .summary import forget_buyer

    forget_buyer(crm, contact_id)


@hookimpl
def crm_demo_data(crm, rng, contact_ids):
    from .demo import create_demo_catalogue

    create_demo_catalogue(crm, rng)


@hookimpl
def crm_contact_facts(crm, contact):
    """What to offer next: the top three cross-sell suggestions."""
    from .analytics import suggest

    picks = suggest(crm, str(contact["id"]), limit=3)
    return {"offer next": ", ".join(f"{p['sku']} {p['name']}" for p in picks)}


@hookimpl
def crm_contact_suggestions(crm, contact, limit):
    """Products to offer a contact, for other plugins (the campaigns plugin's
    ``suggestions``): ``analytics.suggest``, best first."""
    from .analytics import suggest

    return suggest(crm, contact["id"], limit)


@hookimpl
def crm_register_routes(register):
    """The catalogue and product pages of ``crm serve`` (web.py)."""
    from . import web

    register("/products", web.catalogue, "orders:read")
    register("/products/{sku:path}", web.product, "orders:read")


@hookimpl
def crm_register_menu_items(register):
    register("Products", "/products", "orders:read")


@hookimpl
def crm_register_contact_panels(register):
    from .web import bought_panel

    register("Products bought", "web_products_panel.html", bought_panel, permission="orders:read")
