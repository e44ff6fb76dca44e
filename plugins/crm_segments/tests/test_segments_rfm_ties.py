"""RFM scores when equal values sit exactly at the quintile cut points.

Seven customers, so the cut positions (ceil(7 k / 5) for k = 1..4: the 2nd,
3rd, 5th and 6th smallest values) fall between whole fifths, and every
measure has a tie across a cut. The scores are computed by hand from
``score = 1 + floor(5 * (rank - 1) / n)``, equal values sharing the rank of
the first of them; PostgreSQL finds the cut points in the server, SQLite in
Python, and both must give these scores.
"""

import datetime as dt

import pytest

import crm_segments
from crm_segments import rfm
from crmcore.entities import Contact, Order

AS_OF = dt.date(2025, 6, 30)

#: name: (date of the last order, orders, total of each order)
CUSTOMERS = {
    "a": ("2025-01-01", 1, 60.0),
    "b": ("2025-01-01", 2, 30.0),
    "c": ("2025-01-01", 2, 10.0),
    "d": ("2025-03-01", 3, 20.0),
    "e": ("2025-03-01", 4, 25.0),
    "f": ("2025-06-01", 4, 25.0),
    "g": ("2025-06-01", 5, 4.0),
}


@pytest.fixture
def seven(make_crm):
    crm = make_crm(plugins=[crm_segments])
    ids = crm.add_many([Contact(email=f"{name}@example.com") for name in CUSTOMERS])
    orders = []
    for cid, (last, count, total) in zip(ids, CUSTOMERS.values()):
        day = dt.date.fromisoformat(last)
        orders += [Order(contact_id=cid, ordered_at=(day - dt.timedelta(days=i)).isoformat(), total=total) for i in range(count)]
    crm.add_many(orders)
    return crm


def test_ties_at_the_cut_points_share_the_score_of_their_rank(seven):
    assert rfm.score(seven, AS_OF) == 7
    got = {r["email"][0]: (r["recency_days"], r["frequency"], r["monetary"], r["r"], r["f"], r["m"], r["score"], r["segment"])
           for r in rfm.rows(seven)}
    # last orders sorted: Jan, Jan, Jan, Mar, Mar, Jun, Jun -> ranks 1, 4, 6 -> R 1, 1 + 15 // 7 = 3, 1 + 25 // 7 = 4
    # orders sorted:      1, 2, 2, 3, 4, 4, 5               -> ranks 1, 2, 4, 5, 7 -> F 1, 1, 3, 3, 5
    # money sorted:       20, 20, 60, 60, 60, 100, 100      -> ranks 1, 3, 6 -> M 1, 1 + 10 // 7 = 2, 1 + 25 // 7 = 4
    # segment by R and FM = (F + M + 1) // 2 in the default table
    assert got == {
        "a": (180, 1, 60.0, 1, 1, 2, "112", "Lost"),             # R1 FM2
        "b": (180, 2, 60.0, 1, 1, 2, "112", "Lost"),             # R1 FM2
        "c": (180, 2, 20.0, 1, 1, 1, "111", "Lost"),             # R1 FM1
        "d": (121, 3, 60.0, 3, 3, 2, "332", "Need Attention"),   # R3 FM3
        "e": (121, 4, 100.0, 3, 3, 4, "334", "Loyal"),           # R3 FM4
        "f": (29, 4, 100.0, 4, 3, 4, "434", "Champions"),        # R4 FM4
        "g": (29, 5, 20.0, 4, 5, 1, "451", "Loyal"),             # R4 FM3
    }


def test_one_customer_scores_one_everywhere(make_crm):
    crm = make_crm(plugins=[crm_segments])
    (cid,) = crm.add_many([Contact(email="solo@example.com")])
    crm.add_many([Order(contact_id=cid, ordered_at="2025-06-01", total=10.0)])
    assert rfm.score(crm, AS_OF) == 1
    assert [(r["r"], r["f"], r["m"]) for r in rfm.rows(crm)] == [(1, 1, 1)]


def test_no_orders_scores_no_one(make_crm):
    crm = make_crm(plugins=[crm_segments])
    crm.add_many([Contact(email="quiet@example.com")])
    assert rfm.score(crm, AS_OF) == 0
    assert rfm.rows(crm) == []

