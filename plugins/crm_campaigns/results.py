"""What a campaign did: delivery per variant, and orders and revenue of the
recipients against the held-out control group.

The window is the same for both groups: from the day sending started
(inclusive) for ``days`` days. Revenue per recipient and per holdout member
divide the orders' totals by everyone in the group (buyers or not); the
uplift is their difference, so it is measured, not assumed.
"""

import datetime as dt

from crmcore import require_rates

from .campaigns import counts, get_campaign, variant_names

STATUS_FIELDS = ["variant", "subject", "share", "queued", "sent", "failed", "bounced"]
RESULT_FIELDS = ["group", "members", "buyers", "orders", "revenue", "revenue_per_member", "conversion_pct"]


def status(crm, ref):
    """Counts of the outbox per status, in total and per subject variant."""
    campaign = get_campaign(crm, ref)
    per = {}
    for r in crm.store.query("SELECT variant, status, count(*) AS n FROM campaign_outbox WHERE campaign_id = ? "
                             "GROUP BY variant, status", (campaign["id"],)):
        per.setdefault(r["variant"], {})[r["status"]] = r["n"]
    variants = []
    for name, v in zip(variant_names(campaign), campaign["variants"]):
        found = per.get(name, {})
        variants.append({"variant": name, "subject": v["subject"], "share": v["share"],
                         **{s: found.get(s, 0) for s in ("queued", "sent", "failed", "bounced")}})
    failures = crm.store.query("SELECT email, error, attempts FROM campaign_outbox WHERE campaign_id = ? AND status = 'failed' "
                               "ORDER BY id LIMIT 20", (campaign["id"],))
    deferred = crm.store.query_value("SELECT count(*) FROM campaign_outbox WHERE campaign_id = ? AND status = 'queued' "
                                     "AND error <> ''", (campaign["id"],))
    return {"campaign": campaign["name"], "status": campaign["status"], "started_at": campaign["started_at"],
            "finished_at": campaign["finished_at"], **counts(crm, campaign["id"]), "deferred": deferred,
            "variants": variants, "failures": failures}


def _group(crm, campaign_id, where, params, since, until):
    """Members, buyers, orders and revenue of one group of outbox rows."""
    members = crm.store.query_value(f"SELECT count(*) FROM campaign_outbox o WHERE o.campaign_id = ? AND {where}",
                                    (campaign_id, *params))
    row = crm.store.query(
        "SELECT count(DISTINCT r.contact_id) AS buyers, count(r.id) AS orders, coalesce(sum(r.total * r.fx_rate), 0) AS revenue "
        "FROM campaign_outbox o JOIN orders r ON r.contact_id = o.contact_id "
        f"WHERE o.campaign_id = ? AND {where} AND r.ordered_at >= ? AND r.ordered_at < ?",
        (campaign_id, *params, since, until))[0]
    revenue = round(float(row["revenue"] or 0), 2)
    return {"members": members, "buyers": row["buyers"], "orders": row["orders"], "revenue": revenue,
            "revenue_per_member": round(revenue / members, 4) if members else None,
            "conversion_pct": round(100.0 * row["buyers"] / members, 2) if members else None}


def results(crm, ref, days=30):
    """Orders and revenue within ``days`` days of the send: all recipients,
    each variant, and the holdout; the uplift per recipient against it."""
    campaign = get_campaign(crm, ref)
    require_rates(crm)  # revenue in the base currency
    if not campaign["started_at"]:
        return {"campaign": campaign["name"], "days": days, "since": None, "until": None, "groups": [],
                "revenue_per_recipient": None, "revenue_per_holdout": None, "uplift_per_recipient": None,
                "uplift_pct": None, "unsubscribed": 0, "bounced": 0}
    start = dt.date.fromisoformat(campaign["started_at"][:10])
    since, until = start.isoformat(), (start + dt.timedelta(days=days)).isoformat()
    cid = campaign["id"]
    groups = [{"group": "recipients", **_group(crm, cid, "o.status IN ('sent', 'bounced')", (), since, until)}]
    for name in variant_names(campaign) if len(campaign["variants"]) > 1 else ():
        groups.append({"group": f"variant {name}", **_group(crm, cid, "o.status IN ('sent', 'bounced') AND o.variant = ?", (name,), since, until)})
    holdout = {"group": "holdout", **_group(crm, cid, "o.status = 'holdout'", (), since, until)}
    groups.append(holdout)
    per_recipient, per_holdout = groups[0]["revenue_per_member"], holdout["revenue_per_member"]
    uplift = round(per_recipient - per_holdout, 4) if per_recipient is not None and per_holdout is not None else None
    uplift_pct = round(100.0 * uplift / per_holdout, 2) if uplift is not None and per_holdout else None
    unsubscribed = crm.store.query_value(
        "SELECT count(*) FROM campaign_outbox o JOIN contacts c ON c.id = o.contact_id "
        "WHERE o.campaign_id = ? AND o.status IN ('sent', 'bounced') AND c.consent = 0 AND c.consent_at >= ? AND c.consent_at < ?",
        (cid, campaign["started_at"], until))
    return {"campaign": campaign["name"], "days": days, "since": since, "until": until, "groups": groups,
            "revenue_per_recipient": per_recipient, "revenue_per_holdout": per_holdout,
            "uplift_per_recipient": uplift, "uplift_pct": uplift_pct, "unsubscribed": unsubscribed,
            "bounced": counts(crm, cid)["bounced"]}
