"""Money in more than one currency: the base currency, exchange rates, and
each order's factor to the base currency.

**The base currency** is the setting ``base_currency`` (``crm settings set
base_currency EUR``); unset, it is EUR, the records' default currency. Every
revenue figure is in the base currency.

**Exchange rates** (table ``exchange_rates``) are read as the ECB publishes
them: ``1 base = rate currency`` on a day (``base`` EUR, ``currency`` GBP,
``rate`` 0.8523 means one euro buys 0.8523 pounds). ``crm rates load FILE``
reads them (see ``load_rates``); a rate's ``base`` is the file's (the ECB's is
EUR) or else the base currency when the file is loaded.

**Each order's factor.** ``orders.fx_rate`` holds how many units of the base
currency one unit of the order's currency was worth on the order's date, so
every revenue figure is ``total * fx_rate`` (an order line's
``quantity * unit_price * fx_rate``): one multiplication, no rate lookup per
order per query. The factor is 1 for an order in the base currency, else the
rate of the order's date, else the latest rate before it (weekends and
holidays take Friday's rate); NULL when no rate on or before that date is
known. A rate is used directly (base -> currency), inverted (currency ->
base) or crossed through a third currency both are quoted against (base USD
with the ECB's EUR rates: ``USD per EUR / GBP per EUR``), each leg at its
latest rate on or before the date. Deals carry ``fx_rate`` too: a closed
deal at its close date's rate, an open one at the latest rate.
``convert_orders`` sets the factors; it runs after every order and deal
write, after ``crm rates load`` and for every row when the base currency
changes.

**Refusing a mixed sum.** ``require_rates`` raises one line naming the
currencies whose orders have no factor, so no report adds euros to pounds or
leaves orders out silently.
"""

import bisect
import csv
import datetime as dt
import io
import json
import os
import re

from .errors import CRMError

#: The base currency when the setting is unset: the records' default currency.
DEFAULT_BASE = "EUR"
SETTING = "base_currency"
#: A number that changes whenever existing orders' factors may have changed
#: (rates loaded, base currency changed): a plugin keeping sums of converted
#: amounts compares it with the one it summed under.
VERSION = "fx.version"
_CODE = re.compile(r"[A-Z]{3}")

#: How ``crm rates list`` prints a rate.
RATE_FIELDS = ["day", "base", "currency", "rate", "source", "loaded_at"]


def check_code(value, what="currency"):
    """A three-letter currency code in capitals (``eur`` -> ``EUR``), else ``CRMError``."""
    code = str(value or "").strip().upper()
    if not _CODE.fullmatch(code):
        raise CRMError(f"{what} {value!r} is not a three-letter currency code (ISO 4217, e.g. EUR, GBP, CHF)")
    return code


def base_currency(crm):
    """The base currency of every revenue figure (setting ``base_currency``; EUR when unset)."""
    try:
        return crm.get_setting(SETTING) or DEFAULT_BASE
    except Exception:  # a database made before settings existed (or not initialised yet): the default
        return DEFAULT_BASE


# -- each order's factor ------------------------------------------------------------

#: An order's currency; empty (a row written past the record class) is the records' default, EUR.
_CURRENCY = "coalesce(nullif(currency, ''), 'EUR')"


#: The date each table's amounts are converted at: an order's date; a deal's
#: close date, or the latest rate while it is open.
DATED = {"orders": "ordered_at", "deals": "coalesce(substr(closed_at, 1, 10), '9999-12-31')"}


def convert_orders(crm, everything=False):
    """Set ``fx_rate`` of orders (and deals) from the exchange rates: for the
    rows that have none yet (new ones, and those whose rate was missing), or
    for every row with ``everything`` (after new rates or a new base
    currency). Returns the number of orders still without a factor.

    Works per distinct (currency, date): the rule (the date's rate, else the
    latest before it; direct, inverse or crossed) runs once per pair in
    Python and each pair is one indexed UPDATE, so millions of orders cost
    one pass and a rate lookup per order never happens."""
    store = crm.store
    base = base_currency(crm)
    scope = "" if everything else " AND fx_rate IS NULL"
    with store.transaction():
        for table, day in DATED.items():
            store.execute(f"UPDATE {table} SET fx_rate = 1 WHERE {_CURRENCY} = ?{scope} AND (fx_rate IS NULL OR fx_rate <> 1)", (base,))
            pairs = store.query(f"SELECT DISTINCT {_CURRENCY} AS currency, {day} AS day FROM {table} WHERE {_CURRENCY} <> ?{scope}",
                                (base,))
            if not pairs:
                continue
            factor = _factors(store, base, {p["currency"] for p in pairs})
            found, unknown = [], []
            for p in pairs:
                f = factor(p["currency"], str(p["day"] or "")[:10])
                (found if f is not None else unknown).append((f, p["currency"], p["day"]))
            if found:
                store.executemany(f"UPDATE {table} SET fx_rate = ? WHERE {_CURRENCY} = ? AND {day} = ?{scope}", found)
            if unknown and everything:
                store.executemany(f"UPDATE {table} SET fx_rate = NULL WHERE {_CURRENCY} = ? AND {day} = ? AND fx_rate IS NOT NULL",
                                  [(c, d) for _, c, d in unknown])
        if everything:  # summaries kept of converted amounts (a plugin's) know to sum again
            version = int(crm.get_setting(VERSION) or 0) + 1
            store.execute("INSERT INTO _crm_settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                          (VERSION, json.dumps(version)))
        return store.query_value("SELECT count(*) FROM orders WHERE fx_rate IS NULL")


def _factors(store, base, currencies):
    """``factor(currency, day)``: base units per unit of ``currency`` on ``day``, or None."""
    wanted = sorted(set(currencies) | {base})
    marks = ", ".join("?" * len(wanted))
    series = {}  # (base, currency) -> ([day, ...], [rate, ...]) oldest first
    for r in store.query(f"SELECT base, currency, day, rate FROM exchange_rates WHERE currency IN ({marks}) OR base IN ({marks}) "
                         "ORDER BY base, currency, day", (*wanted, *wanted)):
        days, rates = series.setdefault((r["base"], r["currency"]), ([], []))
        days.append(r["day"])
        rates.append(r["rate"])
    anchors = sorted({b for b, _ in series} - {base})

    def on(pair, day):
        s = series.get(pair)
        if s is None:
            return None
        i = bisect.bisect_right(s[0], day)
        return s[1][i - 1] if i else None

    def factor(currency, day):
        if currency == base:
            return 1.0
        rate = on((base, currency), day)  # 1 base = rate currency
        if rate:
            return 1.0 / rate
        rate = on((currency, base), day)  # 1 currency = rate base
        if rate:
            return rate
        for anchor in anchors:  # 1 anchor = a currency and = b base
            a, b = on((anchor, currency), day), on((anchor, base), day)
            if a and b:
                return b / a
        return None

    return factor


def exchange_factor(crm, currency, day=None):
    """Base units one unit of ``currency`` is worth on ``day`` (an ISO date;
    default: at the latest rate loaded), by the same rule as orders; ``None``
    without a rate on or before that day."""
    base = base_currency(crm)
    if currency == base:
        return 1.0
    return _factors(crm.store, base, {currency})(currency, day or "9999-12-31")


def require_rates(crm, table="orders", where=None, params=()):
    """The base currency, once every order (``table="deals"``: every deal) has
    its factor to it; else a ``CRMError`` naming the currencies that have no
    rate. Every revenue figure calls this first (an indexed look at the rows
    without a factor: cheap on millions of orders). ``where`` (the caller's
    own SQL, values bound from ``params``) narrows the check to the rows the
    figure sums: one customer's order without a rate does not block another
    customer's page."""
    if table not in DATED:
        raise ValueError(f"require_rates: table must be one of {', '.join(DATED)}")
    base = base_currency(crm)
    store = crm.store
    scope = f" AND ({where})" if where else ""
    params = tuple(params)

    def missing():
        return sorted({r["currency"] for r in store.query(
            f"SELECT DISTINCT {_CURRENCY} AS currency FROM {table} WHERE fx_rate IS NULL{scope}", params)})

    if store.query_value(f"SELECT 1 FROM {table} WHERE fx_rate IS NULL{scope} LIMIT 1", params) is None:
        return base
    currencies = missing()
    if base in currencies:  # rows written past convert_orders (a plugin's raw insert): convert them now
        try:
            convert_orders(crm)
        except Exception:  # a database that refuses writes: report what is missing
            pass
        currencies = missing()
        if not currencies:
            return base
    when = "on or before their dates" if table == "orders" else "on or before their close dates"
    raise CRMError(f"{table} in {', '.join(currencies)} have no exchange rate to {base} {when}: load rates with crm rates load FILE")


def set_base_currency(crm, code):
    """Make ``code`` the base currency and convert every order to it (one transaction)."""
    code = check_code(code, "base_currency")
    with crm.store.transaction():
        crm.store.execute("INSERT INTO _crm_settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                          (SETTING, json.dumps(code)))
        convert_orders(crm, everything=True)
    return code


# -- loading and listing rates -----------------------------------------------------

def _day(text):
    text = text.strip()
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:  # the ECB's daily file: "28 November 2026"
        return dt.datetime.strptime(text, "%d %B %Y").date().isoformat()
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _rate(text):
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{text.strip()!r} must be a positive number")
    return value


def read_rates(path, base):
    """Rows ``(base, currency, day, rate)`` of a rates file, or ``CRMError``
    naming the file, row and column of the first bad value. Two layouts:

    - long: a header ``date,currency,rate`` (and optionally ``base``), one rate
      a row, meaning ``1 base = rate currency``; without a ``base`` column the
      base is ``base``;
    - wide, the ECB's euro foreign exchange reference rates as published at
      https://www.ecb.europa.eu/stats/policy_and_exchange_rates/euro_reference_exchange_rates/
      (``eurofxref-hist.csv`` inside ``eurofxref-hist.zip``, and the daily
      ``eurofxref.csv``): a header ``Date,USD,JPY,...`` with one column per
      currency, one day a row, ``1 EUR = rate currency``; ``N/A`` and empty
      cells (currencies not quoted that day, the trailing comma) are skipped.
    """
    if not os.path.isfile(path):
        raise CRMError(f"{path}: file not found")
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise CRMError(f"{path}: not UTF-8 text; save the rates as CSV UTF-8") from None
    lines = io.StringIO(text)
    first = text.split("\n", 1)[0]
    reader = csv.reader(lines, delimiter=max([",", ";", "\t"], key=first.count))
    header = [h.strip() for h in next(reader, [])]
    keys = [h.lower() for h in header]
    if not any(keys):
        raise CRMError(f"{path}: the file is empty (a header row date,currency,rate is needed)")
    out = []
    if {"date", "currency", "rate"} <= set(keys):
        col = {k: keys.index(k) for k in ("date", "currency", "rate", "base") if k in keys}
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            cells += [""] * (len(header) - len(cells))
            field = "date"
            try:
                day = _day(cells[col["date"]])
                field = "currency"
                currency = check_code(cells[col["currency"]])
                field = "base"
                row_base = check_code(cells[col["base"]], "base") if "base" in col and cells[col["base"]].strip() else base
                field = "rate"
                rate = _rate(cells[col["rate"]])
            except (ValueError, CRMError) as exc:
                raise CRMError(f"{path}: row {number}: {field}: {exc}") from None
            if currency == row_base:
                raise CRMError(f"{path}: row {number}: currency: a rate of {currency} against itself")
            out.append((row_base, currency, day, rate))
        return out
    if keys[0] == "date" and len(keys) > 1:
        codes = []
        for i, h in enumerate(header[1:], start=1):
            if not h:
                continue
            try:
                codes.append((i, check_code(h)))
            except CRMError as exc:
                raise CRMError(f"{path}: row 1: column {i + 1}: {exc}") from None
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            try:
                day = _day(cells[0])
            except ValueError as exc:
                raise CRMError(f"{path}: row {number}: Date: {exc}") from None
            for i, code in codes:
                cell = cells[i].strip() if i < len(cells) else ""
                if cell in ("", "N/A") or code == "EUR":
                    continue
                try:
                    out.append(("EUR", code, day, _rate(cell)))
                except ValueError as exc:
                    raise CRMError(f"{path}: row {number}: {code}: {exc}") from None
        return out
    raise CRMError(f"{path}: row 1: expected the columns date,currency,rate (optionally base) or the ECB's Date,USD,JPY,... "
                   f"(found {', '.join(h for h in header if h)})")


def load_rates(crm, path, base=None):
    """Load a rates file (``read_rates``) and convert the orders again.
    Idempotent: a rate already stored for the same base, currency and day is
    replaced. All or nothing. Returns ``{"rates": n, "currencies": [...],
    "first": day, "last": day, "without_rate": orders}``."""
    base = check_code(base, "--base") if base else base_currency(crm)
    rows = read_rates(path, base)
    if not rows:
        raise CRMError(f"{path}: no rates in the file")
    left = store_rates(crm, rows, os.path.basename(path))
    days = sorted(r[2] for r in rows)
    return {"rates": len(rows), "currencies": sorted({r[1] for r in rows}), "first": days[0], "last": days[-1], "without_rate": left}


def store_rates(crm, rows, source):
    """Store ``(base, currency, day, rate)`` rows (replacing those of the same
    base, currency and day) and convert every order again, in one
    transaction. Returns the number of orders still without a rate."""
    from .normalize import now

    stamp = now()
    with crm.store.transaction():
        crm.store.executemany(
            "INSERT INTO exchange_rates (base, currency, day, rate, source, loaded_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (base, currency, day) DO UPDATE SET rate = excluded.rate, source = excluded.source, "
            "loaded_at = excluded.loaded_at", [(*r, source, stamp) for r in rows])
        return convert_orders(crm, everything=True)


def list_rates(crm, currency=None):
    """Stored rates, newest day first (``currency``: only those of this currency, as quoted or as base)."""
    sql = "SELECT day, base, currency, rate, source, loaded_at FROM exchange_rates"
    params = ()
    if currency:
        code = check_code(currency, "--currency")
        sql += " WHERE currency = ? OR base = ?"
        params = (code, code)
    return crm.store.query(sql + " ORDER BY day DESC, base, currency", params)
