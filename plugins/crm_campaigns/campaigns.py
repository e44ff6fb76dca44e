"""Campaigns: create, look up, list. The message lives in the database (the
template files are read once, at ``create``), so a campaign is the same on
every machine that sends it."""

import os

from crmcore import CRMError, FieldError, decode_row

from .records import Campaign

LIST_FIELDS = ["id", "name", "segment", "status", "subjects", "holdout", "queued", "sent", "failed", "skipped",
               "held_out", "created_at", "started_at", "finished_at"]


def read_template(path, option):
    """The text of a template file; a one-line error naming the option and file."""
    if not os.path.isfile(path):
        raise CRMError(f"{option}: no file {path}")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError:
        raise CRMError(f"{option}: {path} is not UTF-8 text") from None
    except OSError as exc:
        raise CRMError(f"{option}: cannot read {path}: {exc.strerror}") from None


def parse_percent(value, option):
    """``"10%"``, ``"10"`` or ``"0.5%"`` -> 10.0; a one-line error otherwise."""
    text = str(value).strip().removesuffix("%").strip()
    try:
        number = float(text)
    except ValueError:
        raise CRMError(f"{option}: {value!r} is not a percentage (e.g. 10%)") from None
    if not 0 <= number < 100:
        raise CRMError(f"{option}: {value!r} must be at least 0% and under 100%")
    return number


def create_campaign(crm, name, segment, subjects, text_template, html_template="", from_addr=None, holdout=0.0,
                    shares=None):
    """Create a draft campaign; returns its id. ``subjects`` are the A/B
    variants (one is no test); ``shares`` their percentages (equal when not
    given). Templates are checked now: a syntax error never waits for the send."""
    from .mail import compile_template, environments, parse_from

    if not segment:
        raise CRMError("--segment: a campaign needs an audience (a segment name)")
    crm.segment_contact_ids(segment)  # a clear error for an unknown segment, or without the segments plugin
    if crm.store.query_value("SELECT 1 FROM campaigns WHERE name = ?", (name,)):
        raise CRMError(f"a campaign named {name!r} already exists")
    from_addr = parse_from(from_addr or crm.get_setting("campaigns.from") or "", "--from")
    shares = list(shares or [])
    if shares and len(shares) != len(subjects):
        raise CRMError(f"--share: {len(shares)} shares for {len(subjects)} subjects; give one per --subject or none")
    variants = [{"subject": s, "share": shares[i] if shares else None} for i, s in enumerate(subjects)]
    text_env, html_env = environments(crm)
    for i, v in enumerate(variants):
        compile_template(text_env, v["subject"], f"--subject {v['subject']!r}")
    compile_template(text_env, text_template, "--template")
    if html_template:
        compile_template(html_env, html_template, "--html-template")
    if not text_template.strip():
        raise CRMError("--template: the plain-text body is empty")
    try:
        campaign = Campaign(name=name, segment=segment, from_addr=from_addr, variants=variants,
                            text_template=text_template, html_template=html_template or "", holdout=holdout)
    except FieldError as exc:
        option = {"variants": "--share" if "share" in exc.reason else "--subject", "holdout": "--holdout",
                  "name": "NAME"}.get(exc.field, exc.field)
        raise CRMError(f"{option}: {exc.reason}") from None
    return crm.add(campaign)


def get_campaign(crm, ref):
    """A campaign by name or id, as a decoded dict; ``CRMError`` when there is none."""
    ref = str(ref).strip()
    rows = crm.store.query("SELECT * FROM campaigns WHERE name = ?", (ref,))
    if not rows and ref.isdigit():
        rows = crm.store.query("SELECT * FROM campaigns WHERE id = ?", (int(ref),))
    if not rows:
        raise CRMError(f"no campaign named {ref!r} (see crm campaigns list)")
    return decode_row(Campaign, rows[0])


def variant_names(campaign):
    """``A``, ``B``, ... for the campaign's subject variants."""
    return [chr(ord("A") + i) for i in range(len(campaign["variants"]))]


def counts(crm, campaign_id):
    """``{status: count}`` of a campaign's outbox."""
    found = {r["status"]: r["n"] for r in crm.store.query(
        "SELECT status, count(*) AS n FROM campaign_outbox WHERE campaign_id = ? GROUP BY status", (campaign_id,))}
    return {s: found.get(s, 0) for s in ("queued", "sent", "failed", "skipped", "holdout", "bounced")}


def list_campaigns(crm):
    rows = []
    for c in crm.store.query("SELECT * FROM campaigns ORDER BY id"):
        c = decode_row(Campaign, c)
        n = counts(crm, c["id"])
        rows.append({**c, "subjects": [v["subject"] for v in c["variants"]], "queued": n["queued"], "sent": n["sent"],
                     "failed": n["failed"], "skipped": n["skipped"], "held_out": n["holdout"]})
    return rows
