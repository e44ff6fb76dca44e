"""The privacy log: erasures and unsubscribes that survive a restore.

Restoring last week's backup (or copying an old copy with ``migrate-store``)
would bring back everyone erased or unsubscribed since. So every erasure and
unsubscribe is also appended to a log kept outside the database, where no
restore reaches: ``CRM_PRIVACY_LOG``, by default
``$XDG_DATA_HOME/crm/privacy-log.jsonl`` (``~/.local/share/crm/...``). It
holds no personal data: each line is the CRM's id, the date, what happened
and an HMAC-SHA256 of the canonical e-mail under a secret salt that lives in
the database (``_crm_settings``), so the log alone identifies nobody. After
``crm restore`` and ``crm migrate-store`` the entries of that CRM are
re-applied to the contacts whose address they match (``reapply.py``).

The log line is written after the erasure commits: a rolled-back erasure
never lands in it.
"""

import hashlib
import hmac
import json
import os
import secrets

from . import normalize

ID_KEY, SALT_KEY = "privacy.crm_id", "privacy.salt"


def log_path():
    explicit = os.environ.get("CRM_PRIVACY_LOG")
    if explicit:
        return explicit
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "crm", "privacy-log.jsonl")


def identity(crm, create=True):
    """``(crm_id, salt)`` of this CRM's data, made on first use (backups and
    copies carry them, so the log matches restored data)."""
    crm_id, salt = crm.get_setting(ID_KEY), crm.get_setting(SALT_KEY)
    if (crm_id is None or salt is None) and create:
        crm_id, salt = crm_id or secrets.token_hex(16), salt or secrets.token_hex(32)
        crm.set_setting(ID_KEY, crm_id)
        crm.set_setting(SALT_KEY, salt)
    return crm_id, salt


def _digest(salt, email):
    try:
        canonical = normalize.email(email)
    except ValueError:
        canonical = str(email).strip().lower()
    return hmac.new(bytes.fromhex(salt), canonical.encode(), hashlib.sha256).hexdigest()


def record(crm, action, emails):
    """Append ``action`` ("erased" or "unsubscribed") for ``emails``."""
    emails = [e for e in emails if e]
    if not emails or crm.location == ":memory:":
        return
    crm_id, salt = identity(crm)
    path = log_path()
    os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
    day = normalize.now()[:10]
    lines = "".join(json.dumps({"crm": crm_id, "at": day, "action": action, "hash": _digest(salt, e)}) + "\n" for e in emails)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, lines.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def logged_digest(store):
    """A function ``e-mail -> bool``: whether the privacy log holds an
    erasure or unsubscribe of this address for the CRM in ``store`` (so a
    person unsubscribed after the backup that was restored, and not in it,
    stays suppressed); ``None`` when the log holds nothing for it."""
    if not store.table_exists("_crm_settings"):
        return None
    values = {r["key"]: json.loads(r["value"]) for r in store.query(
        "SELECT key, value FROM _crm_settings WHERE key IN (?, ?)", (ID_KEY, SALT_KEY))}
    crm_id, salt = values.get(ID_KEY), values.get(SALT_KEY)
    logged = entries(crm_id) if salt else {}
    if not logged:
        return None
    key = bytes.fromhex(salt)
    return lambda canonical: hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest() in logged


def entries(crm_id):
    """``{hash: action}`` of the log's entries for ``crm_id`` (an erasure wins)."""
    path = log_path()
    found = {}
    if not crm_id or not os.path.exists(path):
        return found
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                item = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            if item.get("crm") == crm_id and item.get("action") in ("erased", "unsubscribed"):
                if found.get(item["hash"]) != "erased":
                    found[item["hash"]] = item["action"]
    return found


def summary(done):
    """One line for the user, or ``None`` when nothing was re-applied."""
    if not any(done.values()):
        return None
    e, u = done["erased"], done["unsubscribed"]
    return (f"Re-applied {e} erasure{'s' if e != 1 else ''} and {u} unsubscribe{'s' if u != 1 else ''} "
            "made after this copy was taken (privacy log)")
