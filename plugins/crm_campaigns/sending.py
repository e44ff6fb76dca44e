"""Sending a campaign so that nothing is lost and nothing goes twice.

1. **Freeze.** When sending starts, the audience is written to
   ``campaign_outbox`` in one transaction: a row per member of the segment
   (unique per campaign and contact) with its subject variant and its own
   ``Message-ID``, or ``holdout`` for the control group, or ``skipped`` with
   the reason (no consent, suppressed, no address).
2. **Send.** Queued rows go out in order. Right before each one, consent and
   the suppression list are read again (an unsubscribe during a long send is
   honoured). A row is marked ``sent`` in its own transaction right after the
   server accepted it. A killed send resumes with the same command and sends
   only rows not marked sent; the one message in flight at the kill (one
   connection) may go again, with the same Message-ID.
3. **Retry.** A temporary failure (SMTP 4xx, a timeout, a dropped connection)
   is retried with backoff; when the retries run out the row stays queued
   for the next run. A permanent failure (5xx) marks the row failed with the
   server's reply.
"""

import collections
import hashlib
import json
import re
import secrets
import time

from crmcore import CRMError, Contact, decode_row, normalize, suppression_checker

from . import mail
from .campaigns import get_campaign, variant_names
from .transports import PermanentFailure, TemporaryFailure, open_transport

NO_EMAIL, NO_CONSENT, SUPPRESSED = "no e-mail address", "no consent", "suppressed"
GONE, CHANGED = "contact deleted", "address changed since the audience was frozen"
BACKOFF = (2.0, 10.0, 30.0)
CHUNK = 5000
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*$", re.I)


def parse_rate(value):
    """``"10/s"``, ``"600/m"``, ``"5"`` -> messages per second; ``None`` for no limit."""
    if value in (None, ""):
        return None
    m = _RATE.match(str(value))
    if not m or float(m.group(1)) <= 0:
        raise CRMError(f"--rate: {value!r} must look like 10/s, 600/m or 3600/h")
    per = {"s": 1, "m": 60, "h": 3600}[(m.group(2) or "s")[0].lower()]
    return float(m.group(1)) / per


# -- the audience --------------------------------------------------------------


def _order_key(campaign_id, contact_id):
    """A stable pseudo-random order: holdout and variants are random yet the
    same on every run of the same campaign."""
    return hashlib.sha256(f"{campaign_id}:{contact_id}".encode()).digest()


def audience(crm, campaign):
    """``(eligible, excluded)``: eligible ``(contact_id, email)`` pairs of the
    segment with consent and not suppressed, and ``[(contact_id, email, reason)]``."""
    ids = sorted(set(crm.segment_contact_ids(campaign["segment"])))
    is_suppressed = suppression_checker(crm.store)
    eligible, excluded = [], []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        rows = crm.store.query(f"SELECT id, email, consent FROM contacts WHERE id IN ({crm.store.dialect.json_values()})",
                               (json.dumps(chunk),))
        for r in rows:
            if not r["email"]:
                excluded.append((r["id"], "", NO_EMAIL))
            elif is_suppressed(r["email"]):
                excluded.append((r["id"], r["email"], SUPPRESSED))
            elif not r["consent"]:
                excluded.append((r["id"], r["email"], NO_CONSENT))
            else:
                eligible.append((r["id"], r["email"]))
    return eligible, excluded


def split(campaign, eligible):
    """``[(contact_id, email, variant or None for the holdout)]`` in a stable
    random order: the first ``holdout`` percent are held out, the rest go to
    the variants in blocks of their shares."""
    order = sorted(eligible, key=lambda pair: _order_key(campaign["id"], pair[0]))
    held = round(len(order) * campaign["holdout"] / 100.0)
    out = [(cid, email, None) for cid, email in order[:held]]
    rest = order[held:]
    names = variant_names(campaign)
    start, cumulative = 0, 0.0
    for i, (name, variant) in enumerate(zip(names, campaign["variants"])):
        cumulative += variant["share"]
        end = len(rest) if i == len(names) - 1 else round(len(rest) * cumulative / 100.0)
        out.extend((cid, email, name) for cid, email in rest[start:end])
        start = end
    return out


def freeze(crm, campaign, progress=None):
    """Write the outbox of ``campaign`` in one transaction and mark it sending.
    Returns ``{status: count}`` of what was frozen."""
    eligible, excluded = audience(crm, campaign)
    domain = mail.message_domain(campaign["from_addr"])
    now = normalize.now()
    cid = campaign["id"]
    rows = [(cid, contact_id, email, variant or "", "queued" if variant else "holdout",
             f"<{cid}.{contact_id}.{secrets.token_hex(8)}@{domain}>" if variant else "", 0, "", None, now)
            for contact_id, email, variant in split(campaign, eligible)]
    rows += [(cid, contact_id, email, "", "skipped", "", 0, reason, None, now) for contact_id, email, reason in excluded]
    store = crm.store
    with store.transaction():
        status = store.query_value("SELECT status FROM campaigns WHERE id = ?", (cid,))
        if status != "draft":  # another process froze it first
            return None
        for start in range(0, len(rows), CHUNK):
            store.executemany(
                "INSERT INTO campaign_outbox (campaign_id, contact_id, email, variant, status, message_id, attempts, error, "
                "sent_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows[start:start + CHUNK])
            if progress:
                progress(min(CHUNK, len(rows) - start))
        store.execute("UPDATE campaigns SET status = 'sending', started_at = ?, updated_at = ? WHERE id = ?", (now, now, cid))
    found = collections.Counter(r[4] for r in rows)
    return dict(found)


# -- personalisation -----------------------------------------------------------


class Renderer:
    """Compiled templates of one campaign and what they need per contact."""

    def __init__(self, crm, campaign, suggestions=5):
        self.crm, self.campaign = crm, campaign
        text_env, html_env = mail.environments(crm)
        self.subjects = {name: mail.compile_template(text_env, v["subject"], f"subject {name}")
                         for name, v in zip(variant_names(campaign), campaign["variants"])}
        self.text = mail.compile_template(text_env, campaign["text_template"], "template")
        self.html = mail.compile_template(html_env, campaign["html_template"], "html template") if campaign["html_template"] else None
        sources = " ".join([campaign["text_template"], campaign["html_template"], *(v["subject"] for v in campaign["variants"])])
        self.wants_rfm = "rfm" in sources and crm.store.table_exists("segment_rfm")
        self.suggestions = suggestions if "suggestions" in sources else 0
        self.base_url = crm.get_setting("base_url")
        self.sender_name, self.sender = mail.sender_parts(campaign["from_addr"])

    def unsubscribe(self, contact_id, placeholder=False):
        """``(https link or None, mailto or None)`` for List-Unsubscribe and the templates."""
        if not self.base_url:
            return None, f"mailto:{self.sender}?subject=unsubscribe"
        if placeholder:
            return f"{str(self.base_url).rstrip('/')}/unsubscribe/TOKEN", None
        from crmcore import unsubscribe_url

        return unsubscribe_url(self.crm, contact_id), None

    def context(self, contact, variant, url):
        rfm = None
        if self.wants_rfm:
            found = self.crm.store.query("SELECT segment, score, r, f, m, recency_days, frequency, monetary, as_of "
                                         "FROM segment_rfm WHERE contact_id = ?", (contact["id"],))
            rfm = found[0] if found else None
        suggestions = []
        if self.suggestions:
            suggestions = self.crm.hook.crm_contact_suggestions(crm=self.crm, contact=contact, limit=self.suggestions) or []
        name = f"{contact['first_name']} {contact['last_name']}".strip()
        return {**contact, "contact": contact, "name": name, "custom": contact.get("custom") or {},
                "unsubscribe_url": url, "rfm": rfm, "rfm_segment": (rfm or {}).get("segment") or "",
                "suggestions": suggestions, "campaign": self.campaign["name"], "variant": variant}

    def message(self, contact, variant, message_id, to_email=None, placeholder=False, subject_prefix=""):
        """The ``EmailMessage`` for one contact; ``MessageError`` when it cannot be built."""
        url, mailto = self.unsubscribe(contact.get("id"), placeholder or not contact.get("id"))
        ctx = self.context(contact, variant, url or mailto or "")
        subject = mail.render(self.subjects[variant], ctx, f"subject {variant}")
        text = mail.render(self.text, ctx, "template")
        html = mail.render(self.html, ctx, "html template") if self.html else None
        return mail.build_message(sender=self.campaign["from_addr"], to_email=to_email or contact["email"],
                                  to_name=ctx["name"], subject=subject_prefix + subject, text=text, html=html,
                                  message_id=message_id, unsubscribe_url=url, unsubscribe_mailto=mailto)


def contact_row(crm, contact_id):
    row = crm.store.get("contacts", contact_id)
    return None if row is None else decode_row(Contact, row)


def still_allowed(crm, row):
    """``(contact, None)`` when the frozen recipient may still be mailed now,
    else ``(None, reason)``: read again right before each message."""
    contact = contact_row(crm, row["contact_id"])
    if contact is None:
        return None, GONE
    if contact["email"] != row["email"]:
        return None, CHANGED
    if crm.is_suppressed(row["email"]):
        return None, SUPPRESSED
    if not contact["consent"]:
        return None, NO_CONSENT
    return contact, None


# -- sending ---------------------------------------------------------------------------


def _mark(crm, row_id, status, error="", attempts=0, sent=False):
    now = normalize.now()
    with crm.store.transaction():
        crm.store.execute("UPDATE campaign_outbox SET status = ?, error = ?, attempts = attempts + ?, sent_at = ? WHERE id = ?",
                          (status, error[:1000], attempts, now if sent else None, row_id))


class Pacer:
    """At most ``rate`` messages per second, evenly spaced."""

    def __init__(self, rate, clock=time.monotonic, sleep=time.sleep):
        self.interval = 1.0 / rate if rate else 0.0
        self.clock, self.sleep = clock, sleep
        self.next_at = None

    def wait(self):
        if not self.interval:
            return
        now = self.clock()
        if self.next_at is not None and now < self.next_at:
            self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.interval


class Lease:
    """One sender per campaign at a time: two ``send`` processes would each
    send every queued row. The lease is a setting naming host, process and
    expiry, taken in a write transaction and renewed as the send goes on; a
    lease whose process is gone (same host) or that expired is taken over,
    so a killed send resumes at once with the same command."""

    SECONDS = 90.0

    def __init__(self, crm, campaign):
        import os
        import socket

        self.crm, self.key = crm, f"campaigns.sender.{campaign['id']}"
        self.me = {"host": socket.gethostname(), "pid": os.getpid(), "token": secrets.token_hex(8)}
        self.name = campaign["name"]
        self.renewed = 0.0

    def _stale(self, held):
        import os
        import socket

        if not held or time.time() > held.get("until", 0):
            return True
        if held.get("host") == socket.gethostname():
            try:
                os.kill(int(held["pid"]), 0)
            except ProcessLookupError:
                return True
            except (PermissionError, OSError, ValueError):
                return False
        return False

    def take(self):
        with self.crm.store.transaction():
            held = self.crm.get_setting(self.key)
            if held and held.get("token") != self.me["token"] and not self._stale(held):
                raise CRMError(f"campaign {self.name!r} is being sent by another process (pid {held.get('pid')} on "
                               f"{held.get('host')}); run send again once it ends")
            self.renew()

    def renew(self):
        self.crm.set_setting(self.key, {**self.me, "until": time.time() + self.SECONDS})
        self.renewed = time.monotonic()

    def keep(self):
        if time.monotonic() - self.renewed > self.SECONDS / 3:
            self.renew()

    def release(self):
        held = self.crm.get_setting(self.key)
        if held and held.get("token") == self.me["token"]:
            self.crm.set_setting(self.key, None)


def send(crm, ref, url=None, rate=None, progress=None, backoff=BACKOFF, transport=None, sleep=time.sleep):
    """Freeze the audience (first run) and send what is queued. Returns a dict
    with ``sent``, ``failed``, ``skipped``, ``deferred`` (this run) and
    ``remaining`` (still queued)."""
    campaign = get_campaign(crm, ref)
    renderer = Renderer(crm, campaign)  # template errors stop before anything is written
    transport = transport or open_transport(crm, url)
    result = collections.Counter()
    lease = Lease(crm, campaign)
    try:
        lease.take()
    except BaseException:
        transport.close()
        raise
    try:
        if campaign["status"] == "draft":
            frozen = freeze(crm, campaign)
            if frozen is not None:
                result["frozen"] = sum(frozen.values())
            campaign = get_campaign(crm, campaign["id"])
        pacer = Pacer(rate, sleep=sleep)
        envelope_from = mail.normalize_envelope(renderer.sender)
        last = 0
        while True:
            rows = crm.store.query("SELECT id, contact_id, email, variant, message_id FROM campaign_outbox "
                                   "WHERE campaign_id = ? AND status = 'queued' AND id > ? ORDER BY id LIMIT 500",
                                   (campaign["id"], last))
            if not rows:
                break
            for row in rows:
                last = row["id"]
                lease.keep()
                _send_one(crm, renderer, transport, pacer, envelope_from, row, result, backoff, sleep)
                if progress:
                    progress(1)
    finally:
        transport.close()
        lease.release()
    remaining = crm.store.query_value("SELECT count(*) FROM campaign_outbox WHERE campaign_id = ? AND status = 'queued'",
                                      (campaign["id"],))
    if not remaining:
        now = normalize.now()
        with crm.store.transaction():
            crm.store.execute("UPDATE campaigns SET status = 'sent', finished_at = coalesce(finished_at, ?), updated_at = ? "
                              "WHERE id = ?", (now, now, campaign["id"]))
    return {"campaign": campaign["name"], "frozen": result["frozen"], "sent": result["sent"], "failed": result["failed"],
            "skipped": result["skipped"], "deferred": result["deferred"], "remaining": remaining}


def _send_one(crm, renderer, transport, pacer, envelope_from, row, result, backoff, sleep):
    contact, reason = still_allowed(crm, row)
    if reason:
        _mark(crm, row["id"], "skipped", reason)
        result["skipped"] += 1
        return
    try:
        message = renderer.message(contact, row["variant"], row["message_id"])
        rcpt = mail.normalize_envelope(row["email"])
    except mail.MessageError as exc:
        _mark(crm, row["id"], "failed", str(exc))
        result["failed"] += 1
        return
    pacer.wait()
    attempts = 0
    while True:
        attempts += 1
        try:
            transport.send(message, envelope_from, rcpt)
        except TemporaryFailure as exc:
            if attempts <= len(backoff):
                sleep(backoff[attempts - 1])
                continue
            _mark(crm, row["id"], "queued", f"deferred: {exc}", attempts)
            result["deferred"] += 1
            return
        except PermanentFailure as exc:
            _mark(crm, row["id"], "failed", str(exc), attempts)
            result["failed"] += 1
            return
        break
    _mark(crm, row["id"], "sent", "", attempts, sent=True)
    result["sent"] += 1


def dry_run(crm, ref, progress=None):
    """What ``send`` would do, writing nothing: the audience as it would be
    frozen (or the rows still queued) and every message rendered."""
    campaign = get_campaign(crm, ref)
    renderer = Renderer(crm, campaign)
    if campaign["status"] == "draft":
        eligible, excluded = audience(crm, campaign)
        todo = [{"contact_id": c, "email": e, "variant": v} for c, e, v in split(campaign, eligible) if v]
        counts = collections.Counter(reason for _c, _e, reason in excluded)
        held = len(eligible) - len(todo)
    else:
        todo = crm.store.query("SELECT contact_id, email, variant FROM campaign_outbox WHERE campaign_id = ? AND status = 'queued' "
                               "ORDER BY id", (campaign["id"],))
        counts, held = collections.Counter(), 0
    would, problems = 0, []
    for row in todo:
        contact, reason = still_allowed(crm, row)
        if reason:
            counts[reason] += 1
        else:
            try:
                renderer.message(contact, row["variant"], "<dry-run@localhost>", placeholder=True)
                would += 1
            except mail.MessageError as exc:
                problems.append(f"{row['email']}: {exc}")
        if progress:
            progress(1)
    return {"campaign": campaign["name"], "would_send": would, "holdout": held, "excluded": dict(counts),
            "problems": problems}
