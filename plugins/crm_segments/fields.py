"""The fields a segment rule may use, with the SQL behind each.

Contact fields come from ``crmcore.Contact``; purchase and RFM
fields are ours; other plugins add theirs through the core hook
``crm_register_segment_fields`` (``crm.registry.segment_fields``). Every SQL
fragment here is fixed text: user values are bound by the compiler.
"""

import datetime as dt

from crmcore import Contact, field_kind, fields, normalize, quote_name, require_rates

from .rules import TYPES, Field

_KINDS = {str: "text", int: "number", float: "number", bool: "bool", dt.date: "date", list: "set"}
_TIMESTAMPS = {"created_at", "updated_at", "consent_at"}
_HIDDEN = {"custom"}

_ORDERS = "FROM orders o WHERE o.contact_id = c.id"

PURCHASE_FIELDS = [
    ("orders_count", f"SELECT count(*) {_ORDERS}", "number", "number of orders"),
    ("total_spent", f"SELECT coalesce(sum(o.total * o.fx_rate), 0) {_ORDERS}", "number", "sum of order totals (base currency)"),
    ("average_order_value", f"SELECT avg(o.total * o.fx_rate) {_ORDERS}", "number",
     "average order total in the base currency (empty without orders)"),
    ("first_order_date", f"SELECT min(o.ordered_at) {_ORDERS}", "date", "date of the first order"),
    ("last_order_date", f"SELECT max(o.ordered_at) {_ORDERS}", "date", "date of the latest order"),
]

_RFM = "SELECT x.{col} FROM segment_rfm x WHERE x.contact_id = c.id"
RFM_FIELDS = [
    ("recency_score", "r", "number", "RFM recency score 1-5 (5 = most recent), from `crm segments rfm`"),
    ("frequency_score", "f", "number", "RFM frequency score 1-5 (5 = most orders)"),
    ("monetary_score", "m", "number", "RFM monetary score 1-5 (5 = highest spend)"),
    ("rfm_score", "score", "text", "the three scores as text, e.g. \"545\""),
    ("rfm_segment", "segment", "text", "named RFM segment, e.g. \"Champions\""),
]

_CLV = "SELECT x.{col} FROM segment_clv x WHERE x.contact_id = c.id"
CLV_FIELDS = [
    ("clv", "number", "expected lifetime value over the horizon, from `crm segments clv`"),
    ("p_alive", "number", "probability 0-1 that the customer still buys (BG/NBD), from `crm segments clv`"),
    ("expected_purchases", "number", "purchases expected within the horizon (BG/NBD), from `crm segments clv`"),
]


def contact_fields(dialect=None):
    from crmcore import SQLiteDialect

    dialect = dialect or SQLiteDialect()
    out = []
    for f in fields(Contact):
        if f.name in _HIDDEN:
            continue
        col = f"c.{quote_name(f.name)}"
        if f.name in _TIMESTAMPS:
            out.append(Field(f.name, f"substr({col}, 1, 10)", "date", f"date part of {f.name}"))
        elif f.name == "tags":
            out.append(Field(f.name, dialect.json_array_values(col), "set", "tags (use contains)"))
        elif f.name == "country":
            out.append(Field(f.name, col, "text", "ISO country code; names are accepted in rules", normalise=normalize.country))
        else:
            kind = _KINDS.get(field_kind(f), "text")
            out.append(Field(f.name, col, kind, f.metadata.get("description", "")))
    return out


def build_fields(crm, today=None):
    """``{name: Field}`` for rules evaluated on ``today`` (a date, default now)."""
    today = (today or dt.date.today()).isoformat()
    fields = _MoneyChecked(crm)
    fields.update({f.name: f for f in contact_fields(crm.store.dialect)})
    # Dates are ISO text: year and month-day by position.
    fields["age"] = Field(
        "age",
        "CAST(substr(?, 1, 4) AS INTEGER) - CAST(substr(c.birth_date, 1, 4) AS INTEGER)"
        " - CASE WHEN substr(?, 6, 5) < substr(c.birth_date, 6, 5) THEN 1 ELSE 0 END",
        "number", "age in whole years from birth_date", params=(today, today),
    )
    for name, sql, kind, desc in PURCHASE_FIELDS:
        fields[name] = Field(name, sql, kind, desc)
    fields["days_since_last_order"] = Field(
        "days_since_last_order", crm.store.dialect.days_between("?", f"(SELECT max(o.ordered_at) {_ORDERS})"),
        "number", "days from the latest order to today", params=(today,),
    )
    for name, col, kind, desc in RFM_FIELDS:
        fields[name] = Field(name, _RFM.format(col=col), kind, desc)
    for name, kind, desc in CLV_FIELDS:
        fields[name] = Field(name, _CLV.format(col=name), kind, desc)
    for name, registered in crm.registry.segment_fields.items():
        if registered.type not in TYPES:
            continue
        fields[name] = Field(name, registered.sql, registered.type, registered.description)
    return fields


#: Fields summing order amounts: a rule using one needs every order's rate to the base currency.
MONEY_FIELDS = {"total_spent", "average_order_value", "company.revenue_12m"}


class _MoneyChecked(dict):
    """The fields of a rule; looking up a money field first checks that every
    order has its rate to the base currency (``require_rates``), so a rule
    never adds pounds to euros nor leaves orders out silently."""

    def __init__(self, crm):
        super().__init__()
        self._crm, self._checked = crm, False

    def _check(self, name):
        if name in MONEY_FIELDS and not self._checked:
            require_rates(self._crm)
            self._checked = True

    def __getitem__(self, name):
        self._check(name)
        return super().__getitem__(name)

    def get(self, name, default=None):
        self._check(name)
        return super().get(name, default)


def describe(crm):
    """Rows for `crm segments fields`."""
    plugin_of = {name: f.plugin for name, f in crm.registry.segment_fields.items()}
    return [{"name": f.name, "type": f.type, "plugin": plugin_of.get(f.name, "segments" if f.name not in {c.name for c in contact_fields()} else "core"),
             "description": f.description} for f in build_fields(crm).values()]
