"""Schema steps of the campaigns plugin, applied once per database in order."""

from crmcore import TableSpec, link_contacts

# The tables as this migration creates them, frozen as data: a later change
# to the record classes needs a migration of its own (crm doctor names it).
M001_TABLES = (
    TableSpec(
        table='campaigns',
        columns=(
            ('id', 'INTEGER'), ('name', 'TEXT'), ('segment', 'TEXT'), ('from_addr', 'TEXT'), ('variants', 'TEXT'),
            ('text_template', 'TEXT'), ('html_template', 'TEXT'), ('holdout', 'REAL'), ('status', 'TEXT'),
            ('started_at', 'TEXT'), ('finished_at', 'TEXT'), ('created_at', 'TEXT'), ('updated_at', 'TEXT'),
        ),
        unique=('name',),
        index=('status',),
    ),
    TableSpec(
        table='campaign_outbox',
        columns=(
            ('id', 'INTEGER'), ('campaign_id', 'INTEGER'), ('contact_id', 'INTEGER'), ('email', 'TEXT'),
            ('variant', 'TEXT'), ('status', 'TEXT'), ('message_id', 'TEXT'), ('attempts', 'INTEGER'),
            ('error', 'TEXT'), ('sent_at', 'TEXT'), ('created_at', 'TEXT'),
        ),
        references=(('campaign_id', 'campaigns'), ('contact_id', 'contacts')),
        index=('campaign_id', 'contact_id'),
    ),
)


def m001_campaign_tables(store):
    for spec in M001_TABLES:
        store.ensure_table(spec)
    # One outbox row per recipient and campaign: a resumed send can never
    # queue anyone twice. The status index serves "what is left to send".
    store.create_index("campaign_outbox", ["campaign_id", "contact_id"], "ux_campaign_outbox_recipient", unique=True)
    store.create_index("campaign_outbox", ["campaign_id", "status", "id"], "ix_campaign_outbox_status")


def m002_contact_links(store):
    """Outbox rows hold a person's address: they go with the contact on erase
    and delete, and move to the kept contact on a merge."""
    link_contacts(store, "campaign_outbox", "contact_id", "delete")


MIGRATIONS = [m001_campaign_tables, m002_contact_links]
