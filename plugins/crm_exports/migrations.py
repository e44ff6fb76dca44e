"""Schema steps of the exports plugin, applied in order and recorded."""

from crmcore import schema

from .records import ExportLog


def m001_export_log(store):
    schema.ensure_table(store.db, ExportLog)
    # One row per contact per export. Only ids and the e-mail hash (the same
    # key as the suppression list): after an erasure this still says where
    # the person was sent, without holding any of their personal data.
    store.execute(
        "CREATE TABLE IF NOT EXISTS export_log_contacts ("
        "export_id INTEGER NOT NULL REFERENCES export_log(id), contact_id INTEGER NOT NULL, "
        "email_hash TEXT, erased_at TEXT)"
    )
    store.execute("CREATE INDEX IF NOT EXISTS ix_export_log_contacts_contact ON export_log_contacts (contact_id)")
    store.execute("CREATE INDEX IF NOT EXISTS ix_export_log_contacts_hash ON export_log_contacts (email_hash)")
    store.execute("CREATE INDEX IF NOT EXISTS ix_export_log_contacts_export ON export_log_contacts (export_id)")


MIGRATIONS = [m001_export_log]
