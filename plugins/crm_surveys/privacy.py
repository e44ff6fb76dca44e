"""Erasure of a respondent's personal data."""


def erase_contact(crm, contact_id):
    """Delete the contact's free-text answers and invitations (token, segment)
    and unlink their responses.

    The numeric scores and choices of the responses are kept, unlinked: with
    the contact, invitation and free text gone nothing ties them to a person
    any more (anonymous data in the sense of GDPR recital 26), and deleting
    them would silently rewrite the NPS history already reported to others.
    The follow-up task link goes too (the core deletes the contact's activities)."""
    store = crm.store
    store.execute(
        "DELETE FROM survey_answers WHERE response_id IN (SELECT id FROM survey_responses WHERE contact_id = ?) "
        "AND question_id IN (SELECT id FROM survey_questions WHERE type = 'text')",
        (contact_id,),
    )
    store.execute(
        "UPDATE survey_responses SET contact_id = NULL, invitation_id = NULL, followup_id = NULL WHERE contact_id = ?",
        (contact_id,),
    )
    store.execute(
        "UPDATE survey_responses SET invitation_id = NULL WHERE invitation_id IN (SELECT id FROM survey_invitations WHERE contact_id = ?)",
        (contact_id,),
    )
    store.execute("DELETE FROM survey_invitations WHERE contact_id = ?", (contact_id,))
