"""Segment fields of the service desk (SQL over the contact row aliased ``c``)."""


def segment_fields(store):
    days = store.dialect.days_between("CURRENT_TIMESTAMP", "s.created_at")
    fields = [
        ("open_cases", "(SELECT count(*) FROM service_cases s WHERE s.contact_id = c.id AND s.status NOT IN ('solved', 'closed'))",
         "number", "cases of the contact not yet solved or closed"),
        ("cases_last_90_days", f"(SELECT count(*) FROM service_cases s WHERE s.contact_id = c.id AND {days} < 90)",
         "number", "cases the contact opened in the last 90 days"),
    ]
    if store.table_exists("survey_responses"):  # the surveys plugin's tables
        fields.append(("last_case_csat",
         "(SELECT a.number FROM service_cases s JOIN survey_responses r ON r.invitation_id = s.csat_invitation_id "
         "JOIN survey_answers a ON a.response_id = r.id JOIN survey_questions q ON q.id = a.question_id "
         "WHERE s.contact_id = c.id AND q.type = 'csat' ORDER BY s.solved_at DESC, r.submitted_at DESC LIMIT 1)",
         "number", "the CSAT (1-5) the contact gave after their latest solved case (surveys plugin)"))
    return fields
