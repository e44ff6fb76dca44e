"""The parameters the segments plugin's reports declare (``--param`` and their form in ``crm serve``)."""

import datetime as dt

from crmcore import ReportParam


def _segments(crm):
    return [r["name"] for r in crm.store.query("SELECT name FROM segments ORDER BY name")]


def _today(crm):
    return dt.date.today().isoformat()


AS_OF = ReportParam("as_of", "As of", "date", default=_today)
SEGMENTS = [AS_OF]
SEGMENT = [ReportParam("name", "Segment", "choice", choices=_segments, required=True, aliases=("segment",), metavar="SEGMENT"), AS_OF]
RFM = []
COHORTS = [
    ReportParam("by", "Cohorts by", "choice", choices=("month", "quarter"), default="month"),
    ReportParam("metric", "Measure", "choice", choices=("customers", "revenue"), default="customers"),
    ReportParam("segment", "Segment", "choice", choices=_segments, help="all customers when empty"),
    AS_OF,
]
