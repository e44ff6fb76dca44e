"""SLA policies and the business-hours clock.

A *calendar* says when the team works: opening hours per weekday (several
intervals a day are fine), holidays, and the time zone the hours are in.
A *policy* per priority gives the first-response and resolution targets in
business time. Each case keeps its clock in three stored columns:

- ``sla_elapsed``: business seconds counted so far (up to ``sla_since``);
- ``sla_since``: when the running clock last started, ``None`` while it stands
  still (pending, on-hold, solved, closed);
- ``first_response_due`` / ``resolution_due`` / ``breach_at``: the moments the
  targets run out if nothing changes, recomputed whenever the status or the
  priority changes, so "breached" is a range query on ``breach_at``.

Timestamps are the CRM's stored form: UTC, ``YYYY-MM-DDTHH:MM:SS``.
"""

import datetime as dt
import re

import attrs

from crmcore import CRMError, normalize

from .records import DONE, PAUSED, PRIORITIES

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SETTING = "service.sla"

DEFAULT_CONFIG = {
    "timezone": "UTC",
    "week": {"mon": "09:00-17:00", "tue": "09:00-17:00", "wed": "09:00-17:00", "thu": "09:00-17:00",
             "fri": "09:00-17:00", "sat": "", "sun": ""},
    "holidays": [],
    "policies": {
        "urgent": {"first_response": "1h", "resolution": "8h"},
        "high": {"first_response": "4h", "resolution": "24h"},
        "normal": {"first_response": "8h", "resolution": "40h"},
        "low": {"first_response": "24h", "resolution": "80h"},
    },
}

_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*$")
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_SECONDS_CAP = 366 * 24 * 3600  # a target longer than a year of business time is a typo


def parse_duration(value, where):
    """Business seconds from ``"4h"``, ``"30m"``, ``"1h30m"`` or a number of hours."""
    if isinstance(value, bool):
        raise CRMError(f"{where}: {value!r} is not a duration like 4h or 30m")
    if isinstance(value, (int, float)):
        seconds = int(round(value * 3600))
    else:
        match = _DURATION.match(str(value))
        if not match or not any(match.groups()):
            raise CRMError(f"{where}: {value!r} is not a duration like 4h, 30m or 1h30m")
        seconds = int(match.group(1) or 0) * 3600 + int(match.group(2) or 0) * 60
    if not 0 < seconds <= _SECONDS_CAP:
        raise CRMError(f"{where}: {value!r} must be more than zero and at most a year")
    return seconds


def format_duration(seconds):
    if seconds is None:
        return ""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours and minutes:
        return f"{hours}h{minutes:02d}m"
    return f"{hours}h" if hours else f"{minutes}m"


def _parse_hours(text, where):
    """``"09:00-12:00, 13:00-17:00"`` -> ``((32400, 43200), (46800, 61200))``; empty = closed."""
    intervals = []
    for part in [p.strip() for p in str(text or "").split(",") if p.strip()]:
        match = _HOURS.match(part)
        if not match:
            raise CRMError(f"{where}: {part!r} is not opening hours like 09:00-17:00")
        h1, m1, h2, m2 = map(int, match.groups())
        start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
        if m1 > 59 or m2 > 59 or not 0 <= start < end <= 24 * 3600:
            raise CRMError(f"{where}: {part!r} must run forwards within one day (00:00-24:00)")
        intervals.append((start, end))
    intervals.sort()
    for (a, b), (c, d) in zip(intervals, intervals[1:]):
        if c < b:
            raise CRMError(f"{where}: opening hours {part!r} overlap")
    return tuple(intervals)


@attrs.frozen
class Calendar:
    """Business hours: ``week[weekday]`` is a tuple of ``(start, end)`` seconds
    after local midnight (Monday = 0); ``holidays`` are local dates."""

    week: tuple
    holidays: frozenset = frozenset()
    timezone: str = "UTC"

    # -- local <-> stored UTC ------------------------------------------------
    def _zone(self):
        if self.timezone in ("UTC", "Etc/UTC", ""):
            return None
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.timezone)

    def to_local(self, utc):
        zone = self._zone()
        if zone is None:
            return utc
        return utc.replace(tzinfo=dt.timezone.utc).astimezone(zone).replace(tzinfo=None)

    def to_utc(self, local):
        zone = self._zone()
        if zone is None:
            return local
        return local.replace(tzinfo=zone).astimezone(dt.timezone.utc).replace(tzinfo=None)

    # -- business arithmetic in local time -------------------------------------
    def windows(self, day):
        """Opening intervals of a local date as ``(start, end)`` datetimes."""
        if day in self.holidays:
            return ()
        midnight = dt.datetime.combine(day, dt.time())
        return tuple((midnight + dt.timedelta(seconds=a), midnight + dt.timedelta(seconds=b)) for a, b in self.week[day.weekday()])

    def add_local(self, start, seconds):
        """The local moment ``seconds`` business seconds after ``start``."""
        day = start.date()
        for _ in range(3 * 366 + 8):
            for open_, close in self.windows(day):
                if start >= close:
                    continue
                begin = max(start, open_)
                available = int((close - begin).total_seconds())
                if seconds <= available:
                    return begin + dt.timedelta(seconds=seconds)
                seconds -= available
            day += dt.timedelta(days=1)
        raise CRMError("the SLA calendar has no business hours in the next three years (holidays or an empty week)")

    def between_local(self, start, end):
        """Business seconds from ``start`` to ``end`` (0 when ``end`` is not later)."""
        if end <= start:
            return 0
        total = 0
        day = start.date()
        while day <= end.date():
            for open_, close in self.windows(day):
                a, b = max(open_, start), min(close, end)
                if b > a:
                    total += int((b - a).total_seconds())
            day += dt.timedelta(days=1)
        return total

    # -- on stored UTC timestamps ---------------------------------------------
    def add(self, start, seconds):
        """Stored UTC timestamp ``seconds`` business seconds after ``start`` (a stored timestamp)."""
        local = self.add_local(self.to_local(_parse(start)), seconds)
        return self.to_utc(local).isoformat(timespec="seconds")

    def between(self, start, end):
        return self.between_local(self.to_local(_parse(start)), self.to_local(_parse(end)))


def _parse(stamp):
    return stamp if isinstance(stamp, dt.datetime) else dt.datetime.fromisoformat(stamp)


@attrs.frozen
class SLA:
    calendar: Calendar
    #: priority -> (first-response seconds, resolution seconds)
    targets: dict


def parse_config(data, where="SLA"):
    """Check an SLA definition (the YAML's mapping) and return it normalised, ready to store."""
    if not isinstance(data, dict):
        raise CRMError(f"{where}: expected a mapping with week, holidays and policies")
    unknown = set(data) - {"timezone", "week", "holidays", "policies"}
    if unknown:
        raise CRMError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))} (use timezone, week, holidays, policies)")
    timezone = str(data.get("timezone") or "UTC")
    if timezone not in ("UTC", "Etc/UTC"):
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(timezone)
        except (ValueError, OSError, LookupError):
            raise CRMError(f"{where}: unknown time zone {timezone!r} (e.g. Europe/Berlin)") from None
    week_in = data.get("week", DEFAULT_CONFIG["week"])
    if not isinstance(week_in, dict):
        raise CRMError(f"{where}: week must map mon..sun to opening hours like 09:00-17:00")
    bad = set(map(str, week_in)) - set(DAYS)
    if bad:
        raise CRMError(f"{where}: week: unknown day(s) {', '.join(sorted(bad))} (use {', '.join(DAYS)})")
    week = {}
    for day in DAYS:
        value = week_in.get(day) or ""
        _parse_hours(value, f"{where}: week.{day}")
        week[day] = str(value)
    if not any(week.values()):
        raise CRMError(f"{where}: week has no opening hours at all")
    holidays = []
    for h in data.get("holidays") or []:
        try:
            holidays.append(h.isoformat() if isinstance(h, dt.date) else dt.date.fromisoformat(str(h)).isoformat())
        except ValueError:
            raise CRMError(f"{where}: holiday {h!r} is not a date (YYYY-MM-DD)") from None
    policies_in = data.get("policies", DEFAULT_CONFIG["policies"])
    if not isinstance(policies_in, dict):
        raise CRMError(f"{where}: policies must map each priority to first_response and resolution")
    bad = set(map(str, policies_in)) - set(PRIORITIES)
    if bad:
        raise CRMError(f"{where}: policies: unknown priority {', '.join(sorted(bad))} (use {', '.join(PRIORITIES)})")
    policies = {}
    for priority in PRIORITIES:
        policy = policies_in.get(priority, DEFAULT_CONFIG["policies"][priority])
        if not isinstance(policy, dict) or set(policy) - {"first_response", "resolution"}:
            raise CRMError(f"{where}: policies.{priority} must have first_response and resolution, e.g. 4h and 24h")
        fr = parse_duration(policy.get("first_response"), f"{where}: policies.{priority}.first_response")
        res = parse_duration(policy.get("resolution"), f"{where}: policies.{priority}.resolution")
        if fr > res:
            raise CRMError(f"{where}: policies.{priority}: the first response target is longer than the resolution target")
        policies[priority] = {"first_response": format_duration(fr), "resolution": format_duration(res)}
    return {"timezone": timezone, "week": week, "holidays": sorted(set(holidays)), "policies": policies}


def build(config):
    """An ``SLA`` from a normalised config."""
    week = tuple(_parse_hours(config["week"].get(day, ""), f"week.{day}") for day in DAYS)
    holidays = frozenset(dt.date.fromisoformat(h) for h in config["holidays"])
    targets = {p: (parse_duration(v["first_response"], p), parse_duration(v["resolution"], p)) for p, v in config["policies"].items()}
    return SLA(Calendar(week, holidays, config["timezone"]), targets)


def config(crm):
    return crm.get_setting(SETTING) or DEFAULT_CONFIG


def get_sla(crm):
    """The database's SLA (the default one until ``crm service sla load``)."""
    return build(config(crm))


def load(crm, path):
    """Check and store the SLA of a YAML file; re-time every running case. Returns the config."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as exc:
        raise CRMError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise CRMError(f"{path}{where}: not valid YAML") from None
    normalised = parse_config(data, str(path))
    sla = build(normalised)
    with crm.store.transaction():
        crm.set_setting(SETTING, normalised)
        retime_open_cases(crm, sla)
    return normalised


def policy_rows(crm):
    cfg = config(crm)
    return [{"priority": p, "first_response": cfg["policies"][p]["first_response"], "resolution": cfg["policies"][p]["resolution"]}
            for p in reversed(PRIORITIES)]


# -- the clock of one case ------------------------------------------------------


def running(status):
    return status not in PAUSED and status not in DONE


def elapsed_at(sla, case, at):
    """Business seconds on the case's clock at ``at``."""
    elapsed = case.get("sla_elapsed") or 0
    if case.get("sla_since"):
        elapsed += sla.calendar.between(case["sla_since"], at)
    return elapsed


def clock(sla, case, at, status=None, priority=None, responded=False):
    """Column changes for a case whose status and/or priority change at ``at``
    (or whose first response happens, ``responded=True``).

    Stops the clock at ``at``, restarts it when the new status runs, and
    stores the due times the targets run out."""
    status = status or case["status"]
    priority = priority or case["priority"]
    elapsed = elapsed_at(sla, case, at)
    changes = {"sla_elapsed": elapsed, "sla_since": at if running(status) else None}
    first_response_at = case.get("first_response_at")
    if responded and not first_response_at:
        changes["first_response_at"] = first_response_at = at
        changes["first_response_seconds"] = elapsed
    if status in DONE and case.get("resolution_seconds") is None:
        changes["resolution_seconds"] = elapsed
    elif status not in DONE:
        changes["resolution_seconds"] = None
    fr_target, res_target = sla.targets[priority]
    fr_due = res_due = None
    if running(status):
        if not first_response_at:
            fr_due = sla.calendar.add(at, fr_target - elapsed) if fr_target > elapsed else at
        res_due = sla.calendar.add(at, res_target - elapsed) if res_target > elapsed else at
    changes["first_response_due"] = fr_due
    changes["resolution_due"] = res_due
    dues = [d for d in (fr_due, res_due) if d]
    changes["breach_at"] = min(dues) if dues else None
    return changes


def retime_open_cases(crm, sla, at=None):
    """Recompute the due times of every case whose clock runs (after a new SLA)."""
    at = at or normalize.now()
    rows = crm.store.query(
        f"SELECT id, status, priority, sla_elapsed, sla_since, first_response_at, resolution_seconds FROM service_cases "
        f"WHERE status NOT IN ({', '.join('?' * len(DONE))})", DONE)
    updates = []
    for r in rows:
        c = clock(sla, r, at)
        updates.append({"id": r["id"], **{k: c[k] for k in ("sla_elapsed", "sla_since", "first_response_due",
                                                             "resolution_due", "breach_at")}})
    for i in range(0, len(updates), 5000):
        crm.store.update_many("service_cases", updates[i:i + 5000])
    return len(updates)
