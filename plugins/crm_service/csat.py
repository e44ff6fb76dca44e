"""CSAT after solving: the plugin answers its own ``crm_case_status_changed``
event by inviting the customer to the CSAT survey, through the surveys
plugin's functions, when that plugin is enabled.

The survey is the one named by the ``service.csat_survey`` setting
(``crm service csat-survey NAME``; ``csat`` by default). Each solved case
gets at most one invitation (re-solving after a reopen does not ask again);
contacts without marketing consent, suppressed addresses and contacts
without an e-mail get none. Without the surveys plugin, or without an open
survey of that name, solving simply invites nobody."""

from crmcore import normalize


SETTING = "service.csat_survey"
DEFAULT_SURVEY = "csat"


def survey_name(crm):
    return crm.get_setting(SETTING) or DEFAULT_SURVEY


def invite_solved(crm, changes):
    """Create invitations for the newly solved cases in ``changes``; returns
    ``{case_id: personal link or token}``."""
    solved = [c["case"] for c in changes if c["new_status"] == "solved" and not c["case"].get("csat_invitation_id")]
    if not solved or not crm.is_enabled("surveys") or not crm.store.table_exists("survey_invitations"):
        return {}
    try:
        from crm_surveys.api import get_survey, new_token, personal_link
    except ImportError:  # enabled in this database but not installed here
        return {}
    from crmcore import CRMError

    try:
        survey = get_survey(crm, survey_name(crm))
    except CRMError:
        return {}
    if survey["status"] != "open":
        return {}
    Invitation = crm.record_type("survey_invitations")
    taken, made = set(), {}
    stamp = normalize.now()
    for case in solved:
        contact = crm.store.get("contacts", case["contact_id"]) if case["contact_id"] else None
        if not contact or not contact["email"] or not contact["consent"]:
            continue
        if crm.is_suppressed(contact["email"]):
            continue
        token = new_token(taken)
        invitation_id = crm.add(Invitation(survey_id=survey["id"], contact_id=contact["id"], token=token,
                                           batch=f"service case #{case['id']}", segment="", created_at=stamp, updated_at=stamp))
        crm.store.execute("UPDATE service_cases SET csat_invitation_id = ? WHERE id = ?", (invitation_id, case["id"]))
        case["csat_invitation_id"] = invitation_id
        link = personal_link(survey["base_url"], token) if survey["base_url"] else None
        made[case["id"]] = link or token
        if link:
            _queue_invitation_mail(crm, case, contact, link)
    return made


INVITATION = """Hello {name},

your request "{subject}" (case #{case}) is solved. How satisfied are you with how we handled it?
One click tells us: {link}

Thank you!"""


def _queue_invitation_mail(crm, case, contact, link):
    """Queue the invitation e-mail in the case's conversation (the outbox) when
    replies have a sender; ``crm service solve`` sends it when an SMTP server is
    set, ``crm service send-queued`` otherwise. A ``csat`` macro replaces the text
    (it also sees ``link``)."""
    import os

    from .replies import FROM_ENV, FROM_SETTING, queue_mail

    sender = os.environ.get(FROM_ENV) or crm.get_setting(FROM_SETTING)
    if not sender:
        return None
    name = f"{contact['first_name']} {contact['last_name']}".strip() or contact["email"]
    body = INVITATION.format(name=name, subject=case["subject"], case=case["id"], link=link)
    if crm.store.query_value("SELECT 1 FROM service_macros WHERE name = 'csat'"):
        from crmcore import CRMError

        from .macros import render

        try:
            body = render(crm, "csat", case, contact, link=link)
        except CRMError:  # a broken macro must not undo the solve: the plain text goes out
            pass
    return queue_mail(crm, case, body, sender, normalize.now(), subject=f"[#{case['id']}] How did we do? {case['subject']}")


