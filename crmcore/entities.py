"""The core records: one attrs class per table.

Each class is the single description of its record: fields, converters and
validation, the table's columns and indexes, import and output fields.
"""

import datetime as dt

import attrs
from attrs import define

from . import normalize as n
from .schema import FieldError, column, record

opt_text = n.optional(n.text)
opt_date = n.optional(n.date)
opt_time = n.optional(n.timestamp)
opt_number = n.optional(n.number)
opt_int = n.optional(n.integer)


def contact_derived(phone, country, consent, consent_at):
    """``(phone, consent_at)``: what a contact derives from its other values,
    the phone number in E.164 for its country and consent stamped now when
    it has no date. The record and the importer's column-by-column rows
    (``importing._ColumnRows``) both follow this one rule."""
    if phone:
        try:
            phone = n.phone(phone, country)
        except ValueError as exc:
            raise FieldError("phone", str(exc)) from None
    if consent and not consent_at:
        consent_at = n.now()
    return phone, consent_at


@record("contacts")
@define(kw_only=True)
class Contact:
    id: int | None = column(converter=opt_int)
    first_name: str = column("", converter=n.text, fts=True)
    last_name: str = column("", converter=n.text, fts=True)
    email: str | None = column(converter=n.optional(n.email), unique=True, fts=True)
    phone: str | None = column(converter=opt_text)
    company: str = column("", converter=n.text, fts=True, description="company name as given")
    company_id: int | None = column(converter=opt_int, references="companies")
    job_title: str = column("", converter=n.text)
    street: str = column("", converter=n.text)
    city: str = column("", converter=n.text, fts=True)
    region: str = column("", converter=n.text)
    postal_code: str = column("", converter=n.text, index=True)
    country: str | None = column(converter=n.optional(n.country), index=True)
    birth_date: dt.date | None = column(converter=opt_date)
    gender: str = column("", converter=n.text)
    source: str = column("", converter=n.text, description="source channel")
    owner: str = column("", converter=n.text, index=True, description="sales rep")
    tags: list = column(list, converter=n.tags, fts=True)
    consent: bool = column(False, converter=n.boolean, description="marketing opt-in")
    consent_at: str | None = column(converter=opt_time)
    consent_source: str = column("", converter=n.text)
    notes: str = column("", converter=n.long_text, fts=True)
    custom: dict = column(dict, converter=n.json_object, description="custom attributes")
    created_at: str | None = column(converter=opt_time)
    updated_at: str | None = column(converter=opt_time)

    def __attrs_post_init__(self):
        phone, consent_at = contact_derived(self.phone, self.country, self.consent, self.consent_at)
        if self.phone:
            self.phone = phone
        if consent_at is not self.consent_at:
            # Already in stored form: skip the field's converter, which would
            # parse it again for every consenting row of an import.
            object.__setattr__(self, "consent_at", consent_at)

    @property
    def name(self):
        return f"{self.first_name} {self.last_name}".strip() or (self.email or "")


@record("companies")
@define(kw_only=True)
class Company:
    id: int | None = column(converter=opt_int)
    name: str = column("", converter=n.text, index=True, fts=True)
    domain: str | None = column(converter=n.optional(lambda v: n.text(v).lower().removeprefix("www.")), unique=True)
    industry: str = column("", converter=n.text)
    size: str = column("", converter=n.text, description="employees, e.g. 11-50")
    street: str = column("", converter=n.text)
    city: str = column("", converter=n.text)
    region: str = column("", converter=n.text)
    postal_code: str = column("", converter=n.text)
    country: str | None = column(converter=n.optional(n.country))
    owner: str = column("", converter=n.text)
    created_at: str | None = column(converter=opt_time)
    updated_at: str | None = column(converter=opt_time)

    def __attrs_post_init__(self):
        if not self.name:
            raise FieldError("name", "a company needs a name")


DEAL_STATUSES = ("open", "won", "lost")


@record("deals")
@define(kw_only=True)
class Deal:
    id: int | None = column(converter=opt_int)
    title: str = column("", converter=n.text, fts=True)
    contact_id: int | None = column(converter=opt_int, references="contacts")
    company_id: int | None = column(converter=opt_int, references="companies")
    amount: float = column(0.0, converter=n.number)
    currency: str = column("EUR", converter=lambda v: n.text(v).upper() or "EUR")
    stage: str = column("lead", converter=n.text, index=True)
    probability: float | None = column(converter=opt_number, description="0-100; defaults to the stage's")
    expected_close: dt.date | None = column(converter=opt_date)
    owner: str = column("", converter=n.text)
    status: str = column("open", converter=n.one_of(*DEAL_STATUSES), index=True)
    closed_at: dt.date | None = column(converter=opt_date)
    created_at: str | None = column(converter=opt_time)
    updated_at: str | None = column(converter=opt_time)

    def __attrs_post_init__(self):
        if not self.title:
            raise FieldError("title", "a deal needs a title")
        if self.amount < 0:
            raise FieldError("amount", "must not be negative")
        if self.probability is not None and not 0 <= self.probability <= 100:
            raise FieldError("probability", "must be between 0 and 100")


ACTIVITY_KINDS = ("call", "email", "meeting", "note", "task")


@record("activities")
@define(kw_only=True)
class Activity:
    id: int | None = column(converter=opt_int)
    contact_id: int | None = column(converter=opt_int, references="contacts")
    deal_id: int | None = column(converter=opt_int, references="deals")
    kind: str = column("note", converter=n.one_of(*ACTIVITY_KINDS), index=True)
    channel: str = column("", converter=n.text, description="email, phone, store, web, social...")
    subject: str = column("", converter=n.text, fts=True)
    body: str = column("", converter=n.long_text, fts=True)
    owner: str = column("", converter=n.text)
    due_at: str | None = column(converter=opt_time)
    done_at: str | None = column(converter=opt_time)
    created_at: str | None = column(converter=opt_time)
    updated_at: str | None = column(converter=opt_time)


@record("orders")
@define(kw_only=True)
class Order:
    id: int | None = column(converter=opt_int)
    ref: str | None = column(converter=opt_text, unique=True, description="order number from the shop or ERP")
    contact_id: int = column(None, converter=opt_int, references="contacts")
    ordered_at: dt.date = column(None, converter=opt_date, index=True)
    channel: str = column("", converter=n.text)
    currency: str = column("EUR", converter=lambda v: n.text(v).upper() or "EUR")
    total: float = column(0.0, converter=n.number)
    created_at: str | None = column(converter=opt_time)
    updated_at: str | None = column(converter=opt_time)

    def __attrs_post_init__(self):
        # contact_id may be empty: orders of an erased contact are kept, anonymised,
        # for the books. The importer insists on a customer.
        if self.ordered_at is None:
            raise FieldError("ordered_at", "an order needs a date")


@record("order_lines")
@define(kw_only=True)
class OrderLine:
    id: int | None = column(converter=opt_int)
    order_id: int | None = column(converter=opt_int, references="orders")
    sku: str = column("", converter=n.text, index=True)
    description: str = column("", converter=n.text)
    quantity: float = column(1.0, converter=n.number)
    unit_price: float = column(0.0, converter=n.number)

    def __attrs_post_init__(self):
        if self.quantity <= 0:
            raise FieldError("quantity", "must be greater than zero")
        if self.unit_price < 0:
            raise FieldError("unit_price", "must not be negative")


CORE_RECORD_TYPES = (Company, Contact, Deal, Activity, Order, OrderLine)


def record_fields(cls):
    """Public field names of a record class (for import, output and reports)."""
    return [f.name for f in attrs.fields(cls)]
