"""``preview`` (the message of one contact, as bytes with every header) and
``test`` (one message to any address, nothing recorded). Both show the
unsubscribe link as ``BASE/unsubscribe/TOKEN``: a real token would let
whoever sees the preview or the test mail unsubscribe the contact."""

import secrets

from crmcore import CRMError

from . import mail
from .campaigns import get_campaign, variant_names
from .sending import Renderer


def _variant(campaign, variant):
    names = variant_names(campaign)
    variant = (variant or names[0]).upper()
    if variant not in names:
        raise CRMError(f"--variant: {variant!r} is not one of {', '.join(names)}")
    return variant


def _message_id(crm, campaign, contact_id):
    """The Message-ID the contact's message carries (once frozen), else a new one."""
    found = crm.store.query_value("SELECT message_id FROM campaign_outbox WHERE campaign_id = ? AND contact_id = ?",
                                  (campaign["id"], contact_id))
    return found or f"<{campaign['id']}.{contact_id}.{secrets.token_hex(8)}@{mail.message_domain(campaign['from_addr'])}>"


def preview(crm, ref, contact_ref, variant=None):
    """The rendered message for one contact, as it will be sent (bytes)."""
    campaign = get_campaign(crm, ref)
    contact = crm.find_contact(contact_ref)
    if not contact["email"]:
        raise CRMError(f"--contact: {contact_ref!r} has no e-mail address")
    renderer = Renderer(crm, campaign)
    variant = _variant(campaign, variant)
    try:
        # A placeholder link: a preview pasted somewhere must not let anyone unsubscribe the contact.
        message = renderer.message(contact, variant, _message_id(crm, campaign, contact["id"]), placeholder=True)
    except mail.MessageError as exc:
        raise CRMError(f"{campaign['name']}: {exc}") from None
    return message.as_bytes()


def sample_contact(crm, to):
    """A stand-in contact for a test to an address the CRM does not know."""
    return {"id": None, "first_name": "Test", "last_name": "Recipient", "email": to, "company": "", "city": "",
            "country": None, "custom": {}, "tags": [], "consent": True}


def send_test(crm, ref, to, contact_ref=None, url=None):
    """Send one message of ``ref`` to ``to`` (personalised for ``contact_ref``,
    the contact with that address, or a sample); nothing is recorded."""
    from crmcore import normalize

    from .transports import PermanentFailure, TemporaryFailure, open_transport

    campaign = get_campaign(crm, ref)
    try:
        to = normalize.email(to)
    except ValueError as exc:
        raise CRMError(f"--to: {exc}") from None
    if contact_ref:
        contact = crm.find_contact(contact_ref)
    else:
        found = crm.store.query_value("SELECT id FROM contacts WHERE email = ?", (to,))
        contact = crm.find_contact(found) if found else sample_contact(crm, to)
    renderer = Renderer(crm, campaign)
    domain = mail.message_domain(campaign["from_addr"])
    try:
        message = renderer.message(contact, variant_names(campaign)[0], f"<test.{secrets.token_hex(8)}@{domain}>",
                                   to_email=to, placeholder=True, subject_prefix="[test] ")
    except mail.MessageError as exc:
        raise CRMError(f"{campaign['name']}: {exc}") from None
    transport = open_transport(crm, url)
    try:
        transport.send(message, mail.normalize_envelope(renderer.sender), mail.normalize_envelope(to))
    except (TemporaryFailure, PermanentFailure) as exc:
        raise CRMError(f"test message to {to} not accepted: {exc}") from None
    finally:
        transport.close()
    return to
