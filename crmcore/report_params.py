"""The parameters the core's reports declare (``--param`` and their form in ``crm serve``)."""

from .reports import ReportParam


def _as_of_default(crm):
    from .dashboard import data_as_of

    return (data_as_of(crm) or "")[:10]


def _owners(crm):
    return [r["owner"] for r in crm.store.query(
        "SELECT DISTINCT owner FROM deals WHERE owner IS NOT NULL AND owner <> '' ORDER BY owner LIMIT 500")]


AS_OF = ReportParam("as_of", "As of", "date", default=_as_of_default, help="the day the report counts back from")
DASHBOARD = [ReportParam("owner", "Sales rep", "text", choices=_owners, help="only this rep's pipeline and win rate")]
TEAM = [AS_OF]
ACCOUNTS = [AS_OF]
