"""Demo data: a believable service history.

About one contact in six has written in; customers whose latest NPS answer
was a detractor's are four times as likely to have a case, and most cases
name a product the customer bought. Older cases are solved (a few late),
recent ones still open; solved cases of consenting customers get the CSAT
invitation through the normal event, and about half answer, less happily
when their case ran late."""

import datetime as dt

from crmcore import normalize

from . import sla as sla_module
from .cases import add_message, open_case, transition
from .csat import DEFAULT_SURVEY

AGENTS = ["sam@shop.example", "kim@shop.example", "lee@shop.example", "noor@shop.example"]
TOPICS = [
    ("defect", "{product} stopped working", "My {product} stopped working after two weeks. What can I do?"),
    ("defect", "{product} arrived damaged", "The box was crushed and the {product} is dented."),
    ("delivery", "Where is my order?", "I ordered ten days ago and the parcel has not arrived."),
    ("return", "Return of {product}", "I would like to return the {product}; it is not what I expected."),
    ("invoice", "Invoice shows the wrong amount", "I was charged twice for my last order."),
    ("how-to", "How do I set up the {product}?", "The manual does not explain how to pair it with my phone."),
]
CHANNEL_WEIGHTS = [("email", 55), ("phone", 25), ("web", 10), ("store", 6), ("social", 4)]
PRIORITY_WEIGHTS = [("low", 15), ("normal", 60), ("high", 20), ("urgent", 5)]


def _pick(rng, weighted):
    return rng.choices([k for k, _ in weighted], [w for _, w in weighted])[0]


def _detractors(crm):
    if not crm.store.table_exists("survey_answers"):
        return set()
    return {r["contact_id"] for r in crm.store.query(
        "SELECT r.contact_id FROM survey_responses r JOIN survey_answers a ON a.response_id = r.id "
        "JOIN survey_questions q ON q.id = a.question_id WHERE q.type = 'nps' AND a.number <= 6 AND r.contact_id IS NOT NULL")}


def _bought(crm):
    if not crm.store.table_exists("products"):
        return {}, {}
    names = {r["sku"]: r["name"] for r in crm.store.query("SELECT sku, name FROM products")}
    bought = {}
    for r in crm.store.query("SELECT DISTINCT o.contact_id, l.sku FROM orders o JOIN order_lines l ON l.order_id = o.id "
                             "WHERE o.contact_id IS NOT NULL ORDER BY o.contact_id, l.sku"):
        if r["sku"] in names:
            bought.setdefault(r["contact_id"], []).append(r["sku"])
    return bought, names


def _ensure_csat_survey(crm):
    if not crm.is_enabled("surveys") or not crm.store.table_exists("surveys"):
        return None
    from crm_surveys.api import create_survey, get_survey

    if not crm.store.query_value("SELECT 1 FROM surveys WHERE name = ?", (DEFAULT_SURVEY,)):
        create_survey(crm, DEFAULT_SURVEY, "Sent when a service case is solved",
                      [{"key": "csat", "type": "csat", "text": "How satisfied are you with how we handled your request?"},
                       {"key": "comment", "type": "text", "text": "Anything we could have done better?", "required": False}],
                      "https://shop.example/help-feedback")
    return get_survey(crm, DEFAULT_SURVEY)


DEMO_MACROS = {
    "thanks": "Hello {{ contact.first_name or contact.name }},\n\nthank you for your message about \"{{ case.subject }}\". "
              "We are on it and will write again as soon as we know more.\n\nKind regards,\n{{ agent }}",
    "where-is-my-order": "Hello {{ contact.first_name or contact.name }},\n\nyour parcel left our warehouse and should "
                         "arrive within two working days; the tracking link is in your shipping confirmation.\n\n"
                         "Kind regards,\n{{ agent }}",
}


def add_demo_macros(crm):
    """Saved replies the README's `crm service reply 42 --macro thanks` uses."""
    from .macros import save

    if not crm.store.count("service_macros"):
        for name, body in DEMO_MACROS.items():
            save(crm, name, body)


def add_demo_cases(crm, rng, contact_ids):
    add_demo_macros(crm)
    if crm.store.count("service_cases"):
        return
    newest = crm.store.query_value("SELECT max(ordered_at) FROM orders")
    today = dt.date.fromisoformat(str(newest)[:10]) if newest else dt.date.today()
    sla = sla_module.get_sla(crm)
    detractors = _detractors(crm)
    bought, names = _bought(crm)
    survey = _ensure_csat_survey(crm)
    answers = []
    with crm.store.transaction():
        for cid in contact_ids:
            chance = 0.6 if cid in detractors else 0.15
            if rng.random() >= chance:
                continue
            for _ in range(1 + (rng.random() < 0.25)):
                answers += _one_case(crm, rng, cid, today, sla, bought.get(cid), names, survey is not None)
    # Demo customers are never mailed: no invitation e-mail waits in the outbox (CRM_SERVICE_FROM may be set).
    crm.store.execute("DELETE FROM service_messages WHERE delivery = 'queued'")
    if survey is not None and answers:
        from crm_surveys.api import record_responses, validate_all

        items = [{"answers": validate_all(survey, {"csat": str(score)}), "contact_id": contact_id, "invitation_id": inv,
                  "channel": "email", "submitted_at": at} for contact_id, inv, score, at in answers]
        record_responses(crm, survey, items)


def _stamp(day, rng, hour_from=8, hour_to=18):
    return dt.datetime.combine(day, dt.time(rng.randint(hour_from, hour_to - 1), rng.randint(0, 59))).isoformat(timespec="seconds")


def _plus_hours(stamp, hours):
    return (dt.datetime.fromisoformat(stamp) + dt.timedelta(hours=hours)).isoformat(timespec="seconds")


def _one_case(crm, rng, contact_id, today, sla, skus, names, with_csat):
    tag, subject, body = rng.choice(TOPICS)
    sku = rng.choice(skus) if skus and "{product}" in subject and rng.random() < 0.9 else ""
    product = names.get(sku, "kettle") if sku else "kettle"
    age = int(rng.triangular(0, 365, 0))
    created = _stamp(today - dt.timedelta(days=age), rng)
    priority = _pick(rng, PRIORITY_WEIGHTS)
    agent = rng.choice(AGENTS)
    email = crm.store.query_value("SELECT email FROM contacts WHERE id = ?", (contact_id,)) or ""
    case_id = open_case(crm, {"id": contact_id, "email": email}, subject.format(product=product), priority=priority,
                        channel=_pick(rng, CHANNEL_WEIGHTS), sku=sku if crm.is_enabled("products") else "",
                        description=body.format(product=product), assignee=agent, tags=[tag], at=created, sla=sla)
    case = crm.get("service_cases", case_id)
    now = created
    slow = rng.random() < 0.2
    if age == 0 and rng.random() < 0.5:
        return []  # still new
    now = _plus_hours(now, rng.uniform(0.2, 30 if slow else 6))
    add_message(crm, case_id, "outbound", "Thank you for writing to us. We are looking into it.", author=agent, at=now)
    case, _ = transition(crm, case, status="open", at=now, responded=True, sla=sla)
    if age < 3 and rng.random() < 0.7:
        return []
    if rng.random() < 0.4:
        waiting = "on-hold" if rng.random() < 0.2 else "pending"
        case, _ = transition(crm, case, status=waiting, at=_plus_hours(now, 1), sla=sla)
        if age < 7 and rng.random() < 0.5:
            return []  # still waiting for the customer (or the supplier)
        now = _plus_hours(now, rng.uniform(10, 72))
        add_message(crm, case_id, "inbound", "Here are the details you asked for.", author=email, at=now)
        case, _ = transition(crm, case, status="open", at=now, sla=sla)
    if age < 21 and rng.random() < 0.6:
        return []
    now = _plus_hours(now, rng.uniform(2, 120 if slow else 30))
    if now > normalize.now():
        return []
    case, change = transition(crm, case, status="solved", at=now, sla=sla)
    crm.emit("crm_case_status_changed", crm=crm, changes=[change])
    case = crm.get("service_cases", case_id)
    if age > 30:
        _, change = transition(crm, case, status="closed", at=_plus_hours(now, 72), sla=sla)
        crm.emit("crm_case_status_changed", crm=crm, changes=[change])
    if with_csat and case["csat_invitation_id"] and rng.random() < 0.5:
        late = case["resolution_seconds"] > sla.targets[priority][1]
        score = rng.choices([1, 2, 3, 4, 5], [30, 25, 20, 15, 10] if late else [3, 5, 12, 35, 45])[0]
        return [(contact_id, case["csat_invitation_id"], score, _plus_hours(now, rng.uniform(1, 48)))]
    return []
