"""Hooks the service desk adds to the CRM (collected by the core plugin manager).

Other plugins implement them with ``@crmcore.hookimpl`` exactly like core hooks.
"""

from crmcore import hookspec


@hookspec
def crm_case_status_changed(crm, changes):
    """Service cases changed status; runs inside the write's transaction.

    ``changes`` is a batch: a list of dicts with ``case`` (the case row after
    the change), ``old_status``, ``new_status`` and ``at`` (the time of the
    change). The service plugin itself uses it to invite the customer to a
    CSAT survey when a case is solved."""


@hookspec
def crm_mail_bounced(crm, bounces):
    """Mail to these addresses bounced (a delivery status notification was imported).

    ``bounces`` is a batch: a list of dicts with ``email``, ``contact_id``
    (``None`` when no contact has the address), ``status`` (e.g. ``5.1.1``),
    ``action`` (``failed``, ``delayed``), ``diagnostic`` and ``at``. A
    campaigns plugin may stop mailing a hard-bounced address."""
