"""Schema steps of the surveys plugin, applied once per database in order."""

from .records import RECORD_TYPES


def m001_survey_tables(store):
    for cls in RECORD_TYPES:
        store.ensure_table(cls)
    store.create_index("survey_questions", ["survey_id", "key"], "ux_survey_questions_key", unique=True)
    store.create_index("survey_invitations", ["survey_id", "contact_id"], "ix_survey_invitations_contact")
    store.create_index("survey_responses", ["contact_id", "submitted_at"], "ix_survey_responses_contact")
    store.create_index("survey_responses", ["survey_id", "ref"], "ux_survey_responses_ref", unique=True)
    store.create_index("survey_answers", ["question_id", "number"], "ix_survey_answers_question")


def m002_hash_invitation_tokens(store):
    """Keep only the SHA-256 of each invitation token: a copy of the database
    can no longer answer anyone's survey. Links already sent keep working (the
    token they carry is hashed on arrival)."""
    import hashlib

    rows = [(hashlib.sha256(r["token"].encode()).hexdigest(), r["id"])
            for r in store.query("SELECT id, token FROM survey_invitations WHERE token <> ''")]
    store.executemany("UPDATE survey_invitations SET token = ? WHERE id = ?", rows)


MIGRATIONS = [m001_survey_tables, m002_hash_invitation_tokens]
