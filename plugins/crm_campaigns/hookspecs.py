"""Hooks the campaigns plugin adds to the CRM (collected by the core plugin manager).

Other plugins implement them with ``@crmcore.hookimpl`` exactly like core hooks.
"""

from crmcore import hookspec


@hookspec
def crm_register_transports(register):
    """Add a channel campaigns can send through: ``register(scheme, factory, description)``.

    ``crm campaigns send NAME --smtp URL`` picks the transport by the URL's
    scheme (``smtp``, ``smtps`` and ``file`` are built in). ``factory(url)``
    returns an object with ``send(message, sender, recipient)`` (``message`` is
    an ``email.message.EmailMessage`` with every header set) and ``close()``.
    ``send`` returns once the other side accepted the message; it raises
    ``crm_campaigns.transports.TemporaryFailure`` for a failure worth retrying
    (the recipient stays queued) and ``PermanentFailure`` for a refusal (the
    recipient is marked failed with the reason)."""


@hookspec(firstresult=True)
def crm_contact_suggestions(crm, contact, limit):
    """Products to offer ``contact`` (its decoded row), best first: a list of
    dicts with at least ``sku``, ``name`` and ``price``, at most ``limit``.

    Implemented by the products plugin (cross-selling from order lines);
    campaign templates see the answer as ``suggestions`` (empty without one)."""
