"""Bearer tokens of the JSON API (``/api/...`` of ``crm serve``).

A token acts as one user: the API applies that user's role and territories
(``crmcore.access``) exactly as the pages do. It is 256 random bits shown once
by ``crm tokens create``; only its SHA-256 is stored, so a copy of the
database does not open the API. A disabled user's tokens stop working.
"""

import secrets

from . import normalize
from .errors import CRMError
from .users import get_user, token_hash, user_by_id

PREFIX = "crm_"


def create_token(crm, email, name=""):
    """A new token for the user ``email``; returns the token (shown once)."""
    user = get_user(crm, email)
    if not user["active"]:
        raise CRMError(f"user {user['email']!r} is disabled (crm users set-password enables it)")
    token = PREFIX + secrets.token_urlsafe(32)
    with crm.store.transaction():
        crm.store.execute("INSERT INTO _crm_api_tokens (token_hash, user_id, name, created_at) VALUES (?, ?, ?, ?)",
                          (token_hash(token), user["id"], normalize.text(name)[:200], normalize.now()))
        crm.audit("create token", "_crm_users", user["id"], {"name": normalize.text(name)[:200]})
    return token


def list_tokens(crm):
    """Every token: id, user, name, created and last used (never the token)."""
    return crm.store.query(
        "SELECT t.id, u.email AS user, t.name, t.created_at, t.last_used_at FROM _crm_api_tokens t "
        "JOIN _crm_users u ON u.id = t.user_id ORDER BY t.id")


def revoke_token(crm, token_id):
    with crm.store.transaction():
        if crm.store.query_value("SELECT count(*) FROM _crm_api_tokens WHERE id = ?", (int(token_id),)) == 0:
            raise CRMError(f"no token {token_id} (see crm tokens list)")
        crm.store.execute("DELETE FROM _crm_api_tokens WHERE id = ?", (int(token_id),))


def token_user(crm, token):
    """The active user a bearer token acts as, or ``None``. Marks the token used (once a minute at most)."""
    if not token or len(token) > 200:
        return None
    rows = crm.store.query("SELECT id, user_id, last_used_at FROM _crm_api_tokens WHERE token_hash = ?", (token_hash(token),))
    if not rows:
        return None
    user = user_by_id(crm, rows[0]["user_id"])
    if user is None or not user["active"]:
        return None
    now = normalize.now()
    if (rows[0]["last_used_at"] or "")[:16] != now[:16]:
        with crm.store.transaction():
            crm.store.execute("UPDATE _crm_api_tokens SET last_used_at = ? WHERE id = ?", (now, rows[0]["id"]))
    return user
