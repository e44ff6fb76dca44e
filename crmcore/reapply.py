"""Re-applying the privacy log after ``crm restore`` and ``crm migrate-store``
(the log itself: ``privacy_log.py``)."""

from .privacy import erase_contact, suppress
from .privacy_log import ID_KEY, SALT_KEY, _digest, entries, identity


def reapply(crm, fallback=None):
    """Erase and unsubscribe again, in restored data, everyone the log names.

    ``fallback``: the ``(crm_id, salt)`` to use when the restored data has
    none (a backup made before this version): the database it replaced.
    Returns ``{"erased": n, "unsubscribed": m}`` (contacts changed now)."""
    crm_id, salt = identity(crm, create=False)
    if (crm_id is None or salt is None) and fallback and fallback[0]:
        crm_id, salt = fallback
        crm.set_setting(ID_KEY, crm_id)
        crm.set_setting(SALT_KEY, salt)
    done = {"erased": 0, "unsubscribed": 0}
    logged = entries(crm_id)
    if not logged or salt is None:
        return done
    if crm.pending_migrations():  # a backup from an older version
        crm.migrate()
    for row in crm.store.query("SELECT id, email, consent FROM contacts WHERE email IS NOT NULL AND email != ''"):
        action = logged.get(_digest(salt, row["email"]))
        if action == "erased":
            erase_contact(crm, str(row["id"]), log=False)
            done["erased"] += 1
        elif action == "unsubscribed" and (row["consent"] or not crm.is_suppressed(row["email"])):
            suppress(crm, row["email"], "unsubscribed (re-applied after a restore)", log=False)
            done["unsubscribed"] += 1
    return done
