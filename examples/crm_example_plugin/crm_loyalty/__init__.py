"""crm-loyalty: customers earn a loyalty point per full 10 of each order.

An example of every kind of extension: a record type with a migration, a
command group, a report, a dashboard section and event hooks. Module-level
imports stay light because every ``crm`` call imports this module.
"""

import pathlib

from crmcore import hookimpl

#: The hook API this plugin was written for; another major is refused at load.
crm_api_version = 1

POINTS_PER = 10.0


@hookimpl
def crm_register_record_types(register):
    from .records import LoyaltyPoints

    register(LoyaltyPoints)


@hookimpl
def crm_register_migrations(register):
    from .migrations import MIGRATIONS

    for migration in MIGRATIONS:
        register(migration)


@hookimpl
def crm_register_commands(cli):
    # Imported only when `crm loyalty ...` runs; the line shows in `crm --help`.
    cli.add_lazy_command("loyalty", "crm_loyalty.commands:loyalty", "Loyalty points earned on orders (example plugin).")


@hookimpl
def crm_register_template_dirs(register):
    register(pathlib.Path(__file__).parent / "templates")


@hookimpl
def crm_register_reports(register):
    from .points import report_context

    register("loyalty", "loyalty.html", "Loyalty points: balances, top members and points earned per month", report_context)


@hookimpl
def crm_register_dashboard_sections(register):
    from .points import section_context

    register("Loyalty programme", "loyalty_section.html", section_context)


@hookimpl
def crm_records_saved(crm, table, records):
    """Runs inside the order import's transaction: if it fails, no order is kept."""
    if table == "orders":
        from .points import award_for_orders

        award_for_orders(crm, records)


@hookimpl
def crm_contacts_merged(crm, keep_id, duplicate_id):
    crm.store.execute("UPDATE loyalty_points SET contact_id = ? WHERE contact_id = ?", (keep_id, duplicate_id))


@hookimpl
def crm_contact_erased(crm, contact_id):
    crm.store.execute("DELETE FROM loyalty_points WHERE contact_id = ?", (contact_id,))


@hookimpl
def crm_records_deleted(crm, table, ids):
    if table == "contacts":
        crm.store.executemany("DELETE FROM loyalty_points WHERE contact_id = ?", [(i,) for i in ids])
