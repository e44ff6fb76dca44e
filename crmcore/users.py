"""People who log in to ``crm serve``: users, roles, sessions and login attempts.

Passwords are hashed with argon2 (argon2-cffi). A session is a random token
(the cookie); only its SHA-256 is stored, so a copy of the database does not
log anyone in. Sessions end after ``IDLE_MINUTES`` without a request and
``ABSOLUTE_HOURS`` after login, whichever comes first. Failed logins are
counted per account and per address: more than ``MAX_FAILURES_ACCOUNT`` (or
``MAX_FAILURES_IP``) in ``LOCK_MINUTES`` refuse further attempts for a while.
"""

import datetime as dt
import hashlib
import json
import secrets

from . import normalize
from .errors import CRMError

ROLES = ("admin", "manager", "sales", "service", "viewer")
IDLE_MINUTES = 30
ABSOLUTE_HOURS = 12
LOCK_MINUTES = 15
MAX_FAILURES_ACCOUNT = 5
MAX_FAILURES_IP = 20
MIN_PASSWORD = 10
USER_FIELDS = ["id", "email", "name", "role", "territories", "active", "created_at", "last_login_at"]


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def _now():
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _iso(when):
    return when.strftime("%Y-%m-%dT%H:%M:%S")


def _decode(row):
    if row is None:
        return None
    row = dict(row)
    row["territories"] = json.loads(row.get("territories") or "[]")
    row["active"] = bool(row["active"])
    row.pop("password_hash", None)
    return row


def _email(text):
    try:
        return normalize.email(text)
    except ValueError as exc:
        raise CRMError(f"{text!r} is not a valid e-mail address: {exc}") from None


def _role(role):
    if role not in ROLES:
        raise CRMError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    return role


def _check_password(password):
    if len(password or "") < MIN_PASSWORD:
        raise CRMError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


def generate_password():
    """A random password (about 96 bits) for a new account."""
    return secrets.token_urlsafe(12)


def check_new_email(crm, email):
    """The normalised address; ``CRMError`` when it is invalid or taken."""
    email = _email(email)
    if crm.store.query_value("SELECT id FROM _crm_users WHERE email = ?", (email,)) is not None:
        raise CRMError(f"a user {email!r} exists already (crm users set-password / set-role change it)")
    return email


def add_user(crm, email, role, password, territories=(), name=""):
    """Create a user; returns its id. ``password`` is hashed with argon2."""
    email = check_new_email(crm, email)
    _role(role)
    _check_password(password)
    with crm.store.transaction():
        crm.store.execute(
            "INSERT INTO _crm_users (email, name, role, territories, password_hash, active, created_at) VALUES (?, ?, ?, ?, ?, 1, ?)",
            (email, normalize.text(name), role, json.dumps([normalize.text(t) for t in territories if normalize.text(t)]),
             _hasher().hash(password), normalize.now()),
        )
        user_id = crm.store.query_value("SELECT id FROM _crm_users WHERE email = ?", (email,))
        crm.audit("add", "_crm_users", user_id, {"email": email, "role": role})
    return user_id


def list_users(crm):
    return [_decode(r) for r in crm.store.query("SELECT * FROM _crm_users ORDER BY email")]


def get_user(crm, email):
    row = crm.store.query("SELECT * FROM _crm_users WHERE email = ?", (_email(email),))
    if not row:
        raise CRMError(f"no user {email!r} (see crm users list)")
    return _decode(row[0])


def user_by_id(crm, user_id):
    rows = crm.store.query("SELECT * FROM _crm_users WHERE id = ?", (user_id,))
    return _decode(rows[0]) if rows else None


def has_admin(crm):
    return crm.store.query_value("SELECT count(*) FROM _crm_users WHERE role = 'admin' AND active = 1") > 0


def _change(crm, email, sql, params, action, changes):
    user = get_user(crm, email)
    with crm.store.transaction():
        crm.store.execute(sql, (*params, user["id"]))
        if action == "disable" or action == "set-password":
            crm.store.execute("DELETE FROM _crm_sessions WHERE user_id = ?", (user["id"],))
        crm.audit(action, "_crm_users", user["id"], changes)
    return get_user(crm, email)


def disable_user(crm, email):
    """Disable an account and end its sessions (the row stays for the audit trail)."""
    return _change(crm, email, "UPDATE _crm_users SET active = 0 WHERE id = ?", (), "disable", {"active": [True, False]})


def set_password(crm, email, password):
    """Set a new password; every session of the user ends."""
    _check_password(password)
    return _change(crm, email, "UPDATE _crm_users SET password_hash = ?, active = 1 WHERE id = ?", (_hasher().hash(password),),
                   "set-password", {})


def set_role(crm, email, role, territories=None):
    """Change a user's role (and, when given, territories)."""
    _role(role)
    user = get_user(crm, email)
    if territories is None:
        territories = user["territories"]
    return _change(crm, email, "UPDATE _crm_users SET role = ?, territories = ? WHERE id = ?",
                   (role, json.dumps(list(territories))), "set-role", {"role": [user["role"], role]})


# -- login and sessions -----------------------------------------------------------


class LoginRefused(CRMError):
    """Wrong credentials, a disabled account, or too many attempts."""


def _failures(crm, column, value, since):
    return crm.store.query_value(
        f"SELECT count(*) FROM _crm_login_attempts WHERE {column} = ? AND at >= ? AND ok = 0", (value, since)
    )


def authenticate(crm, email, password, ip):
    """The user dict when ``email``/``password`` are right; ``LoginRefused`` otherwise.

    Every attempt is recorded; too many recent failures for the account or from
    the address refuse the attempt before the password is even checked."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        address = normalize.email(email)
    except ValueError:
        address = str(email or "").strip().lower()[:200]
    ip = str(ip or "?")[:64]
    now = _now()
    since = _iso(now - dt.timedelta(minutes=LOCK_MINUTES))
    if _failures(crm, "email", address, since) >= MAX_FAILURES_ACCOUNT or _failures(crm, "ip", ip, since) >= MAX_FAILURES_IP:
        raise LoginRefused(f"too many failed logins: try again in {LOCK_MINUTES} minutes")
    rows = crm.store.query("SELECT * FROM _crm_users WHERE email = ?", (address,))
    ok = False
    if rows and rows[0]["active"] and rows[0]["password_hash"]:
        try:
            ok = _hasher().verify(rows[0]["password_hash"], password or "")
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        _hasher().hash(password or "")  # the same work for an unknown account: no timing oracle
    with crm.store.transaction():
        crm.store.execute("INSERT INTO _crm_login_attempts (at, email, ip, ok) VALUES (?, ?, ?, ?)", (_iso(now), address, ip, int(ok)))
        crm.store.execute("DELETE FROM _crm_login_attempts WHERE at < ?", (_iso(now - dt.timedelta(days=1)),))
        if ok:
            crm.store.execute("UPDATE _crm_users SET last_login_at = ? WHERE id = ?", (_iso(now), rows[0]["id"]))
    if not ok:
        raise LoginRefused("wrong e-mail or password")
    return _decode(rows[0])


def start_session(crm, user):
    """A new session for ``user``: returns ``(cookie token, csrf token)``."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    stamp = _iso(_now())
    with crm.store.transaction():
        crm.store.execute("INSERT INTO _crm_sessions (token_hash, user_id, csrf_token, created_at, seen_at) VALUES (?, ?, ?, ?, ?)",
                          (token_hash(token), user["id"], csrf, stamp, stamp))
    return token, csrf


def session_user(crm, token):
    """``(user, csrf token)`` of a live session, or ``(None, None)``; touches the session."""
    if not token:
        return None, None
    key = token_hash(token)
    rows = crm.store.query("SELECT * FROM _crm_sessions WHERE token_hash = ?", (key,))
    if not rows:
        return None, None
    session = rows[0]
    now = _now()
    if session["seen_at"] < _iso(now - dt.timedelta(minutes=IDLE_MINUTES)) or \
            session["created_at"] < _iso(now - dt.timedelta(hours=ABSOLUTE_HOURS)):
        end_session(crm, token)
        return None, None
    user = user_by_id(crm, session["user_id"])
    if user is None or not user["active"]:
        end_session(crm, token)
        return None, None
    if session["seen_at"] < _iso(now - dt.timedelta(minutes=1)):  # one write a minute at most per session
        with crm.store.transaction():
            crm.store.execute("UPDATE _crm_sessions SET seen_at = ? WHERE token_hash = ?", (_iso(now), key))
    return user, session["csrf_token"]


def end_session(crm, token):
    with crm.store.transaction():
        crm.store.execute("DELETE FROM _crm_sessions WHERE token_hash = ?", (token_hash(token),))
