"""Target periods: a year, a quarter or a month (``2026``, ``2026-Q2``,
``2026-05``). A leaf module: record validation and target reports both use it."""

import calendar
import datetime as dt
import re

import attrs


@attrs.frozen
class Period:
    label: str
    start: dt.date
    end: dt.date  # inclusive

    @property
    def days(self):
        return (self.end - self.start).days + 1

    def elapsed(self, as_of):
        """Days of the period up to and including ``as_of`` (0 before it starts)."""
        if as_of < self.start:
            return 0
        return (min(as_of, self.end) - self.start).days + 1


_PERIOD = re.compile(r"(\d{4})(?:-(?:[Qq]([1-4])|(\d{1,2})))?")


def parse_period(text):
    """``2026`` / ``2026-Q2`` / ``2026-05`` -> ``Period``; ``ValueError`` otherwise."""
    m = _PERIOD.fullmatch(str(text or "").strip())
    if not m:
        raise ValueError(f"invalid period {text!r} (use 2026, 2026-Q2 or 2026-05)")
    year, quarter, month = int(m.group(1)), m.group(2), m.group(3)
    if quarter:
        q = int(quarter)
        start = dt.date(year, 3 * q - 2, 1)
        end = dt.date(year, 3 * q, calendar.monthrange(year, 3 * q)[1])
        return Period(f"{year}-Q{q}", start, end)
    if month:
        mo = int(month)
        if not 1 <= mo <= 12:
            raise ValueError(f"invalid period {text!r}: month must be 01-12")
        return Period(f"{year}-{mo:02d}", dt.date(year, mo, 1), dt.date(year, mo, calendar.monthrange(year, mo)[1]))
    return Period(str(year), dt.date(year, 1, 1), dt.date(year, 12, 31))
