"""Demo data: a post-purchase survey with invitations and a realistic spread
of answers (NPS around +20 to +30, a tail of unhappy customers whose
detractor follow-ups are created through the normal event)."""

import datetime as dt

from crmcore import normalize

from .answers import record_responses, validate_all
from .definitions import create_survey, get_survey
from .invitations import token_hash

DEMO_SURVEY = {
    "name": "post-purchase",
    "description": "Sent a week after delivery: recommendation, satisfaction, effort and what to improve",
    "base_url": "https://shop.example/feedback",
    "questions": [
        {"key": "recommend", "type": "nps", "text": "How likely are you to recommend our shop to a friend or colleague?"},
        {"key": "satisfaction", "type": "csat", "text": "How satisfied are you with your last order?"},
        {"key": "effort", "type": "ces", "text": "How easy was it to get what you needed? (1 = very easy, 7 = very hard)", "required": False},
        {"key": "bought_via", "type": "choice", "text": "Where did you buy?", "choices": ["Web shop", "Store", "Phone", "Marketplace"]},
        {"key": "liked", "type": "multiple", "text": "What did you like?", "choices": ["Price", "Quality", "Delivery", "Advice", "Range"], "required": False},
        {"key": "comment", "type": "text", "text": "What should we do better?"},
    ],
}

PRAISE = ["Fast delivery, well packed.", "Great advice in the store.", "Quality is excellent, will order again.",
          "Good prices and friendly staff.", ""]
NEUTRAL = ["Fine, but delivery took a few days longer than promised.", "Website search could be better.", "OK overall.", ""]
COMPLAINTS = ["Parcel arrived damaged and nobody called back.", "Took three weeks to get a refund.",
              "The hose leaked after two uses.", "Hotline kept me waiting for 40 minutes.", "Wrong item delivered, twice."]
CHANNELS = {"web": "Web shop", "store": "Store", "phone": "Phone", "marketplace": "Marketplace"}


#: The invitation groups of the demo: segments the segments plugin's demo creates.
DEMO_GROUPS = ("recent-buyers", "wholesale")


def _segment_of(contact_id, wholesale, rng):
    rng.choice(["recent buyers", "recent buyers", "wholesale"])  # drawn as before: the rest of the demo stays the same
    return "wholesale" if contact_id in wholesale else "recent-buyers"


def _tags(value):
    import json

    return value if isinstance(value, list) else json.loads(value or "[]")


def _not_after(now, stamp):
    """No answer is given in the future: today's answers end at the current time."""
    return min(now, stamp)


def add_demo_survey(crm, rng, contact_ids, today=None):
    """Create the demo survey, invite about half of the consenting
    contacts in monthly batches and record answers for ~40% of them."""
    if crm.store.query_value("SELECT 1 FROM surveys WHERE name = ?", (DEMO_SURVEY["name"],)):
        return
    now = normalize.now() if today is None else f"{today.isoformat()}T23:59:59"
    today = today or dt.date.today()
    create_survey(crm, DEMO_SURVEY["name"], DEMO_SURVEY["description"], DEMO_SURVEY["questions"], DEMO_SURVEY["base_url"])
    survey = get_survey(crm, DEMO_SURVEY["name"])
    consenting = [r["id"] for r in crm.store.query("SELECT id FROM contacts WHERE consent = 1 AND email IS NOT NULL ORDER BY id")]
    invited = [cid for cid in consenting if rng.random() < 0.5]
    last_channel = {r["contact_id"]: r["channel"] for r in crm.store.query(
        "SELECT contact_id, channel FROM orders o WHERE ordered_at = (SELECT max(ordered_at) FROM orders WHERE contact_id = o.contact_id)")}
    import secrets

    wholesale = {r["id"] for r in crm.store.query("SELECT id, tags FROM contacts") if "wholesale" in _tags(r["tags"])}
    invitations, items = [], []
    stamp = f"{today.isoformat()}T08:00:00"
    for i, cid in enumerate(invited):
        months_ago = rng.randrange(12)
        sent = today - dt.timedelta(days=30 * months_ago + rng.randrange(5))
        batch = f"monthly {sent.strftime('%Y-%m')}"
        invitations.append({"survey_id": survey["id"], "contact_id": cid, "token": token_hash(secrets.token_urlsafe(16)), "batch": batch,
                            "segment": _segment_of(cid, wholesale, rng), "created_at": f"{sent.isoformat()}T08:00:00", "updated_at": stamp})
    inv_ids = crm.store.insert_many("survey_invitations", invitations)
    for inv_id, inv in zip(inv_ids, invitations):
        if rng.random() > 0.4:
            continue
        age_months = (today - dt.date.fromisoformat(inv["created_at"][:10])).days / 30
        mood = rng.random() + 0.08 * (1 - age_months / 12)  # customers slowly getting happier
        if mood < 0.2:
            score, csat, effort, comment = rng.randint(0, 6), rng.choice([1, 2, 2, 3]), rng.randint(4, 7), rng.choice(COMPLAINTS)
        elif mood < 0.5:
            score, csat, effort, comment = rng.randint(7, 8), rng.choice([3, 4, 4]), rng.randint(2, 5), rng.choice(NEUTRAL)
        else:
            score, csat, effort, comment = rng.choice([9, 9, 10, 10, 10]), rng.choice([4, 5, 5]), rng.randint(1, 3), rng.choice(PRAISE)
        answers = {"recommend": score, "satisfaction": csat, "effort": effort if rng.random() < 0.8 else "",
                   "bought_via": CHANNELS.get(last_channel.get(inv["contact_id"]), "Web shop"),
                   "liked": ";".join(rng.sample(["Price", "Quality", "Delivery", "Advice", "Range"], rng.randint(0, 2))),
                   "comment": comment}
        sent = dt.date.fromisoformat(inv["created_at"][:10])
        submitted = min(today, sent + dt.timedelta(days=rng.randint(0, 10)))
        items.append({"answers": validate_all(survey, answers), "contact_id": inv["contact_id"], "invitation_id": inv_id,
                      "channel": "email", "submitted_at": _not_after(now, f"{submitted.isoformat()}T{rng.randint(7, 21):02d}:{rng.randint(0, 59):02d}:00")})
    # Feedback taken at the counter and on the phone, without an invitation.
    for cid in rng.sample(contact_ids, min(len(contact_ids), max(2, len(contact_ids) // 40))):
        channel = rng.choice(["store", "store", "phone"])
        score = rng.choices([rng.randint(0, 6), rng.randint(7, 8), rng.randint(9, 10)], [15, 30, 55])[0]
        answers = {"recommend": score, "satisfaction": 2 if score <= 4 else 4 if score <= 8 else 5,
                   "bought_via": "Store" if channel == "store" else "Phone",
                   "comment": rng.choice(COMPLAINTS if score <= 6 else NEUTRAL if score <= 8 else PRAISE)}
        day = today - dt.timedelta(days=rng.randrange(360))
        items.append({"answers": validate_all(survey, answers), "contact_id": cid, "channel": channel,
                      "submitted_at": _not_after(now, f"{day.isoformat()}T{rng.randint(9, 18):02d}:{rng.randint(0, 59):02d}:00")})
    record_responses(crm, survey, items)
    # Support has worked through most older follow-ups and some recent ones.
    cutoff = (today - dt.timedelta(days=30)).isoformat()
    done = []
    for r in crm.store.query("SELECT r.followup_id, r.submitted_at, a.due_at FROM survey_responses r JOIN activities a ON a.id = r.followup_id "
                             "WHERE r.survey_id = ? ORDER BY r.id", (survey["id"],)):
        if rng.random() < (0.9 if r["submitted_at"] < cutoff else 0.3):
            done.append((min(r["due_at"][:10], today.isoformat()) + "T16:00:00", r["followup_id"]))
    crm.store.executemany("UPDATE activities SET done_at = ? WHERE id = ?", done)
