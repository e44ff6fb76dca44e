"""The team report, on hand-computed data."""

import datetime as dt

from crmcore import Activity, Contact, Deal, Order, render
from crmcore.team import figures

TODAY = dt.date(2026, 3, 11)  # a Wednesday


def test_team_figures(make_crm):
    crm = make_crm()
    ada, bob, cy = crm.add_many([Contact(email="ada@example.com", source="fair"), Contact(email="bob@example.com", source="fair"),
                                 Contact(email="cy@example.com", source="web")])
    crm.add_many([Order(ref="1", contact_id=ada, ordered_at="2026-01-01", total=100.0),
                  Order(ref="2", contact_id=ada, ordered_at="2026-02-01", total=50.0),
                  Order(ref="3", contact_id=cy, ordered_at="2026-02-01", total=30.0)])
    crm.add_many([
        Activity(contact_id=ada, kind="call", owner="sam", done_at="2026-03-09T10:00:00"),   # this week (Mon 9 Mar)
        Activity(contact_id=ada, kind="task", owner="sam", done_at="2026-03-03T10:00:00"),   # the week of 2 Mar
        Activity(contact_id=bob, kind="task", owner="kim", due_at="2026-03-01T09:00:00"),    # past due, open
        Activity(contact_id=bob, kind="task", owner="kim", due_at="2026-03-20T09:00:00"),    # not due yet
        Activity(contact_id=bob, kind="email", owner="kim", done_at="2025-10-01T10:00:00"),  # older than 8 weeks
    ])
    deals = crm.add_many([Deal(title="a", owner="sam", amount=1000.0, stage="proposal"),
                          Deal(title="b", owner="sam", amount=500.0, stage="lead"),
                          Deal(title="c", owner="kim", amount=300.0, stage="lead")])
    for deal_id, created, closed, status in ((deals[0], "2026-01-01", "2026-01-11", "won"), (deals[1], "2026-01-01", "2026-01-31", "won"),
                                             (deals[2], "2026-02-01", "2026-02-05", "lost")):
        crm.store.execute("UPDATE deals SET created_at = ?, closed_at = ?, status = ?, stage = ? WHERE id = ?",
                          (created + "T09:00:00", closed, status, status, deal_id))
    crm.add(Deal(title="open", owner="kim", amount=200.0, stage="proposal"))  # proposal: 50 %

    found = figures(crm, TODAY)
    assert found["weeks"][-1] == "2026-03-09" and len(found["weeks"]) == 8
    sam = next(r for r in found["activity"] if r["owner"] == "sam")
    assert sam["2026-03-09"] == 1 and sam["2026-03-02"] == 1 and sam["tasks_done"] == 1 and sam["total"] == 2
    assert [r["owner"] for r in found["activity"]] == ["sam"]  # kim's only done activity is older than 8 weeks
    assert found["overdue"] == [{"owner": "kim", "tasks": 1, "oldest": "2026-03-01T09:00:00"}]
    by_owner = {r["owner"]: r for r in found["pipeline"]}
    assert by_owner["sam"]["won"] == 2 and by_owner["sam"]["won_amount"] == 1500.0 and by_owner["sam"]["win_rate"] == 100.0
    assert by_owner["sam"]["median_days_to_win"] == 20  # 10 and 30 days
    assert by_owner["kim"]["lost"] == 1 and by_owner["kim"]["pipeline"] == 200.0 and by_owner["kim"]["weighted"] == 100.0
    assert found["median_days_to_win"] == 20
    sources = {r["source"]: r for r in found["conversion"]}
    assert sources["fair"] == {"source": "fair", "contacts": 2, "buyers": 1, "revenue": 150.0, "bought_pct": 50.0,
                               "revenue_per_contact": 75.0}
    assert sources["web"]["bought_pct"] == 100.0
    html = render(crm, "team", {"as_of": "2026-03-11"})
    assert "Tasks past due" in html and "Data up to 2026-03-11" in html
