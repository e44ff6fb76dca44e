"""Erasure and merging: a person's cases, messages and attachment files."""

from .files import remove


def erase_contact(crm, contact_id, email=None):
    """Delete the contact's cases with every message and attachment file, and
    their bounces. Returns how many cases went."""
    case_ids = [r["id"] for r in crm.store.query("SELECT id FROM service_cases WHERE contact_id = ?", (contact_id,))]
    for i in range(0, len(case_ids), 500):
        chunk = case_ids[i:i + 500]
        marks = ", ".join("?" * len(chunk))
        crm.store.execute(f"DELETE FROM _crm_audit WHERE table_name = 'service_cases' AND record_id IN ({marks})", chunk)
        crm.store.execute(
            f"DELETE FROM _crm_audit WHERE table_name = 'service_messages' AND record_id IN "
            f"(SELECT id FROM service_messages WHERE case_id IN ({marks}))", chunk)
    delete_messages(crm, case_ids)
    for i in range(0, len(case_ids), 500):
        chunk = case_ids[i:i + 500]
        crm.store.execute(f"DELETE FROM service_cases WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
    # Messages the person wrote into someone else's case (a colleague forwarding, a CC) keep the case but lose the text.
    if email:
        crm.store.execute("UPDATE service_messages SET body = '', author = '', subject = '' WHERE author = ?", (email,))
        crm.store.execute("DELETE FROM service_bounces WHERE email = ?", (email,))
    crm.store.execute("DELETE FROM service_bounces WHERE contact_id = ?", (contact_id,))
    return len(case_ids)


def delete_messages(crm, case_ids):
    """Delete the messages and attachment files of these cases (before the cases go)."""
    case_ids = list(case_ids)
    paths = []
    for i in range(0, len(case_ids), 500):
        chunk = case_ids[i:i + 500]
        marks = ", ".join("?" * len(chunk))
        paths += [r["path"] for r in crm.store.query(
            f"SELECT a.path FROM service_attachments a JOIN service_messages m ON m.id = a.message_id WHERE m.case_id IN ({marks})", chunk)]
        crm.store.execute(f"DELETE FROM service_attachments WHERE message_id IN (SELECT id FROM service_messages WHERE case_id IN ({marks}))", chunk)
        crm.store.execute(f"DELETE FROM service_messages WHERE case_id IN ({marks})", chunk)
    remove(crm, paths)


def merge_contacts(crm, keep_id, duplicate_id):
    crm.store.execute("UPDATE service_cases SET contact_id = ? WHERE contact_id = ?", (keep_id, duplicate_id))
    crm.store.execute("UPDATE service_bounces SET contact_id = ? WHERE contact_id = ?", (keep_id, duplicate_id))
