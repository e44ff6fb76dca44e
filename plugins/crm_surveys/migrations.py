"""Schema steps of the surveys plugin, applied once per database in order."""

from crmcore import schema

from .records import RECORD_TYPES


def m001_survey_tables(store):
    for cls in RECORD_TYPES:
        schema.ensure_table(store.db, cls)
    db = store.db
    db["survey_questions"].create_index(["survey_id", "key"], unique=True, if_not_exists=True, index_name="ux_survey_questions_key")
    db["survey_invitations"].create_index(["survey_id", "contact_id"], if_not_exists=True, index_name="ix_survey_invitations_contact")
    db["survey_responses"].create_index(["contact_id", "submitted_at"], if_not_exists=True, index_name="ix_survey_responses_contact")
    db["survey_responses"].create_index(["survey_id", "ref"], unique=True, if_not_exists=True, index_name="ux_survey_responses_ref")
    db["survey_answers"].create_index(["question_id", "number"], if_not_exists=True, index_name="ix_survey_answers_question")


MIGRATIONS = [m001_survey_tables]
