"""Erasure of a respondent's personal data."""

import json


def erase_contact(crm, contact_id):
    """``erase_contacts`` for one contact."""
    return erase_contacts(crm, [contact_id])


def erase_contacts(crm, contact_ids):
    """Delete the contact's free-text answers and invitations (token, segment)
    and unlink their responses (contact, invitation, follow-up and the survey
    tool's response id).

    The numeric scores and choices of the responses are kept, unlinked: with
    the contact, invitation and free text gone nothing ties them to a person
    any more (anonymous data in the sense of GDPR recital 26), and deleting
    them would silently rewrite the NPS history already reported to others.
    The follow-up task link goes too (the core deletes the contact's activities).
    Returns notes for the person erasing: invitation lists were exported to a
    mail tool, which this CRM cannot reach."""
    store = crm.store
    ids = (json.dumps(list(contact_ids)),)
    among = f"IN ({store.dialect.json_values()})"
    sent = store.query(
        f"SELECT s.name, i.batch FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id WHERE i.contact_id {among} ORDER BY i.id",
        ids,
    )
    store.execute(
        f"DELETE FROM survey_answers WHERE response_id IN (SELECT id FROM survey_responses WHERE contact_id {among}) "
        "AND question_id IN (SELECT id FROM survey_questions WHERE type = 'text')",
        ids,
    )
    refs = [r["ref"] for r in store.query(f"SELECT ref FROM survey_responses WHERE contact_id {among} AND ref IS NOT NULL ORDER BY id", ids)]
    store.execute(
        f"UPDATE survey_responses SET contact_id = NULL, invitation_id = NULL, followup_id = NULL, ref = NULL WHERE contact_id {among}",
        ids,
    )
    store.execute(
        f"UPDATE survey_responses SET invitation_id = NULL WHERE invitation_id IN (SELECT id FROM survey_invitations WHERE contact_id {among})",
        ids,
    )
    store.execute(f"DELETE FROM survey_invitations WHERE contact_id {among}", ids)
    notes = [f"surveys: the e-mail address went to a mail tool in the invitation list of survey {r['name']!r} "
             f"(batch {r['batch']!r}); remove it there too" for r in sent]
    if refs:
        notes.append(f"surveys: responses {', '.join(refs)} were imported from a survey tool; erase them there too")
    return notes
