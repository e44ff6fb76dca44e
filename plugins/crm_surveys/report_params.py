"""The parameters the surveys plugin's report declares (``--param`` and its form in ``crm serve``)."""

from crmcore import ReportParam


def _surveys(crm):
    return [r["name"] for r in crm.store.query("SELECT name FROM surveys ORDER BY id DESC")]


SURVEY = [ReportParam("survey", "Survey", "choice", choices=_surveys, help="the newest open one when empty")]
