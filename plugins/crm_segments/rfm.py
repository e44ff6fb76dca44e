"""RFM scoring: recency, frequency and monetary value, each 1..5 by quintile.

For every customer with orders up to the as-of date:

- recency   = days from the latest order to the as-of date (fewer is better)
- frequency = number of orders
- monetary  = sum of order totals, in the base currency (each at its date's rate)

Each is scored by quintile of rank among all customers:
``score = 1 + floor(5 * (rank - 1) / n)``, where ``rank`` is the position
(1-based, worst first) of the customer's value and ``n`` the number of
customers. Equal values share the rank of the first of them, so equal
values always get the same score. 5 is the most recent, most frequent and
highest-spending fifth.

Named segments come from a table of ``(name, R range, FM range)`` rows; the
first row that matches wins. ``FM`` is the mean of the F and M scores
rounded half up. The default table (rows: R, columns: FM):

    R\\FM  1                2                    3               4-5
    5     New Customers    Potential Loyalists  Loyal           Champions
    4     Promising        Potential Loyalists  Loyal           Champions
    3     About to Sleep   About to Sleep       Need Attention  Loyal
    2     Hibernating      Hibernating          At Risk         At Risk (FM 4), Cannot Lose Them (FM 5)
    1     Lost             Lost                 At Risk         Cannot Lose Them

It can be replaced per database (``crm segments rfm-table --load FILE``).
"""

import datetime as dt

from crmcore import CRMError, require_rates

#: (name, r_min, r_max, fm_min, fm_max); first match wins.
DEFAULT_TABLE = [
    ("Champions", 4, 5, 4, 5),
    ("Loyal", 4, 5, 3, 3),
    ("Loyal", 3, 3, 4, 5),
    ("Need Attention", 3, 3, 3, 3),
    ("Potential Loyalists", 4, 5, 2, 2),
    ("New Customers", 5, 5, 1, 1),
    ("Promising", 4, 4, 1, 1),
    ("About to Sleep", 3, 3, 1, 2),
    ("Cannot Lose Them", 2, 2, 5, 5),
    ("Cannot Lose Them", 1, 1, 4, 5),
    ("At Risk", 1, 2, 3, 5),
    ("Hibernating", 2, 2, 1, 2),
    ("Lost", 1, 1, 1, 2),
]
SETTING = "segments.rfm_table"
UNNAMED = "Other"

RFM_FIELDS = ["contact_id", "email", "name", "last_order", "recency_days", "frequency", "monetary", "r", "f", "m", "score", "segment"]


def named_table(crm):
    """The named-segment table in use (setting, or the default)."""
    return [tuple(row) for row in crm.get_setting(SETTING, DEFAULT_TABLE)]


def check_table(rows, where="RFM table"):
    """Validate rows of ``[name, r_min, r_max, fm_min, fm_max]``; returns tuples."""
    if not isinstance(rows, list) or not rows:
        raise CRMError(f"{where}: expected a non-empty list of [name, r_min, r_max, fm_min, fm_max]")
    out = []
    for i, row in enumerate(rows, start=1):
        if isinstance(row, dict):
            row = [row.get("name"), row.get("r_min"), row.get("r_max"), row.get("fm_min"), row.get("fm_max")]
        if not isinstance(row, (list, tuple)) or len(row) != 5:
            raise CRMError(f"{where}: row {i}: expected name, r_min, r_max, fm_min, fm_max")
        name, *bounds = row
        if not isinstance(name, str) or not name.strip():
            raise CRMError(f"{where}: row {i}: name: must be text")
        for label, value in zip(("r_min", "r_max", "fm_min", "fm_max"), bounds):
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
                raise CRMError(f"{where}: row {i}: {label}: must be a whole number 1-5")
        if bounds[0] > bounds[1] or bounds[2] > bounds[3]:
            raise CRMError(f"{where}: row {i}: a minimum is above its maximum")
        out.append((name.strip(), *bounds))
    return out


def name_for(table, r, f, m):
    """The named segment of one score triple (the same rule as the SQL)."""
    fm = (f + m + 1) // 2
    for name, r_min, r_max, fm_min, fm_max in table:
        if r_min <= r <= r_max and fm_min <= fm <= fm_max:
            return name
    return UNNAMED


def _case(table):
    """A CASE expression naming the segment; every number and name bound."""
    sql, params = [], []
    for name, r_min, r_max, fm_min, fm_max in table:
        sql.append("WHEN r BETWEEN ? AND ? AND (f + m + 1) / 2 BETWEEN ? AND ? THEN ?")
        params.extend([r_min, r_max, fm_min, fm_max, name])
    return "CASE " + " ".join(sql) + " ELSE ? END", params + [UNNAMED]


AGGREGATE_SQL = """
CREATE TEMP TABLE _rfm_agg AS
SELECT contact_id, max(ordered_at) AS last_order, count(*) AS frequency, sum(total * fx_rate) AS monetary
FROM orders WHERE contact_id IS NOT NULL AND ordered_at <= ? GROUP BY contact_id
"""

# The scores are computed once per customer (MATERIALIZED), not once per use
# in the CASE that names the segment.
SCORE_SQL = """
WITH scored AS MATERIALIZED (
    SELECT contact_id, last_order, frequency, monetary,
           1 + CAST(last_order > ? AS INTEGER) + CAST(last_order > ? AS INTEGER) + CAST(last_order > ? AS INTEGER) + CAST(last_order > ? AS INTEGER) AS r,
           1 + CAST(frequency > ? AS INTEGER) + CAST(frequency > ? AS INTEGER) + CAST(frequency > ? AS INTEGER) + CAST(frequency > ? AS INTEGER) AS f,
           1 + CAST(monetary > ? AS INTEGER) + CAST(monetary > ? AS INTEGER) + CAST(monetary > ? AS INTEGER) + CAST(monetary > ? AS INTEGER) AS m
    FROM _rfm_agg
)
INSERT INTO segment_rfm (contact_id, as_of, last_order, recency_days, frequency, monetary, r, f, m, score, segment)
SELECT contact_id, ?, last_order, {days}, frequency, round(CAST(monetary AS NUMERIC), 2),
       r, f, m, CAST(r AS TEXT) || CAST(f AS TEXT) || CAST(m AS TEXT), {case}
FROM scored
"""
MEASURES = ("last_order", "frequency", "monetary")


def cut_points(values):
    """The four values a score must exceed to reach 2, 3, 4 and 5.

    ``score = 1 + floor(5 * below / n)`` where ``below`` counts strictly smaller
    values; so ``score >= k`` exactly when ``below >= ceil((k - 1) * n / 5)``,
    i.e. when the value exceeds the sorted value just before that position."""
    ordered = sorted(values)
    return [ordered[p - 1] for p in _positions(len(ordered))]


def _positions(n):
    """The 1-based positions, in ascending order of ``n`` values, of the four cut points."""
    return [-(-(k - 1) * n // 5) for k in range(2, 6)]


# PostgreSQL finds the cut points in the server, one sort per measure, instead
# of sending every customer's values to Python. ``percentile_disc(p)`` takes
# the value at position ceil(p * n); each p is bound as (position - 0.5) / n,
# so rounding in the product can never move it to the next position.
SERVER_CUTS_SQL = """
SELECT percentile_disc(CAST(? AS DOUBLE PRECISION[])) WITHIN GROUP (ORDER BY last_order),
       percentile_disc(CAST(? AS DOUBLE PRECISION[])) WITHIN GROUP (ORDER BY frequency),
       percentile_disc(CAST(? AS DOUBLE PRECISION[])) WITHIN GROUP (ORDER BY monetary)
FROM _rfm_agg
"""


def _all_cut_points(store, n, step):
    """The twelve cut points (recency, frequency, monetary) of the ``n`` rows of ``_rfm_agg``."""
    if store.kind == "postgres":  # ordered-set aggregates; SQLite has none, and sorting in Python is faster there than its window functions
        fractions = [(p - 0.5) / n for p in _positions(n)]
        row = store.execute(SERVER_CUTS_SQL, (fractions, fractions, fractions)).fetchone()
        step(len(MEASURES))
        return [value for cuts in row for value in cuts]
    cuts = []
    for measure in MEASURES:
        cuts.extend(cut_points([r[0] for r in store.execute(f"SELECT {measure} FROM _rfm_agg")]))
        step(1)
    return cuts


#: Steps of ``score`` reported to its ``progress`` callback.
STEPS = 5


def score(crm, as_of=None, progress=None):
    """Recompute the scores of every customer as of ``as_of`` (a date; today).

    One scan of the covering index ``ix_segments_orders_rfm`` aggregates each
    customer; the quintile cut points come from three sorts of those values
    (in the server on PostgreSQL, in Python on SQLite, whichever is faster
    there); one INSERT then scores and names everyone. The old scores are
    replaced in the same transaction. ``progress(1)`` is called after each of
    ``STEPS`` steps. Returns the number of customers scored."""
    require_rates(crm)  # monetary in the base currency, or one line naming the currencies without a rate
    as_of = (as_of or dt.date.today()).isoformat()
    case, case_params = _case(named_table(crm))
    store = crm.store
    step = progress or (lambda n: None)
    with store.transaction():
        store.execute("DROP TABLE IF EXISTS _rfm_agg")
        store.execute(AGGREGATE_SQL, (as_of,))
        step(1)
        n = store.query_value("SELECT count(*) FROM _rfm_agg")
        store.execute("DELETE FROM segment_rfm")
        if n:
            cuts = _all_cut_points(store, n, step)
            days = store.dialect.days_between("?", "last_order")
            store.execute(SCORE_SQL.format(case=case, days=days), [*cuts, as_of, as_of, *case_params])
        else:
            step(len(MEASURES))
        store.execute("DROP TABLE _rfm_agg")
        step(1)
        return n


def as_of(crm):
    return crm.store.query_value("SELECT max(as_of) FROM segment_rfm")


def rows(crm, segment=None, limit=None):
    sql = ("SELECT x.contact_id, c.email, trim(c.first_name || ' ' || c.last_name) AS name, x.last_order, x.recency_days, "
           "x.frequency, x.monetary, x.r, x.f, x.m, x.score, x.segment FROM segment_rfm x JOIN contacts c ON c.id = x.contact_id")
    params = []
    if segment:
        sql += " WHERE x.segment = ?"
        params.append(segment)
    sql += " ORDER BY x.score DESC, x.monetary DESC, x.contact_id"
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return crm.store.query(sql, params)


def summary(crm, contact_ids=None):
    """Named-segment sizes with revenue, in table order (all scored customers,
    or only ``contact_ids``)."""
    where, params = _only(crm, contact_ids)
    found = {r["segment"]: r for r in crm.store.query(
        f"SELECT segment, count(*) AS customers, round(CAST(sum(monetary) AS NUMERIC), 2) AS revenue FROM segment_rfm x {where} GROUP BY segment", params)}
    total = sum(r["customers"] for r in found.values()) or 1
    names = list(dict.fromkeys([t[0] for t in named_table(crm)] + sorted(found)))
    return [{"segment": n, "customers": found.get(n, {}).get("customers", 0), "revenue": found.get(n, {}).get("revenue") or 0.0,
             "share": 100.0 * found.get(n, {}).get("customers", 0) / total} for n in names]


def grid(crm):
    """The 5x5 recency x frequency grid: ``{(r, f): {"customers", "revenue"}}``."""
    cells = {(r, f): {"customers": 0, "revenue": 0.0} for r in range(1, 6) for f in range(1, 6)}
    for row in crm.store.query("SELECT r, f, count(*) AS customers, round(CAST(sum(monetary) AS NUMERIC), 2) AS revenue FROM segment_rfm GROUP BY r, f"):
        cells[(row["r"], row["f"])] = {"customers": row["customers"], "revenue": row["revenue"] or 0.0}
    return cells


def _only(crm, contact_ids):
    if contact_ids is None:
        return "", []
    return f"WHERE x.contact_id IN ({crm.store.dialect.json_values()})", [_json(contact_ids)]


def _json(ids):
    import json

    return json.dumps(list(ids))
