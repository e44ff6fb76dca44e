"""Invitations: one unguessable token per contact of a segment, honouring consent
and the suppression list, exported as CSV any mail tool can merge."""

import contextlib
import hashlib
import secrets
import sys
from urllib.parse import urlencode

from crmcore import atomic_write, CRMError, csv_writer, normalize, suppression_key as email_hash

from .definitions import get_survey, require_open

TOKEN_BYTES = 16  # 128 bits from the OS's CSPRNG: not guessable, not enumerable
CSV_FIELDS = ["email", "name", "first_name", "last_name", "link", "token"]
#: Every cell goes through safe_cell (an address such as "=2+5@example.com" is valid);
#: tokens never start with a formula character and links start with http, so both stay exact.
FORMULA_STARTS = ("=", "+", "-", "@")


def new_token(taken):
    """A URL-safe random token not in ``taken`` (the set is updated)."""
    while True:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        # Never one a spreadsheet reads as a formula ("-..."), so the CSV can escape every cell and keep tokens exact.
        if token not in taken and token[:1] not in FORMULA_STARTS:
            taken.add(token)
            return token


def token_hash(token):
    """What the database keeps of a token: its SHA-256 (hex)."""
    return hashlib.sha256(str(token).encode()).hexdigest()


def personal_link(base_url, token):
    return base_url + ("&" if "?" in base_url else "?") + urlencode({"token": token})


def invite(crm, survey_ref, segment, base_url=None, batch=None):
    """Create invitations for the segment's contacts; returns ``(rows, skipped)``.

    Skipped (counted by reason): no e-mail, no consent, suppressed, already
    invited to this survey. ``rows`` are the CSV rows of the new invitations."""
    survey = get_survey(crm, survey_ref)
    require_open(survey)
    base_url = base_url or survey["base_url"]
    served = None if base_url else crm.get_setting("base_url")  # `crm serve` answers at {base_url}/s/{token}
    if not base_url and not served:
        raise CRMError(f"survey {survey['name']!r} has no base URL for the links: give --base-url https://... "
                       "(or crm settings set base_url https://... to answer on crm serve)")
    if base_url and not base_url.startswith(("http://", "https://")):
        raise CRMError(f"--base-url {base_url!r} must start with http:// or https://")
    ids = sorted(set(crm.segment_contact_ids(segment)))
    stamp = normalize.now()
    batch = batch or f"{segment} {stamp[:16].replace('T', ' ')}"
    skipped = {"no e-mail": 0, "suppressed": 0, "no consent": 0, "already invited": 0}
    suppressed = {r["email_hash"] for r in crm.store.query("SELECT email_hash FROM suppressions")}
    invited = {r["contact_id"] for r in crm.store.query("SELECT contact_id FROM survey_invitations WHERE survey_id = ?", (survey["id"],))}
    contacts = _contacts(crm, ids)
    taken = set()
    new_rows, out = [], []
    for cid in ids:
        c = contacts.get(cid)
        if c is None or not c["email"]:
            skipped["no e-mail"] += 1
        elif email_hash(c["email"]) in suppressed:
            skipped["suppressed"] += 1
        elif not c["consent"]:
            skipped["no consent"] += 1
        elif cid in invited:
            skipped["already invited"] += 1
        else:
            token = new_token(taken)
            new_rows.append({"survey_id": survey["id"], "contact_id": cid, "token": token_hash(token), "batch": batch, "segment": segment,
                             "created_at": stamp, "updated_at": stamp})
            name = f"{c['first_name']} {c['last_name']}".strip()
            out.append({"email": c["email"], "name": name, "first_name": c["first_name"], "last_name": c["last_name"],
                        "link": f"{served.rstrip('/')}/s/{token}" if served else personal_link(base_url, token), "token": token})
    with crm.store.transaction():
        crm.store.insert_many("survey_invitations", new_rows)
    return out, skipped


def _contacts(crm, ids):
    found = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        rows = crm.store.query(f"SELECT id, email, first_name, last_name, consent FROM contacts WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
        found.update({r["id"]: r for r in rows})
    return found


def write_csv(rows, path=None):
    """Write the invitation list to ``path`` (atomically) or standard output."""
    with atomic_write(path, "invitation list") if path else contextlib.nullcontext(sys.stdout) as out:
        writer = csv_writer(out)  # every cell spreadsheet-safe
        writer.writerow(CSV_FIELDS)
        for r in rows:
            writer.writerow([r[f] for f in CSV_FIELDS])


def batches(crm, survey_ref):
    """Invitations, responses and response rate per invitation batch."""
    survey = get_survey(crm, survey_ref)
    rows = crm.store.query(
        "SELECT i.batch, i.segment, min(i.created_at) AS sent_at, count(*) AS invitations, count(r.id) AS responses "
        "FROM survey_invitations i LEFT JOIN (SELECT DISTINCT invitation_id, min(id) AS id FROM survey_responses "
        "WHERE invitation_id IS NOT NULL GROUP BY invitation_id) r ON r.invitation_id = i.id "
        "WHERE i.survey_id = ? GROUP BY i.batch, i.segment ORDER BY sent_at, i.batch",
        (survey["id"],),
    )
    for r in rows:
        r["response_rate"] = round(100.0 * r["responses"] / r["invitations"], 1) if r["invitations"] else None
    return rows
