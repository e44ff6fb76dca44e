"""Public links for customers: unguessable tokens scoped to one contact and purpose.

A token is 128 bits from ``secrets`` (``token_urlsafe(16)``); only its SHA-256
is stored (``_crm_link_tokens``), so a copy of the database cannot be used to
unsubscribe anyone. Links start with the ``base_url`` setting
(``crm settings set base_url https://crm.example.com``).

    url = unsubscribe_url(crm, contact_id)   # for a campaign's List-Unsubscribe header
    unsubscribe(crm, token, source="one-click")
"""

import secrets

from . import normalize
from .errors import CRMError
from .users import token_hash

TOKEN_BYTES = 16
UNSUBSCRIBE = "unsubscribe"


def base_url(crm):
    """The ``base_url`` setting without a trailing slash; a clear error when unset."""
    url = crm.get_setting("base_url")
    if not url:
        raise CRMError("links need the CRM's public address: crm settings set base_url https://crm.example.com")
    return str(url).rstrip("/")


def check_base_url(url):
    url = str(url or "").strip()
    if not url.startswith(("http://", "https://")) or any(ch in url for ch in " \"'<>\\"):
        raise CRMError(f"base_url {url!r} must be an http:// or https:// address")
    return url.rstrip("/")


def new_token(crm, contact_id, purpose):
    """A fresh token for ``contact_id`` and ``purpose``; only its hash is kept."""
    if crm.store.get("contacts", int(contact_id)) is None:
        raise CRMError(f"no contact {contact_id}")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with crm.store.transaction():
        crm.store.execute("INSERT INTO _crm_link_tokens (token_hash, contact_id, purpose, created_at) VALUES (?, ?, ?, ?)",
                          (token_hash(token), int(contact_id), purpose, normalize.now()))
    return token


def resolve(crm, token, purpose):
    """``(contact row, used_at)`` for a token of ``purpose``, or ``(None, None)``."""
    if not token or len(token) > 100:
        return None, None
    rows = crm.store.query("SELECT contact_id, used_at FROM _crm_link_tokens WHERE token_hash = ? AND purpose = ?",
                           (token_hash(token), purpose))
    if not rows:
        return None, None
    contact = crm.store.get("contacts", rows[0]["contact_id"])
    return contact, rows[0]["used_at"]


def unsubscribe_url(crm, contact_id):
    """The personal unsubscribe link of a contact (a new token each call)."""
    return f"{base_url(crm)}/unsubscribe/{new_token(crm, contact_id, UNSUBSCRIBE)}"


def unsubscribe(crm, token, source):
    """Unsubscribe the token's contact for good: a permanent suppression of the
    address (``crm.suppress``) with ``source``, and an entry in the contact's
    history. Returns the contact row, or ``None`` for an unknown token.
    Unsubscribing twice is harmless."""
    contact, _ = resolve(crm, token, UNSUBSCRIBE)
    if contact is None:
        return None
    with crm.store.transaction():
        if contact["email"]:
            crm.suppress(contact["email"], reason=f"unsubscribed ({source})")
        crm.store.execute("UPDATE _crm_link_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL",
                          (normalize.now(), token_hash(token)))
        crm.audit("unsubscribe", "contacts", contact["id"], {"source": source})
    return contact
