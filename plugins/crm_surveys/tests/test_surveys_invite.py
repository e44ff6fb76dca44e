"""Invitations: unique unguessable tokens, consent and suppression respected, CSV for mail tools."""

import csv
import hashlib
import io

import pytest

from crm_surveys.invitations import batches, invite, new_token, write_csv
from crmcore import CRMError
from crmcore.entities import Contact


def test_consent_suppression_and_missing_email_are_skipped(scrm, survey, people, segments):
    ada, bob, cy = people
    nomail = scrm.add(Contact(first_name="No", last_name="Mail", consent=True))
    scrm.suppress("bob@example.com")
    segments.segments["buyers"] = [ada, bob, cy, nomail]
    rows, skipped = invite(scrm, "feedback", "buyers")
    assert [r["email"] for r in rows] == ["ada@example.com"]
    assert skipped == {"no e-mail": 1, "suppressed": 1, "no consent": 1, "already invited": 0}
    stored = scrm.store.query("SELECT contact_id, segment, token FROM survey_invitations")
    assert [(r["contact_id"], r["segment"]) for r in stored] == [(ada, "buyers")]
    assert rows[0]["link"] == f"https://shop.example/f?token={rows[0]['token']}"
    assert stored[0]["token"] == hashlib.sha256(rows[0]["token"].encode()).hexdigest()  # only the hash is kept


def test_suppressed_contact_is_skipped_even_with_consent_set_again(scrm, survey, people, segments):
    scrm.suppress("ada@example.com")
    scrm.store.execute("UPDATE contacts SET consent = 1 WHERE email = 'ada@example.com'")
    segments.segments["s"] = [people[0]]
    rows, skipped = invite(scrm, "feedback", "s")
    assert rows == [] and skipped["suppressed"] == 1


def test_tokens_are_unique_long_and_a_contact_is_invited_once(scrm, survey, segments):
    ids = scrm.add_many([Contact(email=f"p{i}@example.com", consent=True) for i in range(300)])
    segments.segments["many"] = ids
    rows, _ = invite(scrm, "feedback", "many")
    tokens = [r["token"] for r in rows]
    assert len(tokens) == len(set(tokens)) == 300
    assert all(len(t) >= 22 for t in tokens)  # 128 random bits in URL-safe base64
    again, skipped = invite(scrm, "feedback", "many")
    assert again == [] and skipped["already invited"] == 300


def test_new_token_never_repeats_one_already_taken(monkeypatch):
    values = iter(["same", "same", "other"])
    monkeypatch.setattr("secrets.token_urlsafe", lambda n: next(values))
    taken = set()
    assert [new_token(taken), new_token(taken)] == ["same", "other"]


def test_invitation_errors(scrm, survey, segments, people):
    with pytest.raises(CRMError, match="no segment named 'ghost'"):
        invite(scrm, "feedback", "ghost")
    segments.segments["s"] = people
    with pytest.raises(CRMError, match="must start with http"):
        invite(scrm, "feedback", "s", base_url="shop.example")
    scrm.update("surveys", survey["id"], {"status": "closed"})
    with pytest.raises(CRMError, match="is closed"):
        invite(scrm, "feedback", "s")
    assert scrm.store.count("survey_invitations") == 0


def test_csv_has_the_mail_merge_columns_and_defuses_formulas_in_every_column(tmp_path):
    path = tmp_path / "invites.csv"
    write_csv([{"email": "=2+5@example.com", "name": "=HYPERLINK(1)", "first_name": "=HYPERLINK(1)", "last_name": "-x",
                "link": "https://x/?token=t-1", "token": "t-1"}], str(path))
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert rows == [{"email": "'=2+5@example.com", "name": "'=HYPERLINK(1)", "first_name": "'=HYPERLINK(1)", "last_name": "'-x",
                     "link": "https://x/?token=t-1", "token": "t-1"}]


def test_response_rate_per_batch(scrm, survey, people, segments):
    from crm_surveys.answers import record_response

    ada, bob, _ = people
    segments.segments["first"] = [ada]
    segments.segments["second"] = [bob]
    invite(scrm, "feedback", "first", batch="january")
    invite(scrm, "feedback", "second", batch="february")
    inv = scrm.store.query_value("SELECT id FROM survey_invitations WHERE contact_id = ?", (ada,))
    record_response(scrm, survey, {"nps": 9, "csat": 5}, contact_id=ada, invitation_id=inv)
    rows = {r["batch"]: r for r in batches(scrm, "feedback")}
    assert (rows["january"]["invitations"], rows["january"]["responses"], rows["january"]["response_rate"]) == (1, 1, 100.0)
    assert (rows["february"]["responses"], rows["february"]["response_rate"]) == (0, 0.0)


def test_an_invitee_answering_by_email_or_contact_id_counts_as_a_response_to_the_invitation(scrm, survey, people, segments):
    from crm_surveys.answers import record_response

    ada, bob, _ = people
    segments.segments["s"] = [ada, bob]
    invite(scrm, "feedback", "s", batch="may")
    record_response(scrm, survey, {"nps": 9, "csat": 5, "comment": ""}, contact_id=ada)  # by phone, no token
    record_response(scrm, survey, {"nps": 3, "csat": 2, "comment": ""}, contact_id=ada)  # a second answer: no second invitation to claim
    (row,) = batches(scrm, "feedback")
    assert (row["batch"], row["invitations"], row["responses"], row["response_rate"]) == ("may", 2, 1, 50.0)
    linked = scrm.store.query("SELECT invitation_id FROM survey_responses ORDER BY id")
    assert linked[0]["invitation_id"] is not None and linked[1]["invitation_id"] is None
