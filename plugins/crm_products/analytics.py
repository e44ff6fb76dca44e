"""Sales analytics from the core's order lines: sales by product, category,
month or segment; frequently bought together; suggestions for a contact.

All SQL here binds user values as parameters; grouping expressions come from
a fixed table (``GROUPINGS``)."""

import datetime as dt

from crmcore import CRMError, StoreError, exchange_factor, normalize, require_rates

from . import summary
from .catalogue import find

SALES_FIELDS = ["units", "revenue", "cost", "margin", "margin_pct", "orders", "customers"]
#: --by choice -> (label column, SQL expression). Never user text.
GROUPINGS = {
    "product": ("sku", "ol.sku"),
    "category": ("category", summary.CATEGORY_LABEL),
    "month": ("month", "substr(o.ordered_at, 1, 7)"),
    "total": ("total", "'all'"),
}
#: A whole-history scan reads order lines through this covering index, in
#: order_id order, so each line's order is found next to the previous one's
#: (measured 7.3 s instead of 9.5 s by product at 5M lines, where the planner
#: walked the SKU index and looked orders up at random).
SALES_INDEX = "INDEXED BY ix_order_lines_order_sku"
BOUGHT_TOGETHER_FIELDS = ["sku", "name", "orders_together", "support", "confidence", "lift"]


def _date(value, what="--since"):
    try:
        return normalize.date(value).isoformat()
    except ValueError as exc:
        raise CRMError(f"invalid {what}: {exc}") from None


def _finish(row):
    revenue, cost = row["revenue"] or 0.0, row["cost"]
    row["revenue"] = round(revenue, 2)
    if cost is None:
        row["margin"] = row["margin_pct"] = None
    else:
        row["cost"] = round(cost, 2)
        row["margin"] = round(revenue - cost, 2)
        row["margin_pct"] = round(100 * (revenue - cost) / revenue, 1) if revenue else None
    return row


def sales(crm, by="product", since=None, until=None, sku=None, contact_ids=None):
    """Units, revenue, cost, margin, orders and customers per group.

    Cost is the catalogue cost times the units; lines of SKUs without a cost
    leave the group's cost and margin empty rather than overstate the margin.
    Whole history for everyone comes from the kept summaries (summary.py);
    a date range, a SKU or a set of contacts reads the lines."""
    if by not in GROUPINGS:
        raise CRMError(f"cannot group sales by {by!r} (choose from product, category, month, segment)")
    costs_in_base(crm)  # revenue converted to the base currency; costs in it
    if not (since or until or sku) and contact_ids is None and summary.current(crm):
        return [_finish(r) for r in _summary_sales(crm, by)]
    if by in ("month", "total") and not (since or until or sku):
        return [_finish(r) for r in _with_contacts(crm, contact_ids, _per_order_sales_sql(by, contact_ids), [])]
    label, expr = GROUPINGS[by]
    where, params = _filters(since, until, sku)
    sql = (
        f"SELECT {expr} AS {label}, sum(ol.quantity) AS units, sum(ol.quantity * ol.unit_price * o.fx_rate) AS revenue, "
        "CASE WHEN count(p.cost * p.fx_rate) = count(*) THEN sum(ol.quantity * p.cost * p.fx_rate) END AS cost, "
        "count(DISTINCT ol.order_id) AS orders, count(DISTINCT o.contact_id) AS customers "
        # CROSS JOIN keeps order_lines the outer loop: each line looks up its
        # order by primary key, instead of each order searching its lines.
        f"FROM order_lines ol {'' if params or contact_ids is not None else SALES_INDEX} CROSS JOIN orders o ON o.id = ol.order_id "
        "LEFT JOIN products p ON p.sku = ol.sku"
    )
    if contact_ids is not None:
        sql += " JOIN temp_contacts t ON t.id = o.contact_id"
    sql += where + f" GROUP BY 1 ORDER BY {'1' if by == 'month' else 'revenue DESC, 1'}"
    return [_finish(r) for r in _with_contacts(crm, contact_ids, sql, params)]


def convert_costs(crm, currencies):
    """Set ``products.fx_rate`` of the products priced in ``currencies`` (the
    latest rate to the base currency; NULL without one), writing only what changed."""
    with crm.store.transaction():
        for currency in sorted(set(currencies)):
            factor = exchange_factor(crm, currency)
            if factor is None:
                crm.store.execute("UPDATE products SET fx_rate = NULL WHERE currency = ? AND fx_rate IS NOT NULL", (currency,))
            else:
                crm.store.execute("UPDATE products SET fx_rate = ? WHERE currency = ? AND (fx_rate IS NULL OR fx_rate <> ?)",
                                  (factor, currency, factor))


def costs_in_base(crm):
    """The base currency, once every order has its rate to it (``require_rates``)
    and every product with a cost has its factor to it; else one line naming
    the currencies. Sales convert per order (at the order's date); a catalogue
    cost converts at the latest rate (``products.fx_rate``, brought up to date
    here: one UPDATE per catalogue currency, writing only what changed)."""
    base = require_rates(crm)
    store = crm.store
    try:
        convert_costs(crm, [r[0] for r in store.execute("SELECT DISTINCT currency FROM products").fetchall()])
    except StoreError:  # a database that refuses writes: the factors as they are
        pass
    other = [r["currency"] for r in store.query(
        "SELECT DISTINCT currency FROM products WHERE cost IS NOT NULL AND fx_rate IS NULL ORDER BY currency")]
    if other:
        raise CRMError(f"products cost in {', '.join(other)}, which has no exchange rate to {base}: "
                       "load rates with crm rates load FILE")
    return base


def _summary_sales(crm, by):
    """Whole-history sales from the summaries (summary.py): units, revenue and
    cost from the per-day sums; customers per product from the buyer rows;
    orders and customers per month (and in total) from the summed orders,
    per category from the orders per category (an order counts once however
    many of the category's products it has)."""
    label, expr = GROUPINGS[by]
    expr = expr.replace("ol.sku", "d.sku").replace("substr(o.ordered_at, 1, 7)", "substr(d.day, 1, 7)")
    store = crm.store
    rows = store.query(
        f"SELECT {expr} AS {label}, sum(d.units) AS units, sum(d.revenue) AS revenue, "
        "CASE WHEN count(p.cost * p.fx_rate) = count(*) THEN sum(d.units * p.cost * p.fx_rate) END AS cost, sum(d.orders) AS orders "
        "FROM product_sales_days d LEFT JOIN products p ON p.sku = d.sku "
        f"GROUP BY 1 ORDER BY {'1' if by == 'month' else 'revenue DESC, 1'}")
    if by == "product":
        customers = dict(store.execute("SELECT sku, count(*) FROM product_buyers GROUP BY sku").fetchall())
        for r in rows:
            r["customers"] = customers.get(r["sku"], 0)
        return rows
    if by == "month":
        orders = dict(store.execute("SELECT month, count(*) FROM product_sales_orders GROUP BY month").fetchall())
        customers = dict(store.execute(
            "SELECT month, count(*) FROM (SELECT DISTINCT month, contact_id FROM product_sales_orders "
            "WHERE contact_id IS NOT NULL) x GROUP BY month").fetchall())
        counts = {k: (n, customers.get(k, 0)) for k, n in orders.items()}
    elif by == "total":
        counts = {"all": (store.query_value("SELECT count(*) FROM product_sales_orders"),
                          store.query_value("SELECT count(DISTINCT contact_id) FROM product_buyers"))}
    else:
        orders = dict(store.execute("SELECT category, count(*) FROM product_sales_categories GROUP BY category").fetchall())
        customers = dict(store.execute(
            "SELECT category, count(*) FROM (SELECT DISTINCT category, contact_id FROM product_sales_categories "
            "WHERE contact_id IS NOT NULL) x GROUP BY category").fetchall())
        counts = {k: (n, customers.get(k, 0)) for k, n in orders.items()}
    for r in rows:
        r["orders"], r["customers"] = counts.get(r[label], (0, 0))
    return rows


def _per_order_sales_sql(by, contact_ids):
    """Whole-history sales per month: sum each order's lines first (reading
    ix_order_lines_order_sku in order, no sort), then group the orders. Sorting
    a few million orders is much cheaper than sorting every line, and an
    order counts once without count(DISTINCT)."""
    label, expr = GROUPINGS[by]
    return (
        f"SELECT {expr} AS {label}, sum(x.units) AS units, sum(x.revenue * o.fx_rate) AS revenue, "
        "CASE WHEN sum(x.costed) = sum(x.lines) THEN sum(x.cost) END AS cost, "
        "count(*) AS orders, count(DISTINCT o.contact_id) AS customers "
        "FROM (SELECT ol.order_id, count(*) AS lines, count(p.cost * p.fx_rate) AS costed, sum(ol.quantity) AS units, "
        "      sum(ol.quantity * ol.unit_price) AS revenue, sum(ol.quantity * p.cost * p.fx_rate) AS cost "
        "      FROM order_lines ol INDEXED BY ix_order_lines_order_sku LEFT JOIN products p ON p.sku = ol.sku "
        "      GROUP BY ol.order_id) x "
        "CROSS JOIN orders o ON o.id = x.order_id "
        + ("JOIN temp_contacts t ON t.id = o.contact_id " if contact_ids is not None else "")
        + "GROUP BY 1 ORDER BY 1"
    )


def _filters(since, until, sku):
    where, params = [], []
    if since:
        where.append("o.ordered_at >= ?")
        params.append(_date(since))
    if until:
        where.append("o.ordered_at <= ?")
        params.append(_date(until, "--until"))
    if sku:
        where.append("ol.sku = ?")
        params.append(sku)
    return (" WHERE " + " AND ".join(where) if where else ""), params


def _with_contacts(crm, contact_ids, sql, params):
    """Run ``sql``; with ``contact_ids`` they are in the temp table ``temp_contacts``."""
    if contact_ids is None:
        return crm.store.query(sql, params)
    store = crm.store
    store.execute("CREATE TEMP TABLE IF NOT EXISTS temp_contacts (id INTEGER PRIMARY KEY)")
    try:
        store.execute("DELETE FROM temp_contacts")
        store.executemany("INSERT INTO temp_contacts (id) VALUES (?) ON CONFLICT DO NOTHING", ((i,) for i in contact_ids))
        return store.query(sql, params)
    finally:
        store.execute("DELETE FROM temp_contacts")


def sales_by_segment(crm, segments, since=None, until=None):
    """One row per named segment, or per segment there is when none are named
    (names and members answered by the segments plugin)."""
    segments = segments or crm.segment_names()
    rows = []
    for name in segments:
        found = sales(crm, by="total", since=since, until=until, contact_ids=crm.segment_contact_ids(name))
        row = found[0] if found else _finish({"units": 0, "revenue": 0.0, "cost": 0.0, "orders": 0, "customers": 0})
        row.pop("total", None)
        rows.append({"segment": name, **row})
    return rows


def orders_with(crm, sku):
    """Orders with at least one line of ``sku``. The subquery's DISTINCT
    streams over the (sku, order_id) index instead of building a b-tree."""
    return crm.store.query_value("SELECT count(*) FROM (SELECT DISTINCT order_id FROM order_lines WHERE sku = ?) AS x", (sku,))


def partners(crm, sku, min_orders, limit, fresh):
    """Other SKUs in the orders with ``sku``: ``sku`` and ``orders_together``,
    most first. From the pair summary when it is current (``fresh``: what
    ``summary.current`` said), else from the lines."""
    if fresh:
        return crm.store.query(
            "SELECT other AS sku, orders AS orders_together FROM product_pairs WHERE sku = ? AND orders >= ? "
            "ORDER BY orders DESC, other LIMIT ?", (sku, min_orders, limit))
    return crm.store.query(BOUGHT_TOGETHER_SQL, (sku, min_orders, limit))


def _orders_per_sku(crm, skus, fresh):
    """Orders with each SKU: from the summaries when they are current (the
    partners of a best seller are best sellers too, each counted over
    hundreds of thousands of lines otherwise)."""
    if not skus:
        return {}
    if fresh:
        found = dict(crm.store.execute(
            f"SELECT sku, sum(orders) FROM product_sales_days WHERE sku IN ({', '.join('?' * len(skus))}) GROUP BY sku",
            skus).fetchall())
        return {s: found.get(s, 0) for s in skus}
    return {s: orders_with(crm, s) for s in skus}


def order_count(crm):
    return crm.store.query_value("SELECT count(*) FROM orders")


def bought_together(crm, sku, limit=10, min_orders=1, min_lift=1.0):
    """Products most often in the same order as ``sku``.

    Over all orders (N): support = orders with both / N; confidence = orders
    with both / orders with ``sku``; lift = confidence / (orders with the
    other / N), above 1 when they go together more often than by chance.
    Ranked by orders together (equivalently confidence), then lift; only
    pairs with a lift above ``min_lift`` (0: all)."""
    sku = normalize.text(sku)
    store = crm.store
    n_a = orders_with(crm, sku)
    if not n_a:
        if store.query_value("SELECT 1 FROM products WHERE sku = ?", (sku,)) is None:
            raise CRMError(f"no product with SKU {sku!r} and no order line with it")
        return []
    total = order_count(crm)
    fresh = summary.current(crm)
    # Pairs below the lift are dropped after counting: look further down the list for them.
    pairs = partners(crm, sku, min_orders, limit if not min_lift else max(limit * 10, 200), fresh)
    orders_of = _orders_per_sku(crm, [r["sku"] for r in pairs], fresh)
    rows = []
    for r in pairs:
        n_b = orders_of[r["sku"]]
        n_ab = r["orders_together"]
        lift = n_ab * total / (n_a * n_b)
        if lift <= min_lift:
            continue
        name = store.query_value("SELECT name FROM products WHERE sku = ?", (r["sku"],))
        rows.append({"sku": r["sku"], "name": name, "orders_together": n_ab, "support": round(n_ab / total, 6),
                     "confidence": round(n_ab / n_a, 4), "lift": round(lift, 4)})
        if len(rows) == limit:
            break
    return rows


#: Both sides read only covering order_lines indexes: (sku, order_id) finds the
#: orders of the SKU, (order_id, sku) the other SKUs of each order. The second
#: is pinned: after ANALYZE the planner prefers the narrower order_id index,
#: which needs a table lookup per line (measured 1.0-1.3x slower at 5M lines).
BOUGHT_TOGETHER_SQL = (
    "SELECT b.sku AS sku, count(DISTINCT b.order_id) AS orders_together "
    "FROM order_lines a JOIN order_lines b INDEXED BY ix_order_lines_order_sku ON b.order_id = a.order_id "
    "WHERE a.sku = ? AND b.sku != a.sku "
    "GROUP BY b.sku HAVING count(DISTINCT b.order_id) >= ? ORDER BY orders_together DESC, b.sku LIMIT ?"
)


def suggest(crm, contact_ref, limit=10, min_lift=1.0):
    """Products the contact has not bought, scored by how often they go with
    what the contact has bought: the sum of confidence(bought -> candidate)
    over the contact's SKUs, counting only pairs bought together more often
    than chance (lift above ``min_lift``; 0 counts every pair). Only active
    catalogue products are suggested."""
    contact = crm.find_contact(contact_ref)
    mine = [r["sku"] for r in crm.store.query(
        "SELECT DISTINCT ol.sku FROM orders o JOIN order_lines ol ON ol.order_id = o.id WHERE o.contact_id = ? AND ol.sku != ''",
        (contact["id"],))]
    if not mine:
        return []
    scores, because = {}, {}
    fresh = summary.current(crm)
    total = order_count(crm)
    for sku in mine:
        n_a = orders_with(crm, sku)
        found = [r for r in partners(crm, sku, 1, 1000, fresh) if r["sku"] not in mine]
        orders_of = _orders_per_sku(crm, [r["sku"] for r in found], fresh) if min_lift else {}
        for r in found:
            if min_lift and r["orders_together"] * total / (n_a * orders_of[r["sku"]]) <= min_lift:
                continue
            confidence = r["orders_together"] / n_a
            scores[r["sku"]] = scores.get(r["sku"], 0) + confidence
            if confidence > because.get(r["sku"], ("", 0))[1]:
                because[r["sku"]] = (sku, confidence)
    if not scores:
        return []
    active = {r["sku"]: r for r in crm.store.query(
        f"SELECT sku, name, category, price FROM products WHERE active = 1 AND lifecycle = 'active' "
        f"AND sku IN ({', '.join('?' * len(scores))})", list(scores))}
    ranked = sorted((s for s in scores if s in active), key=lambda s: (-scores[s], s))[:limit]
    return [{**active[s], "score": round(scores[s], 3), "because_of": because[s][0]} for s in ranked]


def unknown_skus(crm):
    """SKUs on order lines that the catalogue does not know, most used first."""
    return crm.store.query(
        "SELECT ol.sku AS sku, count(*) AS lines, count(DISTINCT ol.order_id) AS orders, sum(ol.quantity) AS units, "
        "min(ol.description) AS description FROM order_lines ol "
        "WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.sku = ol.sku) GROUP BY ol.sku ORDER BY lines DESC, sku")


def recent_sales(crm, sku, days=90, today=None):
    """Totals and per-month sales of one SKU over the last ``days`` days."""
    today = today or dt.date.today()
    since = (today - dt.timedelta(days=days)).isoformat()
    months = sales(crm, by="month", since=since, sku=sku)
    total = crm.store.query(
        "SELECT coalesce(sum(ol.quantity), 0) AS units, coalesce(sum(ol.quantity * ol.unit_price * o.fx_rate), 0) AS revenue, "
        "count(DISTINCT o.id) AS orders, count(DISTINCT o.contact_id) AS customers "
        "FROM order_lines ol JOIN orders o ON o.id = ol.order_id WHERE ol.sku = ? AND o.ordered_at >= ?", (sku, since))[0]
    total["revenue"] = round(total["revenue"], 2)
    return {"since": since, "days": days, **total, "by_month": months}


def top_customers(crm, sku, limit=10):
    require_rates(crm)
    return crm.store.query(
        "SELECT c.id, trim(c.first_name || ' ' || c.last_name) AS name, c.email, sum(ol.quantity) AS units, "
        "round(CAST(sum(ol.quantity * ol.unit_price * o.fx_rate) AS NUMERIC), 2) AS revenue, count(DISTINCT o.id) AS orders "
        "FROM order_lines ol JOIN orders o ON o.id = ol.order_id JOIN contacts c ON c.id = o.contact_id "
        "WHERE ol.sku = ? GROUP BY c.id ORDER BY revenue DESC, c.id LIMIT ?", (sku, limit))


def product_facts(crm, sku, today=None):
    """Everything ``crm products show`` prints: specs, margin, stock, sales."""
    from .catalogue import margin
    from .stock import levels

    product = find(crm, sku)
    unit, pct = margin(product["price"], product["cost"])
    stock = levels(crm, sku=product["sku"])
    return {**product, "margin": unit, "margin_pct": pct,
            "stock": [{k: r[k] for k in ("location", "stock", "reorder_point", "reorder_quantity")} for r in stock],
            "stock_total": sum(r["stock"] for r in stock),
            "sales_90_days": recent_sales(crm, product["sku"], 90, today)}
