"""Dates as files bring them: which order (day/month/year) a file writes them
in, and partial dates such as a birthday without a year.

``11/03/2026`` is 11 March in Berlin and 3 November in Boston. A file never
mixes the two, so the importer learns the order from the file's own values: a
value that fits only one order (``25/03/2026``) settles it for the whole file.
When every value fits both, the import is refused with one line asking for
``--date-format DMY|MDY|YMD``; a date is never guessed.

Values are handed on in ISO form (``2026-03-11``, or ``2026-03-11T09:50:26+02:00``
with a time), which the record fields' converters already read.
"""

import datetime as dt
import re

ORDERS = ("DMY", "MDY", "YMD")
ORDER_NAMES = {"DMY": "day/month/year", "MDY": "month/day/year", "YMD": "year/month/day"}

# 11/03/2026, 11.03.26, 2026/03/11, 11-03-2026, optionally followed by a time
# (and a UTC offset): "11/03/2026 09:50", "2026/03/11 09:50:26 +0200".
_DATE = re.compile(
    r"(\d{1,4})([./-])(\d{1,2})\2(\d{1,4})\.?"
    r"(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([AaPp][Mm])?\s*(Z|[+-]\d{2}:?\d{2})?)?"
)
# Month and day without a year: 04/17 (Mailchimp's birthday), 17.04., --04-17.
_PARTIAL = re.compile(r"(?:--)?(\d{1,2})([./-])(\d{1,2})\.?")
_ISO_OFFSET = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?)\s*(Z|[+-]\d{2}:?\d{2})?")


class DateOrderError(ValueError):
    """The file's dates fit more than one order, or none."""


def check_order(order):
    """``DMY``, ``MDY`` or ``YMD`` from a ``--date-format`` value."""
    if order is None:
        return None
    word = str(order).strip().upper().replace("-", "").replace("/", "")
    if word not in ORDERS:
        raise ValueError(f"--date-format {order!r} must be one of {', '.join(ORDERS)}")
    return word


def is_iso(value):
    """Plain ISO dates need no order (the common, fast case)."""
    return type(value) is str and len(value) >= 10 and value[4] == "-" and value[7] == "-" and value[:4].isdigit()


def orders_of(value):
    """The orders a full date fits: ``{"DMY", "MDY"}`` for 11/03/2026, ``{"DMY"}``
    for 25/03/2026; ``None`` if it is not a numeric date at all (ISO dates,
    date objects, words)."""
    if type(value) is not str or is_iso(value):
        return None
    m = _DATE.fullmatch(value.strip())
    if not m:
        return None
    a, sep, b, c = m.group(1), m.group(2), m.group(3), m.group(4)
    fits = set()
    if len(a) == 4:
        if _valid(int(a), int(b), int(c)):
            fits.add("YMD")
        return fits
    if len(c) not in (2, 4):
        return fits
    year = _year(c)
    if _valid(year, int(b), int(a)):
        fits.add("DMY")
    if sep != "." and _valid(year, int(a), int(b)):  # a dotted date is day first everywhere
        fits.add("MDY")
    return fits


def _year(text):
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year


def _valid(year, month, day):
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def convert(value, order):
    """A full date in ``order`` as ISO text (with its time and offset, if any).

    ISO text and date objects pass through unchanged; so does anything that is
    not a numeric date, for the field's converter to judge."""
    if type(value) is not str or is_iso(value):
        if type(value) is str and len(value) > 19:
            m = _ISO_OFFSET.fullmatch(value.strip())
            if m and m.group(3):  # "2025-10-07 09:50:26 +0200": Shopify's timestamps
                return f"{m.group(1)}T{m.group(2)}{_offset(m.group(3))}"
        return value
    m = _DATE.fullmatch(value.strip())
    if not m:
        return value
    a, b, c = (int(m.group(i)) for i in (1, 3, 4))
    if len(m.group(1)) == 4:
        year, month, day = a, b, c
    elif order == "MDY":
        year, month, day = _year(m.group(4)), a, b
    elif order == "DMY":
        year, month, day = _year(m.group(4)), b, a
    else:
        raise DateOrderError(f"invalid date {value!r}")
    if not _valid(year, month, day):
        raise DateOrderError(f"date {value!r} does not fit the file's {ORDER_NAMES[order]} order")
    text = f"{year:04d}-{month:02d}-{day:02d}"
    if m.group(5) is None:
        return text
    hour, minute, second = int(m.group(5)), int(m.group(6)), int(m.group(7) or 0)
    if m.group(8):
        if not 1 <= hour <= 12:
            raise DateOrderError(f"invalid time in {value!r}")
        hour = hour % 12 + (12 if m.group(8).lower() == "pm" else 0)
    return f"{text}T{hour:02d}:{minute:02d}:{second:02d}" + (_offset(m.group(9)) if m.group(9) else "")


def _offset(text):
    if text == "Z":
        return "+00:00"
    return text if ":" in text else f"{text[:3]}:{text[3:]}"


def partial(value, order):
    """``--MM-DD`` (ISO 8601 without a year) from a month and day such as
    ``04/17`` (MDY files), ``17.04.`` (DMY) or ``--04-17``; ``None`` if
    ``value`` is not a month and day alone."""
    if type(value) is not str:
        return None
    text = value.strip()
    m = _PARTIAL.fullmatch(text)
    if not m:
        return None
    a, sep, b = int(m.group(1)), m.group(2), int(m.group(3))
    if text.startswith("--") or order == "YMD":
        month, day = a, b
    elif sep == "." or order == "DMY":
        month, day = b, a
    elif order == "MDY":
        month, day = a, b
    elif a > 12:
        month, day = b, a
    elif b > 12:
        month, day = a, b
    else:
        raise DateOrderError(f"{value!r} could be day/month or month/day")
    if not _valid(2000, month, day):  # a leap year, so 02/29 is a birthday
        raise DateOrderError(f"{value!r} is not a month and day")
    return f"--{month:02d}-{day:02d}"


class DateOrder:
    """The date order of one file, learnt from its values as they come.

    ``order`` given (``--date-format`` or the export format's known order) is
    used as is. Otherwise the first value that fits one order settles it; an
    ambiguous value before that calls ``look_ahead()``, which returns the
    file's remaining date values (the importer reads the file once more), and
    without a deciding value there the import is refused."""

    def __init__(self, order=None, look_ahead=None, where=""):
        self.order, self.given = order, order is not None
        self.look_ahead, self.where = look_ahead, where

    def date(self, value):
        if type(value) is not str or is_iso(value):
            return convert(value, self.order)
        if self.order is None:
            fits = orders_of(value)
            if fits is not None:
                self.order = self._decide(value, fits)
        return convert(value, self.order)

    def month_day(self, value):
        """A birthday without a year (``--MM-DD``), or ``None`` if ``value``
        has a year (or is no date)."""
        if type(value) is not str or len(value) > 8:
            return None
        if self.order is None and _PARTIAL.fullmatch(value.strip()) and not value.strip().startswith("--"):
            try:
                return partial(value, None)
            except DateOrderError:
                fits = _partial_orders(value)
                if not fits:
                    raise
                self.order = self._decide(value, fits)
        return partial(value, self.order)

    def _decide(self, value, fits):
        if len(fits) == 1:
            return next(iter(fits))
        if not fits:
            return None  # not a date in any order: the field's converter says so
        seen = fits
        for other in (self.look_ahead() if self.look_ahead else ()):
            other_fits = orders_of(other)
            if other_fits is None and type(other) is str and _PARTIAL.fullmatch(other.strip()):
                other_fits = _partial_orders(other)
            if other_fits:
                narrowed = seen & other_fits
                if len(narrowed) == 1:
                    return next(iter(narrowed))
                if narrowed:
                    seen = narrowed
        raise DateOrderError(
            f"{self.where}dates such as {value!r} could be day/month/year or month/day/year and no value in the file "
            "settles it; give the order with --date-format DMY|MDY|YMD"
        )


def _partial_orders(value):
    m = _PARTIAL.fullmatch(value.strip())
    a, sep, b = int(m.group(1)), m.group(2), int(m.group(3))
    fits = set()
    if _valid(2000, b, a):
        fits.add("DMY")
    if sep != "." and _valid(2000, a, b):
        fits.add("MDY")
    return fits
