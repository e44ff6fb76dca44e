"""The plugin's record type: one attrs class is the table, the import and the output."""

from attrs import define

from crmcore import normalize as n
from crmcore.schema import column, record


@record("loyalty_points")
@define(kw_only=True)
class LoyaltyPoints:
    id: int | None = column(converter=n.optional(n.integer))
    contact_id: int = column(None, converter=n.integer, references="contacts")
    points: int = column(0, converter=n.integer)
    reason: str = column("", converter=n.text, description="order ref, 'manual', ...")
    order_id: int | None = column(converter=n.optional(n.integer), index=True)
    earned_at: str | None = column(converter=n.optional(n.timestamp))
