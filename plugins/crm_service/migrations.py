"""Schema steps of the service desk, applied once per database in order."""

from .records import RECORD_TYPES


def m001_service_tables(store):
    for cls in RECORD_TYPES:
        store.ensure_table(cls)
    store.create_index("service_cases", ["contact_id", "created_at"], "ix_service_cases_contact_created")
    store.create_index("service_messages", ["case_id", "at"], "ix_service_messages_case_at")
    store.create_index("service_cases", ["status", "priority"], "ix_service_cases_status_priority")


MIGRATIONS = [m001_service_tables]
