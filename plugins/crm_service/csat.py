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
        from crm_surveys.definitions import get_survey
        from crm_surveys.invitations import new_token, personal_link
    except ImportError:  # enabled in this database but not installed here
        return {}
    from crmcore.app import CRMError

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
        made[case["id"]] = personal_link(survey["base_url"], token) if survey["base_url"] else token
    return made


