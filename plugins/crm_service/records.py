"""The service desk's records: cases, their messages, attachments, bounces and macros."""

from attrs import define

from crmcore import column, FieldError, normalize as n, record

CHANNELS = ("email", "phone", "web", "store", "social")
STATUSES = ("new", "open", "pending", "on-hold", "solved", "closed")
#: Statuses in which the SLA clock stands still (waiting for the customer or a third party).
PAUSED = ("pending", "on-hold")
#: Statuses in which a case needs nothing more from the team.
DONE = ("solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
DIRECTIONS = ("inbound", "outbound", "internal")
#: Delivery of an outbound e-mail: the outbox state (queued before sending, sent once the server accepted it).
DELIVERY = ("", "queued", "sent", "failed")

opt_int = n.optional(n.integer)
opt_time = n.optional(n.timestamp)


@record("service_cases")
@define(kw_only=True)
class Case:
    id: int | None = column(converter=opt_int)
    contact_id: int | None = column(converter=opt_int, references="contacts")
    company_id: int | None = column(converter=opt_int, references="companies")
    subject: str = column("", converter=n.text, fts=True)
    description: str = column("", converter=n.long_text, fts=True)
    channel: str = column("email", converter=n.one_of(*CHANNELS))
    status: str = column("new", converter=n.one_of(*STATUSES), index=True)
    priority: str = column("normal", converter=n.one_of(*PRIORITIES))
    assignee: str = column("", converter=n.text, index=True, description="the agent: an e-mail address or name")
    tags: list = column(list, converter=n.tags)
    sku: str = column("", converter=n.text, index=True, description="product the case is about (products plugin)")
    first_response_at: str | None = column(converter=opt_time)
    solved_at: str | None = column(converter=opt_time)
    closed_at: str | None = column(converter=opt_time)
    # The SLA clock, in business seconds: `sla_elapsed` counted up to `sla_since`
    # (None while the clock stands still); due times are stored so that
    # `list --breached` is a range query on `breach_at`.
    sla_elapsed: int = column(0, converter=n.integer, description="business seconds on the SLA clock up to sla_since")
    sla_since: str | None = column(converter=opt_time, description="when the running SLA clock last started")
    first_response_due: str | None = column(converter=opt_time)
    resolution_due: str | None = column(converter=opt_time)
    breach_at: str | None = column(converter=opt_time, index=True, description="the earlier of the running due times")
    first_response_seconds: int | None = column(converter=opt_int, description="business seconds to the first response")
    resolution_seconds: int | None = column(converter=opt_int, description="business seconds to the solution")
    csat_invitation_id: int | None = column(converter=opt_int, description="survey invitation sent when solved")
    created_at: str | None = column(converter=opt_time, index=True)
    updated_at: str | None = column(converter=opt_time)

    def __attrs_post_init__(self):
        if not self.subject:
            raise FieldError("subject", "a case needs a subject")


@record("service_messages")
@define(kw_only=True)
class Message:
    id: int | None = column(converter=opt_int)
    case_id: int | None = column(converter=opt_int, references="service_cases")
    direction: str = column("inbound", converter=n.one_of(*DIRECTIONS))
    author: str = column("", converter=n.text)
    subject: str = column("", converter=n.text)
    body: str = column("", converter=n.long_text, fts=True)
    message_id: str | None = column(converter=n.optional(n.text), unique=True, description="the e-mail's Message-ID")
    in_reply_to: str = column("", converter=n.text)
    refs: str = column("", converter=n.text, description="the References header")
    delivery: str = column("", converter=n.one_of(*DELIVERY))
    error: str = column("", converter=n.text, description="why the last send failed")
    at: str | None = column(converter=opt_time)
    created_at: str | None = column(converter=opt_time)
    updated_at: str | None = column(converter=opt_time)


@record("service_attachments")
@define(kw_only=True)
class Attachment:
    id: int | None = column(converter=opt_int)
    message_id: int | None = column(converter=opt_int, references="service_messages")
    filename: str = column("", converter=n.text, description="the name the sender gave")
    path: str = column("", converter=n.text, description="file under the files folder, relative to it")
    content_type: str = column("", converter=n.text)
    size: int = column(0, converter=n.integer)


@record("service_bounces")
@define(kw_only=True)
class Bounce:
    id: int | None = column(converter=opt_int)
    email: str = column("", converter=n.text, index=True)
    contact_id: int | None = column(converter=opt_int, references="contacts")
    status: str = column("", converter=n.text, description="the DSN status code, e.g. 5.1.1")
    action: str = column("", converter=n.text, description="failed, delayed ...")
    diagnostic: str = column("", converter=n.text)
    message_id: str | None = column(converter=n.optional(n.text), unique=True, description="the bounce's own Message-ID")
    at: str | None = column(converter=opt_time)


@record("service_macros")
@define(kw_only=True)
class Macro:
    id: int | None = column(converter=opt_int)
    name: str = column("", converter=n.text, unique=True)
    body: str = column("", converter=n.long_text, description="Jinja2 text: {{ contact.first_name }}, {{ case.id }} ...")
    created_at: str | None = column(converter=opt_time)
    updated_at: str | None = column(converter=opt_time)

    def __attrs_post_init__(self):
        if not self.name:
            raise FieldError("name", "a macro needs a name")


RECORD_TYPES = (Case, Message, Attachment, Bounce, Macro)
