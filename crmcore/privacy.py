"""Merge, erase, delete and the suppression list: the data obligations.

They hold whichever plugins run: the core itself deletes or moves every row
that holds a contact's id, in its own tables and in every plugin table
recorded with ``link_contacts`` (enabled, disabled, not loaded or
uninstalled alike). Plugin hooks run first and carry only side effects
(files, export logs, notes); a plugin that fails there is skipped with a
warning and never blocks an erasure. Every statement works on the whole
batch of ids, so the cost does not grow with statements per id.
"""

import hashlib
import json

from . import normalize
from .errors import CRMError
from .migrations import contact_links
from .store import quote_name


# -- the suppression list ------------------------------------------------------


def suppression_key(email):
    """The suppression key of an address: SHA-256 of its canonical form
    (``normalize.email``: trimmed, lower-case, the domain in Unicode)."""
    return hashlib.sha256(normalize.email(email).encode()).hexdigest()


def suppression_keys(email):
    """Every key under which ``email`` may have been suppressed: the
    canonical form's, and for an internationalised domain the ASCII
    (punycode) form's, which versions before 0.2 stored when the address
    was given that way. Checking both keeps everyone suppressed then
    unmailable now."""
    canonical = normalize.email(email)
    keys = [hashlib.sha256(canonical.encode()).hexdigest()]
    ascii_form = normalize.email_ascii(canonical)
    if ascii_form != canonical:
        keys.append(hashlib.sha256(ascii_form.encode()).hexdigest())
    return keys


def suppression_digests(store):
    """``(hashes, logged)``: the set of suppression keys, and the privacy
    log's check ``canonical e-mail -> bool`` or ``None``. For a bulk caller
    that hashes each address anyway: a canonical address with an ASCII
    domain is suppressed exactly when its SHA-256 is in ``hashes`` or
    ``logged(address)``."""
    from .privacy_log import logged_digest

    hashes = {r["email_hash"] for r in store.query("SELECT email_hash FROM suppressions")}
    # The privacy log also counts: someone who unsubscribed after the backup
    # that was restored, and is not in it, has no row here any more.
    return hashes, logged_digest(store)


def suppression_checker(store, digests=None):
    """A function ``canonical e-mail -> bool`` over the whole suppression list,
    read once (for imports and exports that check every row); ``digests``:
    what ``suppression_digests(store)`` returned, if the caller has it."""
    hashes, logged = digests or suppression_digests(store)
    if not hashes and logged is None:
        return lambda email: False
    digest = hashlib.sha256

    def is_suppressed(email):
        if not email:
            return False
        if digest(email.encode()).hexdigest() in hashes:
            return True
        if logged is not None and logged(email):
            return True
        if email.isascii():  # its ASCII form is itself
            return False
        ascii_form = normalize.email_ascii(email)
        return ascii_form != email and digest(ascii_form.encode()).hexdigest() in hashes

    return is_suppressed


def is_suppressed(store, email):
    keys = suppression_keys(email)
    marks = ", ".join("?" * len(keys))
    if store.query_value(f"SELECT 1 FROM suppressions WHERE email_hash IN ({marks})", keys) is not None:
        return True
    from .privacy_log import logged_digest

    logged = logged_digest(store)
    return logged is not None and logged(normalize.email(email))


def suppress(crm, email, reason="unsubscribed", log=True):
    """Add an address to the suppression list and withdraw its consent;
    permanent (the privacy log re-applies it after a restore)."""
    try:
        address = normalize.email(email)
    except ValueError as exc:
        raise CRMError(str(exc)) from None
    now = normalize.now()
    with crm.store.transaction():
        crm.store.execute("INSERT INTO suppressions (email_hash, reason, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                          (suppression_key(address), reason, now))
        withdrawn = crm.store.query("SELECT id, consent, consent_source FROM contacts WHERE email = ?", (address,))
        crm.store.execute("UPDATE contacts SET consent = 0, consent_at = ?, consent_source = ? WHERE email = ?",
                          (now, reason, address))
        # The withdrawal shows in `crm contacts history`, like any other change.
        crm.audit_many("update", "contacts", [(r["id"], {"consent": [bool(r["consent"]), False],
                                                         "consent_source": [r["consent_source"], reason]}) for r in withdrawn])
    if log:
        from .privacy_log import record

        record(crm, "unsubscribed", [address])


# -- rows that hold contact ids ------------------------------------------------------


def _ids_sql(store):
    """``IN (...)`` over one bound JSON array of ids, on either store."""
    return f"IN ({store.dialect.json_values()})"


def delete_where(store, table, where, params, _depth=0):
    """Delete rows of ``table`` matching ``where`` and, first, the rows of
    other tables that reference them by foreign key (recursively)."""
    if _depth > 10:
        raise CRMError(f"foreign keys pointing at {table} go more than 10 tables deep; delete by hand")
    for child, child_column, parent_column in store.referenced_by(table):
        if child == table:
            continue
        delete_where(store, child,
                     f"{quote_name(child_column)} IN (SELECT {quote_name(parent_column)} FROM {quote_name(table)} WHERE {where})",
                     params, _depth + 1)
    store.execute(f"DELETE FROM {quote_name(table)} WHERE {where}", params)


def forget_in_plugin_tables(store, ids):
    """Delete (or unlink) the rows of ``ids`` in every linked plugin table."""
    args = (json.dumps(list(ids)),)
    # Unlink first: a row that only loses its link must not be deleted as the
    # child of a row that goes (a survey response of a deleted invitation).
    for table, column, on_delete, _plugin in sorted(contact_links(store), key=lambda link: link[2] != "unlink"):
        if on_delete == "unlink":
            store.execute(f"UPDATE {quote_name(table)} SET {quote_name(column)} = NULL WHERE {quote_name(column)} {_ids_sql(store)}", args)
        else:
            delete_where(store, table, f"{quote_name(column)} {_ids_sql(store)}", args)


def move_in_plugin_tables(store, keep_id, duplicate_id):
    """Move the duplicate's rows in every linked plugin table to the kept
    contact. Where that would break a unique key (the kept contact already
    has the same row: a segment membership, say) the duplicate's rows of
    that table are dropped instead; returns a note for each such table."""
    notes = []
    for table, column, _on_delete, plugin in contact_links(store):
        col = quote_name(column)
        try:
            with store.transaction():
                store.execute(f"UPDATE {quote_name(table)} SET {col} = ? WHERE {col} = ?", (keep_id, duplicate_id))
        except Exception as exc:
            if store.integrity_problem(exc) is None:
                raise
            delete_where(store, table, f"{col} = ?", (duplicate_id,))
            notes.append(f"{table}: rows of the duplicate that the kept contact already had were dropped (plugin {plugin!r})")
    return notes


def delete_contacts(crm, ids):
    """Delete contacts and every row holding their ids: their activities,
    orders and order lines go; deals stay without the link. Batch statements."""
    store, args = crm.store, (json.dumps(list(ids)),)
    forget_in_plugin_tables(store, ids)
    store.execute(f"UPDATE deals SET contact_id = NULL WHERE contact_id {_ids_sql(store)}", args)
    store.execute(f"DELETE FROM activities WHERE contact_id {_ids_sql(store)}", args)
    delete_where(store, "orders", f"contact_id {_ids_sql(store)}", args)


def detach_companies(crm, ids):
    """Contacts and deals of deleted companies stay, without the link."""
    store, args = crm.store, (json.dumps(list(ids)),)
    store.execute(f"UPDATE contacts SET company_id = NULL WHERE company_id {_ids_sql(store)}", args)
    store.execute(f"UPDATE deals SET company_id = NULL WHERE company_id {_ids_sql(store)}", args)


def merge_contacts(crm, keep_ref, duplicate_ref):
    """Move everything of the duplicate to the kept contact, then delete it.

    Empty fields of the kept contact are filled from the duplicate; tags are
    united. Plugins' side effects run in ``crm_contacts_merged`` (disabled
    plugins too); the core moves the rows of every linked plugin table.
    Returns ``(kept contact, notes)``."""
    keep, dup = crm.find_contact(keep_ref), crm.find_contact(duplicate_ref)
    if keep["id"] == dup["id"]:
        raise CRMError("cannot merge a contact with itself")
    empty = (None, "", [], {})
    fill = {k: v for k, v in dup.items()
            if k not in ("id", "email", "created_at", "updated_at") and v not in empty and keep.get(k) in empty}
    if dup["tags"]:
        fill["tags"] = sorted(set(keep["tags"]) | set(dup["tags"]))
    store = crm.store
    with store.transaction():
        for table in ("deals", "activities", "orders"):
            store.execute(f"UPDATE {table} SET contact_id = ? WHERE contact_id = ?", (keep["id"], dup["id"]))
        _results, notes = crm.activation.call_lifecycle("crm_contacts_merged", store.transaction,
                                                        crm=crm, keep_id=keep["id"], duplicate_id=dup["id"])
        notes += move_in_plugin_tables(store, keep["id"], dup["id"])
        crm.audit("merge", "contacts", keep["id"], {"merged": dup["id"], "email": dup["email"]})
        store.delete_many("contacts", [dup["id"]])
        if fill:
            crm.update("contacts", keep["id"], fill)
    return crm.get("contacts", keep["id"]), notes


def erase_contact(crm, ref, log=True):
    """Erase a person: every plugin's rows of them go (the core deletes them
    from every linked table; hooks add side effects and notes), activities
    and the contact's audit trail go, deals and orders stay for the books
    without the link, and the e-mail's hash is kept on the suppression list
    so no later import brings them back as a marketing contact. Returns the
    notes for the person running the erasure (where data had been sent,
    plugins whose part was skipped)."""
    row = crm.find_contact(ref)
    cid, email = row["id"], row["email"]
    store = crm.store
    with store.transaction():
        results, warnings = crm.activation.call_lifecycle("crm_contact_erased", store.transaction,
                                                          crm=crm, contact_id=cid, email=email)
        notes = []
        for result in results:
            notes.extend(result if isinstance(result, (list, tuple)) else [result])
        notes.extend(warnings)
        if email:
            store.execute("INSERT INTO suppressions (email_hash, reason, at) VALUES (?, 'erased', ?) "
                          "ON CONFLICT(email_hash) DO UPDATE SET reason = 'erased'", (suppression_key(email), normalize.now()))
        forget_in_plugin_tables(store, [cid])
        store.execute("DELETE FROM activities WHERE contact_id = ?", (cid,))
        store.execute("UPDATE deals SET contact_id = NULL WHERE contact_id = ?", (cid,))
        store.execute("UPDATE orders SET contact_id = NULL WHERE contact_id = ?", (cid,))
        store.execute("DELETE FROM _crm_audit WHERE table_name = 'contacts' AND record_id = ?", (cid,))
        store.delete_many("contacts", [cid])
        crm.audit("erase", "contacts", cid)
    if log and email:  # re-applied if a restore brings the person back (crmcore/privacy_log.py)
        from .privacy_log import record

        record(crm, "erased", [email])
    if not store.in_transaction:  # no trace in the files either (crmcore/scrub.py)
        from .scrub import scrub

        note = scrub(store, ["contacts", "activities", "_crm_audit", "deals", "orders",
                             *(table for table, *_ in contact_links(store))])
        if note:
            notes.append(note)
    return notes
