"""The campaign records: a campaign (message, audience, A/B subjects) and its outbox."""

from attrs import define

from crmcore import FieldError, column, normalize as n, record

CAMPAIGN_STATUSES = ("draft", "sending", "sent")
#: Outbox states. ``queued`` waits for the server; ``sent`` was accepted by it;
#: ``failed`` was refused for good (5xx, a message that cannot be built);
#: ``skipped`` lost consent or was suppressed before its turn; ``holdout`` is
#: the control group, never sent to; ``bounced`` was sent, then came back as
#: a hard bounce (``crm campaigns import-bounces``).
OUTBOX_STATUSES = ("queued", "sent", "failed", "skipped", "holdout", "bounced")


def _variants(value):
    """``[{"subject": ..., "share": ...}, ...]`` with shares summing to 100."""
    if not value:
        return []
    out = []
    for v in value:
        if isinstance(v, str):
            v = {"subject": v}
        subject = n.text(v.get("subject"))
        if not subject:
            raise FieldError("variants", "every subject variant needs a text")
        share = v.get("share")
        out.append({"subject": subject, "share": None if share in (None, "") else n.number(share)})
    given = [v["share"] for v in out if v["share"] is not None]
    if any(s <= 0 for s in given):
        raise FieldError("variants", "a subject's share must be more than 0%")
    rest = 100.0 - sum(given)
    missing = [v for v in out if v["share"] is None]
    if missing:
        if rest <= 0:
            raise FieldError("variants", f"the shares given already add up to {sum(given):g}%")
        for v in missing:
            v["share"] = round(rest / len(missing), 6)
    total = sum(v["share"] for v in out)
    if abs(total - 100.0) > 0.01:
        raise FieldError("variants", f"the subjects' shares add up to {total:g}%, not 100%")
    return out


@record("campaigns")
@define(kw_only=True)
class Campaign:
    id: int | None = column(converter=n.optional(n.integer))
    name: str = column("", converter=n.text, unique=True)
    segment: str = column("", converter=n.text, description="segment (rule-based or static) the audience comes from")
    from_addr: str = column("", converter=n.text, description="sender, e.g. 'Shop <news@shop.example>'")
    variants: list = column(list, converter=_variants, description="subject variants (Jinja2) with their share in percent")
    text_template: str = column("", converter=n.long_text, description="plain-text body (Jinja2, sandboxed)")
    html_template: str = column("", converter=n.long_text, description="optional HTML body (Jinja2, sandboxed, autoescaped)")
    holdout: float = column(0.0, converter=n.number, description="percent of the audience held out as a control group")
    status: str = column("draft", converter=n.one_of(*CAMPAIGN_STATUSES), index=True)
    started_at: str | None = column(converter=n.optional(n.timestamp), description="when the audience was frozen")
    finished_at: str | None = column(converter=n.optional(n.timestamp))
    created_at: str | None = column(converter=n.optional(n.timestamp))
    updated_at: str | None = column(converter=n.optional(n.timestamp))

    def __attrs_post_init__(self):
        if not self.name:
            raise FieldError("name", "a campaign needs a name")
        if not self.variants:
            raise FieldError("variants", "a campaign needs a subject")
        if not 0 <= self.holdout < 100:
            raise FieldError("holdout", f"{self.holdout:g}% must be at least 0% and under 100%")


@record("campaign_outbox")
@define(kw_only=True)
class OutboxItem:
    id: int | None = column(converter=n.optional(n.integer))
    campaign_id: int | None = column(converter=n.optional(n.integer), references="campaigns")
    contact_id: int | None = column(converter=n.optional(n.integer), references="contacts")
    email: str = column("", converter=n.text, description="the address as frozen when sending started")
    variant: str = column("", converter=n.text, description="A, B, ... (the subject variant); empty for the holdout")
    status: str = column("queued", converter=n.one_of(*OUTBOX_STATUSES))
    message_id: str = column("", converter=n.text, description="the Message-ID every attempt of this message carries")
    attempts: int = column(0, converter=n.integer)
    error: str = column("", converter=n.text, description="the server's reply or why it was skipped")
    sent_at: str | None = column(converter=n.optional(n.timestamp))
    created_at: str | None = column(converter=n.optional(n.timestamp))


RECORD_TYPES = (Campaign, OutboxItem)
