"""Hooks the surveys plugin adds to the CRM (collected by the core plugin manager).

Other plugins implement them with ``@crmcore.hookimpl`` exactly like core hooks.
"""

from crmcore import hookspec


@hookspec
def crm_survey_response_recorded(crm, survey, response, answers):
    """A survey response was saved; runs inside the write's transaction.

    ``survey`` is the survey row dict, ``response`` the response row dict
    (``contact_id`` may be ``None`` for anonymous feedback) and ``answers`` a
    list of dicts with ``question`` (key), ``type``, ``number`` (scored types),
    ``value`` (text or the chosen option) and ``choices`` (multiple choice)."""
