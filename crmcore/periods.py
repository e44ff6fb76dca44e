"""One meaning of "the last 12 months" for every report.

**The last 12 months are the 12 full months before the current month, plus
the current month so far, marked partial.** The current month is the month of
the report's date (``as_of``: the newest date in the data unless a report is
given one), and it is partial unless ``as_of`` is its last day, in which case
it is the last of the 12 full months and nothing is partial. So on 5 December
2026 the last 12 months run from 1 December 2025 to 5 December 2026, the
last bar of a monthly chart is December 2026 drawn as partial, and a figure
"for the last 12 months" counts every day in that span; on 30 November 2026
they are December 2025 to November 2026.

A comparison with the year before (``Period.previous``) covers the same span
shifted by the same number of months, partial month included, so a partial
month is never compared with a full one.

A leaf module: dates in, labels out; reports turn a ``Period`` into bound
query parameters (``since``/``until``) and into chart data (``series``).
"""

import calendar
import datetime as dt

import attrs

MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def month_end(day):
    """The last day of ``day``'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_months(day, n):
    """``day`` moved ``n`` months (negative: back); the 31st becomes the month's last day."""
    index = day.year * 12 + day.month - 1 + n
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def month_label(key):
    """``"2026-11"`` -> ``"Nov 2026"``."""
    return f"{MONTH_NAMES[int(key[5:7]) - 1]} {key[:4]}"


def day_label(day):
    """``2026-12-05`` -> ``"5 Dec 2026"``."""
    return f"{day.day} {MONTH_NAMES[day.month - 1]} {day.year}"


@attrs.frozen
class Month:
    """One month of a period: ``key`` is what ``substr(date, 1, 7)`` gives in SQL."""

    key: str
    label: str
    start: dt.date
    end: dt.date  # the last day counted: the month's last day, or as_of in a partial month
    partial: bool


@attrs.frozen
class Period:
    """Whole months up to ``as_of``, the last one partial unless ``as_of`` ends its month."""

    as_of: dt.date
    months: tuple
    count: int  # the number of full months asked for ("12" in "the last 12 months")

    @property
    def start(self):
        """The first day counted."""
        return self.months[0].start

    @property
    def end(self):
        """The last day counted (``as_of``)."""
        return self.as_of

    @property
    def since(self):
        """ISO date of the first day: ``column >= since``."""
        return self.start.isoformat()

    @property
    def until(self):
        """ISO date of the day after the last: ``column < until`` (works for dates and timestamps)."""
        return (self.as_of + dt.timedelta(days=1)).isoformat()

    @property
    def partial(self):
        """The partial current month, or ``None`` when ``as_of`` is a month's last day."""
        return self.months[-1] if self.months[-1].partial else None

    @property
    def partial_label(self):
        """The chart label of the partial month (what chart helpers take as ``partial=``), or ``None``."""
        return self.partial.label if self.partial else None

    @property
    def full_months(self):
        return tuple(m for m in self.months if not m.partial)

    @property
    def keys(self):
        return [m.key for m in self.months]

    @property
    def span(self):
        """Short form for a chart or table caption: ``"Dec 2025 – Nov 2026"``, or with a partial
        month the last day counted, ``"Dec 2025 – 5 Dec 2026"``."""
        first, last = self.months[0], self.months[-1]
        if last.partial:
            return f"{first.label} – {day_label(self.as_of)}"
        return first.label if first is last else f"{first.label} – {last.label}"

    @property
    def description(self):
        """One line for the page: which months, and that the last one is partial."""
        full = self.full_months
        name = f"Last {self.count} months" if self.count != 1 else "Last month"
        if not full:
            return f"{name}: {self.months[-1].label} so far (partial, to {day_label(self.as_of)})"
        months = full[0].label if len(full) == 1 else f"{full[0].label} – {full[-1].label}"
        text = f"{name}: {months} in full"
        if self.partial:
            return f"{text}, plus {self.partial.label} so far (partial month, to {day_label(self.as_of)})"
        return f"{text} (data up to {day_label(self.as_of)})"

    @property
    def phrase(self):
        """The description to go on from a sentence: ``"the last 12 months: Dec 2025 – ..."``."""
        return "the " + self.description[0].lower() + self.description[1:]

    def series(self, values, default=0):
        """``[(label, value), ...]`` for every month in order, ``values`` keyed by ``"YYYY-MM"``."""
        return [(m.label, values.get(m.key, default)) for m in self.months]

    def month_of(self, key):
        """The ``Month`` with ``key`` (``"YYYY-MM"``), or ``None``."""
        return next((m for m in self.months if m.key == key), None)

    def previous(self, months=None):
        """The same span ``months`` earlier (default: the period's length in full months), so that
        a partial month is compared with the same days of its month then."""
        n = self.count if months is None else months
        as_of = add_months(self.as_of, -n)
        if not self.partial:
            as_of = month_end(as_of)
        return months_to(as_of, self.count)


def months_to(as_of, count=12):
    """The ``count`` full months before ``as_of``'s month plus that month so far (partial
    unless ``as_of`` is its last day; then it is the last of the ``count`` full months)."""
    if isinstance(as_of, str):
        as_of = dt.date.fromisoformat(as_of[:10])
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    if count < 1:
        raise ValueError("a period needs at least one month")
    partial = as_of != month_end(as_of)
    first = add_months(as_of.replace(day=1), -count if partial else -(count - 1))
    months = []
    day = first
    while day <= as_of:
        is_partial = partial and day.year == as_of.year and day.month == as_of.month
        key = f"{day.year:04d}-{day.month:02d}"
        months.append(Month(key, month_label(key), day, as_of if is_partial else month_end(day), is_partial))
        day = add_months(day, 1)
    return Period(as_of, tuple(months), count)


def last_12_months(as_of):
    """The CRM's "last 12 months" up to ``as_of`` (see the module's docstring)."""
    return months_to(as_of, 12)


def data_as_of(crm):
    """The date of the newest order or contact (ISO), or ``None`` for an empty CRM.

    Reports count "last 12 months" back from here, not from today, so the same
    database renders the same bytes tomorrow; plugin sections should too."""
    return crm.store.query_value(
        "SELECT max(d) FROM (SELECT max(ordered_at) AS d FROM orders UNION ALL SELECT max(substr(created_at, 1, 10)) FROM contacts) AS latest")


def report_period(crm, as_of=None, count=12):
    """The period a report covers: ``count`` months up to ``as_of`` (a date or ISO text, for a
    report's ``--param as_of``), else up to the newest date in the data, else today."""
    if not as_of:
        as_of = data_as_of(crm) or dt.date.today().isoformat()
    try:
        return months_to(as_of, count)
    except ValueError:
        from .errors import CRMError

        raise CRMError(f"--param as_of={as_of!r}: use a date, YYYY-MM-DD") from None
