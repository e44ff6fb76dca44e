"""Hooks the surveys plugin adds to the CRM (collected by the core plugin manager).

Other plugins implement them with ``@crmcore.hookimpl`` exactly like core hooks.
"""

from crmcore import hookspec


@hookspec
def crm_survey_responses_recorded(crm, survey, responses):
    """Survey responses were saved (a batch: one call per import, form or
    answer); runs inside the write's transaction.

    ``survey`` is the survey row dict; ``responses`` a list of dicts with
    ``response`` (the response row dict; ``contact_id`` may be ``None`` for
    anonymous feedback) and ``answers`` (a list of dicts with ``question``
    (key), ``type``, ``number`` (scored types), ``value`` (text or the chosen
    option) and ``choices`` (multiple choice))."""


@hookspec(warn_on_impl=DeprecationWarning("crm_survey_response_recorded is called once per response: "
                                          "implement crm_survey_responses_recorded (a batch) instead"))
def crm_survey_response_recorded(crm, survey, response, answers):
    """Deprecated, still called: one call per saved response (use
    ``crm_survey_responses_recorded``, which gets them in one batch).

    ``survey`` is the survey row dict, ``response`` the response row dict
    (``contact_id`` may be ``None`` for anonymous feedback) and ``answers`` a
    list of dicts with ``question`` (key), ``type``, ``number`` (scored types),
    ``value`` (text or the chosen option) and ``choices`` (multiple choice)."""
