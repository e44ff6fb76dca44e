"""RFM scores on small hand-computed data sets."""

import datetime as dt
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crm_segments
from crm_segments import rfm
from crm_segments.segments import compile_segment_rule
from crmcore import CRMError
from crmcore.entities import Contact, Order

AS_OF = dt.date(2025, 6, 30)


def add_orders(crm, contact_id, dates_totals):
    crm.add_many([Order(contact_id=contact_id, ordered_at=d, total=t) for d, t in dates_totals])


@pytest.fixture
def five(make_crm):
    """Distinct values, so each score is simply the rank (n = 5)."""
    crm = make_crm(plugins=[crm_segments])
    ids = crm.add_many([Contact(email=f"{x}@example.com") for x in "abcdef"])
    a, b, c, d, e, f = ids
    add_orders(crm, a, [("2025-02-01", 200), ("2025-03-01", 200), ("2025-04-01", 200), ("2025-05-01", 200), ("2025-06-29", 200),
                        ("2025-07-05", 999)])                                     # after the as-of date: ignored
    add_orders(crm, b, [("2025-01-01", 12.5), ("2025-02-01", 12.5), ("2025-03-01", 12.5), ("2025-06-20", 12.5)])
    add_orders(crm, c, [("2025-05-01", 800)])
    add_orders(crm, d, [("2024-10-01", 100), ("2024-11-01", 100), ("2024-12-01", 100)])
    add_orders(crm, e, [("2022-06-01", 50), ("2023-01-01", 50)])
    crm.ids = ids                                                                   # f has no orders
    return crm


def test_scores_segments_and_raw_values_by_hand(five):
    assert rfm.score(five, AS_OF) == 5
    got = {r["email"][0]: (r["recency_days"], r["frequency"], r["monetary"], r["score"], r["segment"]) for r in rfm.rows(five)}
    # recency days: 1, 10, 60, 211, 911; FM = (F + M + 1) // 2
    assert got == {
        "a": (1, 5, 1000.0, "555", "Champions"),          # R5 FM5
        "b": (10, 4, 50.0, "441", "Loyal"),                # R4 FM3
        "c": (60, 1, 800.0, "314", "Need Attention"),      # R3 FM3
        "d": (211, 3, 300.0, "233", "At Risk"),            # R2 FM3
        "e": (911, 2, 100.0, "122", "Lost"),               # R1 FM2
    }
    assert rfm.as_of(five) == "2025-06-30"


def test_equal_values_share_a_score(make_crm):
    crm = make_crm(plugins=[crm_segments])
    ids = crm.add_many([Contact(email=f"c{i}@example.com") for i in range(10)])
    counts = [1, 1, 1, 1, 2, 2, 3, 4, 5, 6]
    for cid, n in zip(ids, counts):
        add_orders(crm, cid, [("2025-01-01", 10)] * n)
    rfm.score(crm, AS_OF)
    f_scores = [r["f"] for r in crm.store.query("SELECT f FROM segment_rfm ORDER BY contact_id")]
    # ranks 1,1,1,1,5,5,7,8,9,10 -> 1 + 5 * (rank - 1) // 10
    assert f_scores == [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]
    # everyone ordered on the same day: one shared recency score
    assert {r["r"] for r in crm.store.query("SELECT r FROM segment_rfm")} == {1}


def test_orders_kept_for_the_books_of_an_erased_contact_are_not_scored(five):
    five.store.execute("INSERT INTO orders (contact_id, ordered_at, total) VALUES (NULL, '2025-06-01', 50)")
    assert rfm.score(five, AS_OF) == 5
    assert five.store.query_value("SELECT count(*) FROM segment_rfm WHERE contact_id NOT IN (SELECT id FROM contacts)") == 0


def test_rescoring_replaces_old_scores(five):
    rfm.score(five, AS_OF)
    rfm.score(five, dt.date(2025, 3, 15))   # only orders up to then count; c has none yet
    got = {r["email"][0]: r["frequency"] for r in rfm.rows(five)}
    assert got == {"a": 2, "b": 3, "d": 3, "e": 2}


def test_rfm_fields_work_in_rules(five):
    rfm.score(five, AS_OF)
    for rule, expected in [('rfm_segment == "Champions"', [0]), ("recency_score >= 4", [0, 1]),
                           ('rfm_score in ("441", "314")', [1, 2]), ("monetary_score == 1", [1])]:
        sql, params = compile_segment_rule(five, rule, AS_OF)
        assert [r[0] for r in five.store.execute(sql + " ORDER BY c.id", params)] == [five.ids[i] for i in expected], rule


def test_default_table_names_every_score_and_uses_every_name():
    table = rfm.DEFAULT_TABLE
    named = {rfm.name_for(table, r, f, m) for r, f, m in itertools.product(range(1, 6), repeat=3)}
    assert rfm.UNNAMED not in named
    assert named == {"Champions", "Loyal", "Potential Loyalists", "New Customers", "Promising", "Need Attention",
                     "About to Sleep", "At Risk", "Cannot Lose Them", "Hibernating", "Lost"}


def test_sql_and_python_name_segments_the_same_way(five):
    rfm.score(five, AS_OF)
    for r in five.store.query("SELECT r, f, m, segment FROM segment_rfm"):
        assert rfm.name_for(rfm.named_table(five), r["r"], r["f"], r["m"]) == r["segment"]


def test_named_table_is_configurable(five):
    five.set_setting(rfm.SETTING, [["Recent", 4, 5, 1, 5], ["Everyone else", 1, 5, 1, 5]])
    rfm.score(five, AS_OF)
    assert {r["email"][0]: r["segment"] for r in rfm.rows(five)} == {
        "a": "Recent", "b": "Recent", "c": "Everyone else", "d": "Everyone else", "e": "Everyone else"}
    summary = {r["segment"]: r["customers"] for r in rfm.summary(five)}
    assert summary == {"Recent": 2, "Everyone else": 3}


@pytest.mark.parametrize("rows, message", [
    ([], "non-empty list"),
    ([["A", 1, 5, 1]], "row 1: expected name"),
    ([["A", 0, 5, 1, 5]], "row 1: r_min: must be a whole number 1-5"),
    ([["A", 1, 5, 1, 5], ["", 1, 5, 1, 5]], "row 2: name"),
    ([["A", 5, 1, 1, 5]], "row 1: a minimum is above its maximum"),
])
def test_bad_named_tables_are_refused(rows, message):
    with pytest.raises(CRMError, match=message):
        rfm.check_table(rows)


def test_grid_counts_customers_and_revenue(five):
    rfm.score(five, AS_OF)
    cells = rfm.grid(five)
    assert cells[(5, 5)] == {"customers": 1, "revenue": 1000.0}
    assert cells[(3, 1)] == {"customers": 1, "revenue": 800.0}
    assert sum(c["customers"] for c in cells.values()) == 5


REFERENCE_SQL = """
SELECT contact_id,
       1 + (5 * (rank() OVER (ORDER BY max(ordered_at)) - 1)) / count(*) OVER () AS r,
       1 + (5 * (rank() OVER (ORDER BY count(*)) - 1)) / count(*) OVER () AS f,
       1 + (5 * (rank() OVER (ORDER BY sum(total)) - 1)) / count(*) OVER () AS m
FROM orders WHERE ordered_at <= ? GROUP BY contact_id ORDER BY contact_id
"""


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 40), st.sampled_from([5.0, 10.0, 12.5, 99.99, 100.0])),
                       min_size=1, max_size=60))
def test_cut_points_give_the_same_scores_as_the_rank_formula(make_crm, orders):
    """The fast path (cut points) equals score = 1 + floor(5 * (rank - 1) / n) with ties sharing a rank."""
    crm = make_crm(plugins=[crm_segments], name=f"p{len(orders)}-{abs(hash(tuple(orders)))}.db")
    ids = crm.add_many([Contact(email=f"p{i}@example.com") for i in range(12)])
    crm.add_many([Order(contact_id=ids[c], ordered_at=dt.date(2025, 1, 1) + dt.timedelta(days=d), total=t) for c, d, t in orders])
    rfm.score(crm, AS_OF)
    got = [tuple(r) for r in crm.store.execute("SELECT contact_id, r, f, m FROM segment_rfm ORDER BY contact_id")]
    assert got == [tuple(r) for r in crm.store.execute(REFERENCE_SQL, [AS_OF.isoformat()])]


def test_cut_points_by_hand():
    # n = 10: positions ceil(2), ceil(4), ceil(6), ceil(8) -> the 2nd, 4th, 6th and 8th smallest values
    assert rfm.cut_points([10, 1, 9, 2, 8, 3, 7, 4, 6, 5]) == [2, 4, 6, 8]
    # n = 2: positions 1, 1, 2, 2 (ceil(0.4), ceil(0.8), ceil(1.2), ceil(1.6))
    assert rfm.cut_points([7, 3]) == [3, 3, 7, 7]


def test_rfm_report_uses_the_heat_grid_chart_when_the_core_has_one(five, monkeypatch):
    from markupsafe import Markup

    from crmcore import charts
    from crmcore.reports import render

    calls = []

    def heat_grid(cells, title, x_label="", y_label=""):
        calls.append((title, dict(cells)))
        return Markup("<figure>heat</figure>")

    monkeypatch.setitem(charts.TEMPLATE_GLOBALS, "heat_grid", heat_grid)
    rfm.score(five, AS_OF)
    html = render(five, "rfm")
    assert html.count("<figure>heat</figure>") == 2
    customers = dict(calls)["Customers"]
    assert len(customers) == 25 and sum(customers.values()) == 5
    assert customers[(5, 5)] == 1 and customers[(1, 3)] == 1      # (F, R): a is F5 R5, c is F1 R3
    assert dict(calls)["Revenue"][(1, 3)] == 800.0
