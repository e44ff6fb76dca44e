"""The response event, detractor follow-ups, segment fields and metrics, merge and erasure."""

import crm_surveys
import pytest
from crm_surveys.answers import record_response
from crmcore import hookimpl


def test_detractor_gets_a_follow_up_task_for_the_contacts_owner(scrm, survey, people):
    ada, bob, _ = people
    promoter = record_response(scrm, survey, {"nps": 9, "csat": 5}, contact_id=ada, submitted_at="2024-03-01T10:00:00")
    detractor = record_response(scrm, survey, {"nps": 6, "csat": 4, "comment": "Parcel was late"}, contact_id=bob,
                                channel="phone", submitted_at="2024-03-01T10:00:00")
    tasks = scrm.store.query("SELECT * FROM activities")
    assert len(tasks) == 1
    task = tasks[0]
    assert (task["contact_id"], task["kind"], task["owner"], task["done_at"]) == (bob, "task", "bob", None)
    assert "detractor (NPS 6)" in task["subject"] and "Parcel was late" in task["body"]
    assert task["due_at"] == "2024-03-03T10:00:00"
    followups = dict(scrm.store.execute("SELECT id, followup_id FROM survey_responses").fetchall())
    assert followups == {promoter: None, detractor: task["id"]}


def test_low_csat_alone_triggers_a_follow_up_but_a_passive_does_not(scrm, survey, people):
    ada, bob, _ = people
    record_response(scrm, survey, {"nps": 7, "csat": 2}, contact_id=ada)
    record_response(scrm, survey, {"nps": 8, "csat": 3}, contact_id=bob)
    assert [(r["contact_id"], r["subject"]) for r in scrm.store.query("SELECT contact_id, subject FROM activities")] == [
        (ada, "Survey follow-up: unhappy (CSAT 2) in 'feedback'")]


def test_other_plugins_receive_the_event_with_the_answers(make_crm):
    from crm_surveys.definitions import create_survey, get_survey
    from crmcore.entities import Contact

    seen = []

    class Listener:
        @hookimpl
        def crm_survey_response_recorded(self, crm, survey, response, answers):
            seen.append((survey["name"], response["contact_id"], crm.store.in_transaction, answers))

    crm = make_crm(plugins=[crm_surveys, ("listener", Listener())])
    cid = crm.add(Contact(email="a@example.com"))
    create_survey(crm, "s", "", [{"key": "nps", "type": "nps", "text": "Recommend?"},
                                 {"key": "liked", "type": "multiple", "text": "Liked?", "choices": ["A", "B"]}])
    record_response(crm, get_survey(crm, "s"), {"nps": "10", "liked": "b;a"}, contact_id=cid)
    assert seen == [("s", cid, True, [
        {"question": "nps", "type": "nps", "number": 10.0, "value": "", "choices": []},
        {"question": "liked", "type": "multiple", "number": None, "value": "B;A", "choices": ["B", "A"]}])]


def test_a_batch_of_responses_is_one_hook_call_and_the_old_per_response_hook_still_runs(make_crm):
    from crm_surveys.definitions import create_survey, get_survey
    from crm_surveys.answers import record_responses, validate_all

    from crmcore import Contact

    batches, singles = [], []

    class Batch:
        @hookimpl
        def crm_survey_responses_recorded(self, survey, responses):
            batches.append([(done["response"]["contact_id"], done["answers"][0]["number"]) for done in responses])

    class Old:
        @hookimpl
        def crm_survey_response_recorded(self, response):
            singles.append(response["contact_id"])

    with pytest.warns(DeprecationWarning, match="crm_survey_responses_recorded"):
        crm = make_crm(plugins=[crm_surveys, ("batch", Batch()), ("old", Old())])
    ids = crm.add_many([Contact(email=f"p{i}@example.com") for i in range(3)])
    create_survey(crm, "s", "", [{"key": "nps", "type": "nps", "text": "Recommend?"}])
    survey = get_survey(crm, "s")
    items = [{"contact_id": cid, "answers": validate_all(survey, {"nps": str(score)})} for cid, score in zip(ids, (2, 9, 10))]
    record_responses(crm, survey, items)
    assert batches == [[(ids[0], 2.0), (ids[1], 9.0), (ids[2], 10.0)]]
    assert singles == ids
    # the plugin's own follow-up runs on the batch: one task, for the detractor
    tasks = crm.store.query("SELECT contact_id FROM activities WHERE kind = 'task'")
    assert [t["contact_id"] for t in tasks] == [ids[0]]


def _segment_field(crm, name, contact_id):
    field = crm.registry.segment_fields[name]
    return crm.store.query_value(f"SELECT {field.sql} FROM contacts c WHERE c.id = ?", (contact_id,))


def test_segment_fields_follow_the_latest_nps_answer(scrm, survey, people):
    ada, bob, cy = people
    record_response(scrm, survey, {"nps": 3, "csat": 4}, contact_id=ada, submitted_at="2024-01-01T00:00:00")
    record_response(scrm, survey, {"nps": 9, "csat": 4}, contact_id=ada, submitted_at="2024-02-01T00:00:00")
    record_response(scrm, survey, {"nps": 7, "csat": 4}, contact_id=bob)
    assert (_segment_field(scrm, "last_nps", ada), _segment_field(scrm, "last_nps_category", ada)) == (9.0, "promoter")
    assert _segment_field(scrm, "last_nps_category", bob) == "passive"
    assert (_segment_field(scrm, "last_nps", cy), _segment_field(scrm, "last_nps_category", cy)) == (None, None)
    assert scrm.registry.segment_fields["last_nps"].type == "number"


def test_segment_metrics_use_each_members_latest_answer(scrm, survey, people):
    ada, bob, cy = people
    record_response(scrm, survey, {"nps": 0, "csat": 4}, contact_id=ada, submitted_at="2024-01-01T00:00:00")
    record_response(scrm, survey, {"nps": 10, "csat": 4}, contact_id=ada, submitted_at="2024-02-01T00:00:00")
    record_response(scrm, survey, {"nps": 5, "csat": 4}, contact_id=bob)
    # latest answers: ada 10 (promoter), bob 5 (detractor) -> 50% - 50% = 0,
    # margin 100 * 1.96 * sqrt((0.5 + 0.5 - 0 ** 2) / 2) = 138.6
    assert crm_surveys.crm_segment_metrics(crm=scrm, segment="x", contact_ids=[ada, bob, cy]) == {
        "NPS": 0.0, "NPS responses": 2, "NPS margin": 138.6}
    assert crm_surveys.crm_segment_metrics(crm=scrm, segment="x", contact_ids=[ada]) == {"NPS": 100.0, "NPS responses": 1, "NPS margin": None}
    assert scrm.emit("crm_segment_metrics", crm=scrm, segment="x", contact_ids=[]) == [{"NPS": None, "NPS responses": 0, "NPS margin": None}]


def test_merge_moves_responses_and_invitations(scrm, survey, people, segments):
    from crm_surveys.invitations import invite

    ada, bob, _ = people
    segments.segments["s"] = [bob]
    invite(scrm, "feedback", "s")
    record_response(scrm, survey, {"nps": 9, "csat": 5}, contact_id=bob)
    scrm.merge_contacts(ada, bob)
    assert scrm.store.query_value("SELECT contact_id FROM survey_responses") == ada
    assert scrm.store.query_value("SELECT contact_id FROM survey_invitations") == ada


def test_erasure_removes_free_text_and_the_link_but_keeps_anonymous_scores(scrm, survey, people, segments):
    from crm_surveys.invitations import invite
    from crm_surveys.scores import scores

    ada, bob, _ = people
    segments.segments["s"] = [ada]
    invite(scrm, "feedback", "s")
    inv = scrm.store.query_value("SELECT id FROM survey_invitations")
    record_response(scrm, survey, {"nps": 2, "csat": 1, "comment": "I am Ada, call me on 0151 123"}, contact_id=ada, invitation_id=inv)
    record_response(scrm, survey, {"nps": 10, "csat": 5, "comment": "Bob likes it"}, contact_id=bob)
    scrm.store.execute("UPDATE survey_responses SET ref = 'TOOL-1' WHERE contact_id = ?", (ada,))
    with scrm.store.transaction():
        notes = scrm.emit("crm_contact_erased", crm=scrm, contact_id=ada, email="ada@example.com")
    assert len(notes) == 1 and "invitation list of survey 'feedback'" in notes[0][0]
    assert "responses TOOL-1 were imported from a survey tool" in notes[0][1]
    assert scrm.store.query_value("SELECT count(*) FROM survey_responses WHERE ref IS NOT NULL") == 0
    assert scrm.store.query("SELECT contact_id, invitation_id, followup_id FROM survey_responses ORDER BY id") == [
        {"contact_id": None, "invitation_id": None, "followup_id": None}, {"contact_id": bob, "invitation_id": None, "followup_id": None}]
    assert [r["value"] for r in scrm.store.query("SELECT value FROM survey_answers WHERE value != ''")] == ["Bob likes it"]
    assert scrm.store.count("survey_invitations") == 0
    assert {r["question"]: r["responses"] for r in scores(scrm, "feedback")} == {"nps": 2, "csat": 2}


def test_deleting_a_contact_with_responses_works(scrm, survey, people):
    ada = people[0]
    record_response(scrm, survey, {"nps": 9, "csat": 5, "comment": "hi"}, contact_id=ada)
    scrm.delete("contacts", [ada])
    assert scrm.store.query("SELECT contact_id FROM survey_responses") == [{"contact_id": None}]
    assert scrm.store.query_value("SELECT count(*) FROM survey_answers WHERE value = 'hi'") == 0
