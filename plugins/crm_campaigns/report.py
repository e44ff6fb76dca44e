"""The ``campaign`` report and the dashboard's "Campaigns" section."""

from crmcore import CRMError

from .campaigns import get_campaign
from .results import results, status


def _days(params):
    try:
        days = int(params.get("days", 30))
    except ValueError:
        raise CRMError(f"--param days={params.get('days')!r} must be a whole number of days") from None
    if not 1 <= days <= 3650:
        raise CRMError("--param days must be 1-3650")
    return days


def context(crm, params):
    ref = params.get("campaign")
    if not ref:
        ref = crm.store.query_value("SELECT name FROM campaigns ORDER BY id DESC LIMIT 1")
        if ref is None:
            raise CRMError("no campaigns yet: crm campaigns create NAME ...")
    campaign = get_campaign(crm, ref)
    found = results(crm, campaign["name"], _days(params))
    return {"campaign": campaign, "status": status(crm, campaign["name"]), "results": found,
            "revenue_chart": [(g["group"], g["revenue_per_member"] or 0) for g in found["groups"]]}


def dashboard_context(crm):
    """The latest campaigns with their delivery and 30-day uplift."""
    rows = []
    for r in crm.store.query("SELECT name FROM campaigns WHERE started_at IS NOT NULL ORDER BY started_at DESC, id DESC LIMIT 5"):
        s, res = status(crm, r["name"]), results(crm, r["name"], 30)
        rows.append({"name": r["name"], "sent": s["sent"], "failed": s["failed"], "holdout": s["holdout"],
                     "revenue_per_recipient": res["revenue_per_recipient"], "revenue_per_holdout": res["revenue_per_holdout"],
                     "uplift_pct": res["uplift_pct"]})
    return {"campaigns": rows}
