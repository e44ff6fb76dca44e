"""Sales summaries kept next to the order lines, so whole-history sales
reports sum days instead of millions of lines.

Five tables, all derived from ``order_lines`` joined with ``orders``:

- ``product_sales_days``: per SKU and day, units, revenue (in the base
  currency: each line times its order's ``fx_rate``), lines and orders
  (an order has one date, so a SKU's orders add up over days exactly);
- ``product_buyers``: per SKU and contact, the number of lines, so the
  customers of a product are a count of rows;
- ``product_sales_orders``: the orders that have lines, with their month and
  customer, so orders and customers per month are counts over an index;
- ``product_sales_categories``: per category the orders that have a line in
  it, with their customer. ``product_sales_skus`` records the category each
  SKU was counted under; when the catalogue says otherwise (a product moved,
  added for a SKU orders already had, deleted), the next report recounts;
- ``product_pairs``: per ordered pair of SKUs, the orders with both, so
  bought-together for a best seller reads a few rows instead of joining
  hundreds of thousands of orders with their lines.

``product_sales_state`` holds how far the lines are folded in
(``lines_through``, the highest order-line id summed) and whether the
summaries can be trusted (``valid``).

Keeping them true:

- new order lines (ids above ``lines_through``) are added by the next report
  (``fold_in``), in one pass however they were written: imports pay nothing
  for the summaries. New lines of an order that already had summed lines
  (rare) make it rebuild instead, as the pairs could not be told apart;
- deleted orders (and the orders of deleted contacts) are subtracted before
  the rows go (``subtract_orders``); an erased contact's and a merged
  duplicate's purchases are unlinked or moved;
- any other change (an edited line or order date, a single deleted line)
  marks the summaries invalid, and the next report rebuilds them;
- each report checks that the summaries count as many lines as the table has
  (lines with an order), and rebuilds when they do not;
- rates loaded or a new base currency (the core's setting ``fx.version``
  moves on) make the next report rebuild them.

A report on a database it cannot write (a read-only file, another process
holding the write lock past the busy timeout) falls back to the order lines
themselves (``current`` returns False)."""

from crmcore import StoreError

from .stock import _chunks

#: The core's count of conversions (``fx.version``) and the one the revenue was summed under.
FX_VERSION, SUMMED_FX = "fx.version", "products.sales_fx_version"
TABLES = ("product_sales_days", "product_buyers", "product_sales_orders", "product_pairs")
CATEGORY_TABLES = ("product_sales_categories", "product_sales_skus")
#: The category an order line counts under (also ``--by category``'s label).
CATEGORY_LABEL = "coalesce(nullif(p.category, ''), CASE WHEN p.id IS NULL THEN '(unknown SKU)' ELSE '(none)' END)"

#: New lines (id above the mark), summed per SKU and day. ``orders`` counts an
#: order once per SKU: only when no earlier, already-summed line of the same
#: order has that SKU.
_ADD_DAYS = """
INSERT INTO product_sales_days (sku, day, units, revenue, lines, orders)
SELECT ol.sku, substr(o.ordered_at, 1, 10), sum(ol.quantity), sum(ol.quantity * ol.unit_price * o.fx_rate), count(*),
       count(DISTINCT CASE WHEN NOT EXISTS (
           SELECT 1 FROM order_lines e WHERE e.order_id = ol.order_id AND e.sku = ol.sku AND e.id <= ?)
         THEN ol.order_id END)
FROM order_lines ol JOIN orders o ON o.id = ol.order_id
WHERE ol.id > ? AND ol.id <= ?
GROUP BY ol.sku, substr(o.ordered_at, 1, 10)
ON CONFLICT (sku, day) DO UPDATE SET units = product_sales_days.units + excluded.units,
    revenue = product_sales_days.revenue + excluded.revenue, lines = product_sales_days.lines + excluded.lines,
    orders = product_sales_days.orders + excluded.orders
"""
_ADD_BUYERS = """
INSERT INTO product_buyers (sku, contact_id, lines)
SELECT ol.sku, o.contact_id, count(*)
FROM order_lines ol JOIN orders o ON o.id = ol.order_id
WHERE ol.id > ? AND ol.id <= ? AND o.contact_id IS NOT NULL
GROUP BY ol.sku, o.contact_id
ON CONFLICT (sku, contact_id) DO UPDATE SET lines = product_buyers.lines + excluded.lines
"""
_ADD_ORDERS = """
INSERT INTO product_sales_orders (order_id, month, contact_id)
SELECT DISTINCT ol.order_id, substr(o.ordered_at, 1, 7), o.contact_id
FROM order_lines ol JOIN orders o ON o.id = ol.order_id
WHERE ol.id > ? AND ol.id <= ?
ON CONFLICT (order_id) DO NOTHING
"""
#: Each order's distinct SKUs paired with each other, both ways round. Only
#: for orders whose lines are all new (``fold_in`` makes sure of that).
_PAIRS_OF = """
WITH os AS (SELECT DISTINCT order_id, sku FROM order_lines WHERE {where})
SELECT a.sku, b.sku, count(*) FROM os a JOIN os b ON b.order_id = a.order_id WHERE b.sku != a.sku GROUP BY a.sku, b.sku
"""
_ADD_PAIRS = """
INSERT INTO product_pairs (sku, other, orders)
""" + _PAIRS_OF.format(where="id > ? AND id <= ?") + """
ON CONFLICT (sku, other) DO UPDATE SET orders = product_pairs.orders + excluded.orders
"""
_ADD_CATEGORIES = f"""
INSERT INTO product_sales_categories (category, order_id, contact_id)
SELECT DISTINCT {CATEGORY_LABEL}, ol.order_id, o.contact_id
FROM order_lines ol JOIN orders o ON o.id = ol.order_id LEFT JOIN products p ON p.sku = ol.sku
WHERE ol.id > ? AND ol.id <= ?
ORDER BY 1, 2
ON CONFLICT (category, order_id) DO NOTHING
"""
_ADD_SKUS = f"""
INSERT INTO product_sales_skus (sku, category)
SELECT DISTINCT ol.sku, {CATEGORY_LABEL} FROM order_lines ol LEFT JOIN products p ON p.sku = ol.sku
WHERE ol.id > ? AND ol.id <= ?
ON CONFLICT (sku) DO NOTHING
"""


def create_tables(store):
    store.execute(
        "CREATE TABLE IF NOT EXISTS product_sales_days (sku TEXT NOT NULL, day TEXT NOT NULL, units DOUBLE PRECISION NOT NULL, "
        f"revenue DOUBLE PRECISION NOT NULL, lines INTEGER NOT NULL, orders INTEGER NOT NULL, PRIMARY KEY (sku, day)){store.dialect.without_rowid}")
    store.execute(
        "CREATE TABLE IF NOT EXISTS product_buyers (sku TEXT NOT NULL, contact_id BIGINT NOT NULL, "
        f"lines INTEGER NOT NULL, PRIMARY KEY (sku, contact_id)){store.dialect.without_rowid}")
    store.execute("CREATE TABLE IF NOT EXISTS product_sales_orders (order_id BIGINT PRIMARY KEY, month TEXT NOT NULL, "
                  f"contact_id BIGINT){store.dialect.without_rowid}")
    store.execute("CREATE TABLE IF NOT EXISTS product_sales_categories (category TEXT NOT NULL, order_id BIGINT NOT NULL, "
                  f"contact_id BIGINT, PRIMARY KEY (category, order_id)){store.dialect.without_rowid}")
    store.execute("CREATE TABLE IF NOT EXISTS product_pairs (sku TEXT NOT NULL, other TEXT NOT NULL, "
                  f"orders INTEGER NOT NULL, PRIMARY KEY (sku, other)){store.dialect.without_rowid}")
    store.execute(f"CREATE TABLE IF NOT EXISTS product_sales_skus (sku TEXT PRIMARY KEY, category TEXT NOT NULL){store.dialect.without_rowid}")
    store.execute(
        "CREATE TABLE IF NOT EXISTS product_sales_state (id INTEGER PRIMARY KEY, lines_through BIGINT NOT NULL, "
        "valid INTEGER NOT NULL)")
    _create_indexes(store)
    # Not valid yet: the first report builds the summaries from the lines.
    store.execute("INSERT INTO product_sales_state (id, lines_through, valid) VALUES (1, 0, 0) ON CONFLICT (id) DO NOTHING")


#: Secondary indexes: dropped while a rebuild fills the tables and made again
#: after (one sorted pass each instead of millions of scattered inserts).
INDEXES = [
    ("product_buyers", ["contact_id"], "ix_product_buyers_contact"),
    ("product_sales_orders", ["month", "contact_id"], "ix_product_sales_orders_month"),
    ("product_sales_orders", ["contact_id"], "ix_product_sales_orders_contact"),
    ("product_sales_categories", ["category", "contact_id"], "ix_product_sales_categories_contact"),
    ("product_sales_categories", ["order_id"], "ix_product_sales_categories_order"),
]


def _create_indexes(store, tables=None):
    for table, columns, name in INDEXES:
        if tables is None or table in tables:
            store.create_index(table, columns, name)


def _drop_indexes(store, tables):
    for table, _, name in INDEXES:
        if table in tables:
            store.execute(f"DROP INDEX IF EXISTS {name}")


def _state(store):
    row = store.execute("SELECT lines_through, valid FROM product_sales_state WHERE id = 1").fetchone()
    return (row[0], bool(row[1])) if row else (0, False)


def invalidate(crm):
    crm.store.execute("UPDATE product_sales_state SET valid = 0 WHERE id = 1")


def fold_in(crm):
    """Add the lines above the mark to valid summaries (nothing to do when they
    are invalid: the rebuild will count them)."""
    store = crm.store
    newest_line = "SELECT coalesce(max(id), 0) FROM order_lines"
    through, valid = _state(store)
    if not valid or store.query_value(newest_line) <= through:
        return  # without taking the write lock
    with store.transaction():
        # Again under the write lock: another report may have folded them in.
        through, valid = _state(store)
        top = store.query_value(newest_line)
        if not valid or top <= through:
            return
        if store.query_value(
                "SELECT 1 FROM order_lines n WHERE n.id > ? AND n.id <= ? AND EXISTS "
                "(SELECT 1 FROM order_lines e WHERE e.order_id = n.order_id AND e.id <= ?) LIMIT 1", (through, top, through)):
            rebuild(crm)
        else:
            _add_lines(store, through, top)


def rebuild(crm):
    """Sum every order line afresh (one pass each, in one transaction)."""
    store = crm.store
    with store.transaction():
        top = store.query_value("SELECT coalesce(max(id), 0) FROM order_lines")
        _drop_indexes(store, TABLES + CATEGORY_TABLES)
        for table in TABLES + CATEGORY_TABLES:
            store.execute(f"DELETE FROM {table}")
        _add_lines(store, 0, top)
        _create_indexes(store)
        store.execute("UPDATE product_sales_state SET valid = 1 WHERE id = 1")


def _add_lines(store, through, top):
    """Add the order lines with ids in (through, top] and move the mark."""
    store.execute(_ADD_DAYS, (through, through, top))
    for sql in (_ADD_BUYERS, _ADD_ORDERS, _ADD_CATEGORIES, _ADD_SKUS, _ADD_PAIRS):
        store.execute(sql, (through, top))
    store.execute("UPDATE product_sales_state SET lines_through = ? WHERE id = 1", (top,))


def _recount_categories(crm):
    """Products changed category: count the summed lines' orders per category
    again (the other summaries do not depend on the catalogue)."""
    store = crm.store
    with store.transaction():
        through, _ = _state(store)
        _drop_indexes(store, CATEGORY_TABLES)
        for table in CATEGORY_TABLES:
            store.execute(f"DELETE FROM {table}")
        for sql in (_ADD_CATEGORIES, _ADD_SKUS):
            store.execute(sql, (0, through))
        _create_indexes(store, CATEGORY_TABLES)


def _categories_moved(store):
    return store.query_value(
        f"SELECT 1 FROM product_sales_skus s LEFT JOIN products p ON p.sku = s.sku WHERE s.category != {CATEGORY_LABEL} LIMIT 1"
    ) is not None


def current(crm):
    """Bring the summaries up to date; False when that needs a write the
    database refuses (then report from the lines)."""
    store = crm.store
    try:
        through, valid = _state(store)
        fx = crm.get_setting(FX_VERSION)
        if valid and fx != crm.get_setting(SUMMED_FX):  # rates loaded or base currency changed since: revenue sums again
            valid = False
        if valid:
            fold_in(crm)
            summed = store.query_value("SELECT coalesce(sum(lines), 0) FROM product_sales_days")
            # Lines without an order (the record allows them) are in no report.
            valid = summed == store.query_value("SELECT count(*) FROM order_lines WHERE order_id IS NOT NULL")
        if not valid:
            with store.transaction():
                rebuild(crm)
                if fx is not None:
                    crm.set_setting(SUMMED_FX, fx)
        elif _categories_moved(store):
            _recount_categories(crm)
    except (StoreError, *store.sql_errors):
        # A summary that cannot be brought up to date (the database refuses
        # the write, or lines written outside the CRM break its rules) only
        # costs speed: the report reads the lines.
        return False
    return True


def subtract_orders(crm, order_ids):
    """Take these orders, about to be deleted, out of valid summaries."""
    store = crm.store
    through, valid = _state(store)
    if not valid or not order_ids:
        return
    days, buyers, pairs = {}, {}, {}
    for chunk in _chunks(list(order_ids)):
        marks = ", ".join("?" * len(chunk))
        for sku, day, units, revenue, lines, orders in store.execute(
                "SELECT ol.sku, substr(o.ordered_at, 1, 10), sum(ol.quantity), sum(ol.quantity * ol.unit_price * o.fx_rate), count(*), "
                f"count(DISTINCT ol.order_id) FROM order_lines ol JOIN orders o ON o.id = ol.order_id "
                f"WHERE o.id IN ({marks}) AND ol.id <= ? GROUP BY 1, 2", [*chunk, through]):
            old = days.get((sku, day), (0, 0, 0, 0))
            days[(sku, day)] = (old[0] + units, old[1] + revenue, old[2] + lines, old[3] + orders)
        for sku, contact_id, lines in store.execute(
                "SELECT ol.sku, o.contact_id, count(*) FROM order_lines ol JOIN orders o ON o.id = ol.order_id "
                f"WHERE o.id IN ({marks}) AND ol.id <= ? AND o.contact_id IS NOT NULL GROUP BY 1, 2", [*chunk, through]):
            buyers[(sku, contact_id)] = buyers.get((sku, contact_id), 0) + lines
        for table in ("product_sales_orders", "product_sales_categories"):
            store.execute(f"DELETE FROM {table} WHERE order_id IN ({marks})", chunk)
        for sku, other, orders in store.execute(_PAIRS_OF.format(where=f"order_id IN ({marks}) AND id <= ?"), [*chunk, through]):
            pairs[(sku, other)] = pairs.get((sku, other), 0) + orders
    store.executemany(
        "UPDATE product_sales_days SET units = units - ?, revenue = revenue - ?, lines = lines - ?, orders = orders - ? "
        "WHERE sku = ? AND day = ?", [(*d, *key) for key, d in days.items()])
    store.executemany("DELETE FROM product_sales_days WHERE sku = ? AND day = ? AND lines <= 0", list(days))
    store.executemany("UPDATE product_buyers SET lines = lines - ? WHERE sku = ? AND contact_id = ?",
                      [(n, *key) for key, n in buyers.items()])
    store.executemany("DELETE FROM product_buyers WHERE sku = ? AND contact_id = ? AND lines <= 0", list(buyers))
    store.executemany("UPDATE product_pairs SET orders = orders - ? WHERE sku = ? AND other = ?",
                      [(n, *key) for key, n in pairs.items()])
    store.executemany("DELETE FROM product_pairs WHERE sku = ? AND other = ? AND orders <= 0", list(pairs))


def orders_touch_summed_lines(crm, order_ids):
    """Whether any of these orders has lines already in the summaries (so a
    change of its date or customer makes them wrong)."""
    through, valid = _state(crm.store)
    if not valid:
        return False
    for chunk in _chunks(list(order_ids)):
        if crm.store.query_value(
                f"SELECT 1 FROM order_lines WHERE order_id IN ({', '.join('?' * len(chunk))}) AND id <= ? LIMIT 1",
                [*chunk, through]) is not None:
            return True
    return False


def lines_already_summed(crm, line_ids):
    through, valid = _state(crm.store)
    return valid and any(i is not None and i <= through for i in line_ids)


def move_buyer(crm, keep_id, duplicate_id):
    """A merged duplicate's purchases now belong to the kept contact."""
    store = crm.store
    store.execute(
        "INSERT INTO product_buyers (sku, contact_id, lines) SELECT sku, ?, lines FROM product_buyers WHERE contact_id = ? "
        "ON CONFLICT (sku, contact_id) DO UPDATE SET lines = product_buyers.lines + excluded.lines", (keep_id, duplicate_id))
    store.execute("DELETE FROM product_buyers WHERE contact_id = ?", (duplicate_id,))
    for table in ("product_sales_orders", "product_sales_categories"):
        store.execute(f"UPDATE {table} SET contact_id = ? WHERE contact_id = ?", (keep_id, duplicate_id))


def forget_buyer(crm, contact_id):
    """An erased contact's orders stay without a customer (as in ``orders``)."""
    crm.store.execute("DELETE FROM product_buyers WHERE contact_id = ?", (contact_id,))
    for table in ("product_sales_orders", "product_sales_categories"):
        crm.store.execute(f"UPDATE {table} SET contact_id = NULL WHERE contact_id = ?", (contact_id,))
