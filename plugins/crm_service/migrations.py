"""Schema steps of the service desk, applied once per database in order."""

from crmcore import TableSpec, link_contacts

# The tables as this migration creates them, frozen as data: a later change
# to the record classes needs a migration of its own (crm doctor names it).
M001_TABLES = (
    TableSpec(
        table='service_cases',
        columns=(
            ('id', 'INTEGER'), ('contact_id', 'INTEGER'), ('company_id', 'INTEGER'), ('subject', 'TEXT'),
            ('description', 'TEXT'), ('channel', 'TEXT'), ('status', 'TEXT'), ('priority', 'TEXT'),
            ('assignee', 'TEXT'), ('tags', 'TEXT'), ('sku', 'TEXT'), ('first_response_at', 'TEXT'),
            ('solved_at', 'TEXT'), ('closed_at', 'TEXT'), ('sla_elapsed', 'INTEGER'), ('sla_since', 'TEXT'),
            ('first_response_due', 'TEXT'), ('resolution_due', 'TEXT'), ('breach_at', 'TEXT'),
            ('first_response_seconds', 'INTEGER'), ('resolution_seconds', 'INTEGER'),
            ('csat_invitation_id', 'INTEGER'), ('created_at', 'TEXT'), ('updated_at', 'TEXT'),
        ),
        references=(('contact_id', 'contacts'), ('company_id', 'companies')),
        index=('contact_id', 'company_id', 'status', 'assignee', 'sku', 'breach_at', 'created_at'),
        fts=('subject', 'description'),
    ),
    TableSpec(
        table='service_messages',
        columns=(
            ('id', 'INTEGER'), ('case_id', 'INTEGER'), ('direction', 'TEXT'), ('author', 'TEXT'),
            ('subject', 'TEXT'), ('body', 'TEXT'), ('message_id', 'TEXT'), ('in_reply_to', 'TEXT'), ('refs', 'TEXT'),
            ('delivery', 'TEXT'), ('error', 'TEXT'), ('at', 'TEXT'), ('created_at', 'TEXT'), ('updated_at', 'TEXT'),
        ),
        references=(('case_id', 'service_cases'),),
        unique=('message_id',),
        index=('case_id',),
        fts=('body',),
    ),
    TableSpec(
        table='service_attachments',
        columns=(
            ('id', 'INTEGER'), ('message_id', 'INTEGER'), ('filename', 'TEXT'), ('path', 'TEXT'),
            ('content_type', 'TEXT'), ('size', 'INTEGER'),
        ),
        references=(('message_id', 'service_messages'),),
        index=('message_id',),
    ),
    TableSpec(
        table='service_bounces',
        columns=(
            ('id', 'INTEGER'), ('email', 'TEXT'), ('contact_id', 'INTEGER'), ('status', 'TEXT'), ('action', 'TEXT'),
            ('diagnostic', 'TEXT'), ('message_id', 'TEXT'), ('at', 'TEXT'),
        ),
        references=(('contact_id', 'contacts'),),
        unique=('message_id',),
        index=('email', 'contact_id'),
    ),
    TableSpec(
        table='service_macros',
        columns=(
            ('id', 'INTEGER'), ('name', 'TEXT'), ('body', 'TEXT'), ('created_at', 'TEXT'), ('updated_at', 'TEXT'),
        ),
        unique=('name',),
    ),
)


def m001_service_tables(store):
    for spec in M001_TABLES:
        store.ensure_table(spec)
    store.create_index("service_cases", ["contact_id", "created_at"], "ix_service_cases_contact_created")
    store.create_index("service_messages", ["case_id", "at"], "ix_service_messages_case_at")
    store.create_index("service_cases", ["status", "priority"], "ix_service_cases_status_priority")
    # A contact's cases (with their messages and attachment rows) and bounces
    # go with the contact, whether or not this plugin runs then; the files of
    # the attachments are removed by this plugin's erase and delete hooks.
    link_contacts(store, "service_cases", "contact_id", "delete")
    link_contacts(store, "service_bounces", "contact_id", "delete")


MIGRATIONS = [m001_service_tables]
