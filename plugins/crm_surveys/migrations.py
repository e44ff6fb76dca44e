"""Schema steps of the surveys plugin, applied once per database in order."""

from crmcore import TableSpec, link_contacts

# The tables as this migration creates them, frozen as data: a later change
# to the record classes needs a migration of its own (crm doctor names it).
M001_TABLES = (
    TableSpec(
        table='surveys',
        columns=(
            ('id', 'INTEGER'), ('name', 'TEXT'), ('description', 'TEXT'), ('status', 'TEXT'), ('base_url', 'TEXT'),
            ('closed_at', 'TEXT'), ('created_at', 'TEXT'), ('updated_at', 'TEXT'),
        ),
        unique=('name',),
    ),
    TableSpec(
        table='survey_questions',
        columns=(
            ('id', 'INTEGER'), ('survey_id', 'INTEGER'), ('position', 'INTEGER'), ('key', 'TEXT'), ('text', 'TEXT'),
            ('type', 'TEXT'), ('required', 'INTEGER'), ('scale', 'INTEGER'), ('choices', 'TEXT'),
        ),
        references=(('survey_id', 'surveys'),),
        index=('survey_id',),
    ),
    TableSpec(
        table='survey_invitations',
        columns=(
            ('id', 'INTEGER'), ('survey_id', 'INTEGER'), ('contact_id', 'INTEGER'), ('token', 'TEXT'),
            ('batch', 'TEXT'), ('segment', 'TEXT'), ('created_at', 'TEXT'), ('updated_at', 'TEXT'),
        ),
        references=(('survey_id', 'surveys'), ('contact_id', 'contacts')),
        unique=('token',),
        index=('survey_id', 'contact_id', 'batch'),
    ),
    TableSpec(
        table='survey_responses',
        columns=(
            ('id', 'INTEGER'), ('survey_id', 'INTEGER'), ('contact_id', 'INTEGER'), ('invitation_id', 'INTEGER'),
            ('channel', 'TEXT'), ('ref', 'TEXT'), ('submitted_at', 'TEXT'), ('followup_id', 'INTEGER'),
            ('created_at', 'TEXT'), ('updated_at', 'TEXT'),
        ),
        references=(('survey_id', 'surveys'), ('contact_id', 'contacts'), ('invitation_id', 'survey_invitations')),
        index=('survey_id', 'contact_id', 'invitation_id', 'submitted_at'),
    ),
    TableSpec(
        table='survey_answers',
        columns=(
            ('id', 'INTEGER'), ('response_id', 'INTEGER'), ('question_id', 'INTEGER'), ('number', 'REAL'),
            ('value', 'TEXT'), ('choices', 'TEXT'),
        ),
        references=(('response_id', 'survey_responses'), ('question_id', 'survey_questions')),
        index=('response_id', 'question_id'),
    ),
)


def m001_survey_tables(store):
    for spec in M001_TABLES:
        store.ensure_table(spec)
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


def m003_contact_links(store):
    """Invitations hold a person's token and address list: they go with the
    contact. Responses lose the link and keep their scores (anonymous, see
    privacy.py); while this plugin runs, its erase hook also deletes the
    free-text answers first."""
    link_contacts(store, "survey_invitations", "contact_id", "delete")
    link_contacts(store, "survey_responses", "contact_id", "unlink")


MIGRATIONS = [m001_survey_tables, m002_hash_invitation_tokens, m003_contact_links]
