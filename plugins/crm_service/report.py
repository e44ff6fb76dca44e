"""The ``service`` report and the dashboard section."""


def context(crm, params):
    return {}


def dashboard_context(crm):
    return {}
