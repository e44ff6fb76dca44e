"""Response import: mapping, linking by token/e-mail/id, validation, all-or-nothing."""

import csv

import pytest

from crm_surveys.importer import import_responses
from crm_surveys.invitations import invite
from crmcore import CRMError


@pytest.fixture
def tokens(scrm, survey, people, segments):
    segments.segments["buyers"] = people[:2]
    rows, _ = invite(scrm, "feedback", "buyers")
    return {r["email"]: r["token"] for r in rows}


def counts(crm):
    return (crm.store.count("survey_responses"), crm.store.count("survey_answers"), crm.store.count("activities"))


def test_import_links_by_token_email_and_id_and_maps_headers(scrm, survey, people, tokens, write_file):
    ada, bob, cy = people
    path = write_file("r.csv", (
        "Token,Email Address,Contact ID,Timestamp,How likely are you to recommend us?,CSAT,where,liked,comment,IP Address\n"
        f"{tokens['ada@example.com']},,,2024-05-02 14:03:00,10,5,web,Price;Delivery,Great!,1.2.3.4\n"
        ",bob@example.com,,2024-05-03T09:00:00,6,2,,,Slow,1.2.3.5\n"
        f",,{cy},,8,4,Store,,,1.2.3.6\n"
    ))
    result = import_responses(scrm, "feedback", path, mapping={"IP Address": "-"})
    assert result.created == 3 and not result.rejected
    rows = scrm.store.query("SELECT contact_id, invitation_id IS NOT NULL AS invited, channel, submitted_at FROM survey_responses ORDER BY id")
    # Bob answered by e-mail, not his link: the response still counts for his invitation. Cy was never invited.
    assert [(r["contact_id"], r["invited"], r["channel"]) for r in rows] == [(ada, 1, "import"), (bob, 1, "import"), (cy, 0, "import")]
    assert rows[0]["submitted_at"] == "2024-05-02T14:03:00"
    answers = {(r["response_id"], r["key"]): (r["number"], r["value"]) for r in scrm.store.query(
        "SELECT a.response_id, q.key, a.number, a.value FROM survey_answers a JOIN survey_questions q ON q.id = a.question_id")}
    assert answers[(1, "where")] == (None, "Web") and answers[(1, "liked")] == (None, "Price;Delivery")
    assert answers[(2, "nps")] == (6.0, "")
    # Bob is a detractor: his owner gets a follow-up task through the event hook
    assert scrm.store.query("SELECT contact_id, owner, kind FROM activities") == [{"contact_id": bob, "owner": "bob", "kind": "task"}]


def _rejected_whole(crm, path, message):
    before = counts(crm)
    with pytest.raises(CRMError, match=message):
        import_responses(crm, "feedback", path)
    assert counts(crm) == before


def test_unknown_question_column_is_named(scrm, survey, tokens, write_file):
    path = write_file("r.csv", f"token,nps,csat,speed\n{tokens['ada@example.com']},9,5,3\n")
    _rejected_whole(scrm, path, r"r.csv: row 1: column 'speed' is not a question of survey 'feedback'.*--map")


def test_out_of_range_value_names_row_and_column_and_writes_nothing(scrm, survey, tokens, write_file):
    path = write_file("r.csv", (
        "token,Recommend (0-10),csat\n"
        f"{tokens['ada@example.com']},9,5\n"
        f"{tokens['bob@example.com']},11,4\n"
    ))
    with pytest.raises(CRMError, match="no column matches|not a question"):
        import_responses(scrm, "feedback", path)
    before = counts(scrm)
    with pytest.raises(CRMError, match=r"r.csv: row 3: Recommend \(0-10\): 11 is out of range 0-10"):
        import_responses(scrm, "feedback", path, mapping={"Recommend (0-10)": "nps"})
    assert counts(scrm) == before == (0, 0, 0)


def test_unknown_token_and_reused_token(scrm, survey, tokens, write_file):
    ada = tokens["ada@example.com"]
    _rejected_whole(scrm, write_file("a.csv", f"token,nps,csat\n{ada},9,5\nnot-a-token,9,5\n"), r"row 3: token: unknown token 'not-a-token'")
    _rejected_whole(scrm, write_file("b.csv", f"token,nps,csat\n{ada},9,5\n{ada},3,1\n"), r"row 3: token: token .* also answers row 2")
    import_responses(scrm, "feedback", write_file("c.csv", f"token,nps,csat\n{ada},9,5\n"))
    _rejected_whole(scrm, write_file("d.csv", f"token,nps,csat\n{ada},9,5\n"), r"row 2: token: token .* was already answered \(response 1\)")


def test_other_row_errors(scrm, survey, tokens, write_file):
    _rejected_whole(scrm, write_file("a.csv", "email,nps,csat\nghost@example.com,9,5\n"), r"row 2: email: no contact with e-mail 'ghost@example.com'")
    _rejected_whole(scrm, write_file("b.csv", "email,nps,csat,where\nada@example.com,9,5,Phone\n"), r"row 2: where: 'Phone' is not one of: Web, Store")
    _rejected_whole(scrm, write_file("c.csv", "email,nps,csat\nada@example.com,9,\n"), r"row 2: csat: an answer is required")
    _rejected_whole(scrm, write_file("d.csv", "nps,csat\n9,5\n"), r"no token, email or contact_id column")
    _rejected_whole(scrm, write_file("e.csv", "email,nps,csat,submitted_at\nada@example.com,9,5,yesterday\n"), r"row 2: submitted_at: invalid timestamp")
    _rejected_whole(scrm, write_file("f.csv", "email,nps,csat\nada@example.com,9,5,extra\n"), r"row 2: 4 columns but the header has 3")


def test_rejects_file_keeps_the_good_rows(scrm, survey, tokens, write_file, tmp_path):
    path = write_file("r.csv", (
        "token,nps,csat\n"
        f"{tokens['ada@example.com']},9,5\n"
        "nope,9,5\n"
        f"{tokens['bob@example.com']},-1,4\n"
    ))
    rejects = tmp_path / "rejects.csv"
    result = import_responses(scrm, "feedback", path, rejects_path=str(rejects))
    assert result.created == 1 and len(result.rejected) == 2
    rows = list(csv.DictReader(rejects.open()))
    assert [(r["row"], r["field"]) for r in rows] == [("3", "token"), ("4", "nps")]
    assert "-1 is out of range 0-10" in rows[1]["reason"]
    assert scrm.store.count("survey_responses") == 1


def test_dry_run_and_anonymous(scrm, survey, write_file):
    path = write_file("r.csv", "nps,csat,comment\n10,5,Lovely shop\n")
    result = import_responses(scrm, "feedback", path, anonymous=True, dry_run=True)
    assert result.created == 1 and scrm.store.count("survey_responses") == 0
    import_responses(scrm, "feedback", path, anonymous=True)
    assert scrm.store.query("SELECT contact_id FROM survey_responses") == [{"contact_id": None}]


def test_a_failing_listener_rolls_the_whole_import_back(make_crm, segments, write_file):
    import crm_surveys
    from crm_surveys.definitions import create_survey
    from crmcore import hookimpl
    from crmcore.entities import Contact

    class Broken:
        @hookimpl
        def crm_survey_response_recorded(self, response):
            if response["id"] == 2:
                raise RuntimeError("mail server down")

    crm = make_crm(plugins=[crm_surveys, ("broken", Broken())])
    crm.add_many([Contact(email="a@example.com"), Contact(email="b@example.com")])
    create_survey(crm, "s", "", [{"key": "nps", "type": "nps", "text": "Recommend?"}])
    with pytest.raises(Exception, match="plugin 'broken' failed in crm_survey_response_recorded"):
        import_responses(crm, "s", write_file("r.csv", "email,nps\na@example.com,2\nb@example.com,3\n"))
    assert counts(crm) == (0, 0, 0)


def test_a_growing_tool_export_can_be_imported_again(scrm, survey, people, write_file):
    first = write_file("export1.csv", "Respondent ID,Email,nps,csat\nR1,ada@example.com,9,5\n")
    second = write_file("export2.csv", "Respondent ID,Email,nps,csat\nR1,ada@example.com,9,5\nR2,bob@example.com,10,4\n")
    assert import_responses(scrm, "feedback", first).created == 1
    result = import_responses(scrm, "feedback", second)
    assert (result.created, result.skipped) == (1, 1)
    assert [r["ref"] for r in scrm.store.query("SELECT ref FROM survey_responses ORDER BY id")] == ["R1", "R2"]
    twice = write_file("twice.csv", "#,Email,nps,csat\nR7,ada@example.com,9,5\nR7,bob@example.com,9,5\n")
    _rejected_whole(scrm, twice, r"row 3: #: response 'R7' also in row 2")


def test_json_rows_with_a_new_unknown_key_name_it(scrm, survey, people, write_file):
    path = write_file("r.json", '[{"email": "ada@example.com", "nps": 9, "csat": 5},'
                                ' {"email": "bob@example.com", "nps": 9, "csat": 5, "mood": "happy"}]')
    _rejected_whole(scrm, path, r"r.json: row 2: mood: column 'mood' is not a question of survey 'feedback'")


def test_errors_name_the_files_own_header(scrm, survey, write_file):
    _rejected_whole(scrm, write_file("r.csv", "Recipient Email,nps,csat\nghost@example.com,9,5\n"),
                    r"row 2: Recipient Email: no contact with e-mail 'ghost@example.com'")
