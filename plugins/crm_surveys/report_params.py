"""The parameters the surveys plugin's report declares (``--param`` and its form in ``crm serve``)."""

from crmcore import ReportParam


def _surveys(crm):
    return [r["name"] for r in crm.store.query("SELECT name FROM surveys ORDER BY id DESC")]


SURVEY = [
    ReportParam("survey", "Survey", "choice", choices=_surveys, help="the newest open one when empty"),
    ReportParam("min_answers", "Fewest answers to draw a month", "int", default="30", min=1, max=1_000_000,
                help="a month of NPS with fewer answers is not drawn: its margin of error is too wide"),
    ReportParam("as_of", "As of", "date", help="the day the trend's last 12 months count back to; the newest answer or order when empty"),
]
