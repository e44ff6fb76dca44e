"""The parameters the campaigns plugin's report declares (``--param`` and its form in ``crm serve``)."""

from crmcore import ReportParam


def _campaigns(crm):
    return [r["name"] for r in crm.store.query("SELECT name FROM campaigns ORDER BY id DESC")]


CAMPAIGN = [
    ReportParam("campaign", "Campaign", "choice", choices=_campaigns, help="the newest when empty"),
    ReportParam("days", "Days after sending", "int", default="30", min=1, max=3650),
]
