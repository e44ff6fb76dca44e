"""Record types of the segments plugin: definitions, territories, targets.

Membership, history and RFM scores are plain tables (see migrations.py):
they are written in bulk by set-based SQL, never one record at a time.
"""

import re

from attrs import define

from crmcore import column, FieldError, normalize as n, record

from .periods import parse_period

KINDS = ("dynamic", "static")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


def segment_name(value):
    """Names are short and shell-friendly: letters, digits, ``-``, ``_``, ``.``."""
    value = n.text(value)
    if not _NAME.fullmatch(value) or len(value) > 64:
        raise ValueError(f"use letters, digits, '-', '_' or '.' (at most 64), not {value!r}")
    return value


@record("segments")
@define(kw_only=True)
class Segment:
    id: int | None = column(converter=n.optional(n.integer))
    name: str = column(None, converter=segment_name, unique=True)
    kind: str = column("dynamic", converter=n.one_of(*KINDS))
    rule: str = column("", converter=n.long_text, description="rule of a dynamic segment")
    description: str = column("", converter=n.text)
    refreshed_at: str | None = column(converter=n.optional(n.timestamp))
    created_at: str | None = column(converter=n.optional(n.timestamp))
    updated_at: str | None = column(converter=n.optional(n.timestamp))

    def __attrs_post_init__(self):
        if self.kind == "dynamic" and not self.rule:
            raise FieldError("rule", "a dynamic segment needs a rule")
        if self.kind == "static" and self.rule:
            raise FieldError("rule", "a static segment has members, not a rule")


def _codes(value):
    return sorted({n.country(v) for v in n.tags(value)})


def _texts(value):
    return sorted({n.text(v) for v in n.tags(value) if n.text(v)})


@record("territories")
@define(kw_only=True)
class Territory:
    """A geographic area: a contact is in it when its country is listed and,
    if regions or postal-code prefixes are given, one of them matches too."""

    id: int | None = column(converter=n.optional(n.integer))
    name: str = column(None, converter=segment_name, unique=True)
    owner: str = column("", converter=n.text, description="sales rep who owns the area")
    countries: list = column(list, converter=_codes)
    regions: list = column(list, converter=_texts)
    postal_prefixes: list = column(list, converter=_texts)
    created_at: str | None = column(converter=n.optional(n.timestamp))
    updated_at: str | None = column(converter=n.optional(n.timestamp))

    def __attrs_post_init__(self):
        if not self.countries:
            raise FieldError("countries", "a territory needs at least one country")


SCOPES = ("segment", "territory")


@record("segment_targets")
@define(kw_only=True)
class Target:
    id: int | None = column(converter=n.optional(n.integer))
    scope: str = column("segment", converter=n.one_of(*SCOPES))
    name: str = column(None, converter=segment_name, description="segment or territory name")
    period: str = column(None, converter=n.text, description="2026, 2026-Q2 or 2026-05")
    revenue: float | None = column(converter=n.optional(n.number))
    units: float | None = column(converter=n.optional(n.number))
    created_at: str | None = column(converter=n.optional(n.timestamp))
    updated_at: str | None = column(converter=n.optional(n.timestamp))

    def __attrs_post_init__(self):
        try:
            self.period = parse_period(self.period).label
        except ValueError as exc:
            raise FieldError("period", str(exc)) from None
        if self.revenue is None and self.units is None:
            raise FieldError("revenue", "give a revenue and/or a units target")
        for name in ("revenue", "units"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise FieldError(name, "must not be negative")


RECORD_TYPES = (Segment, Territory, Target)
