"""Record types of just-in-time supply: which location each sales channel
sells from, stocktakes, suppliers with their terms per SKU, and purchase
orders. Quantities on hand still come only from the stock ledger."""

from attrs import define

from crmcore import column, FieldError, normalize as n, record

PO_STATUSES = ("draft", "sent", "partial", "received", "cancelled")

opt_text = n.optional(n.text)
opt_number = n.optional(n.number)
opt_int = n.optional(n.integer)
opt_time = n.optional(n.timestamp)
opt_date = n.optional(n.date)


def _not_negative(self, *names):
    for name in names:
        value = getattr(self, name)
        if value is not None and value < 0:
            raise FieldError(name, "must not be negative")


@record("stock_channel_locations")
@define(kw_only=True)
class ChannelLocation:
    """Sales of orders in ``channel`` take stock from ``location``."""

    id: int | None = column(converter=opt_int)
    channel: str = column("", converter=n.text, unique=True, description="the order's channel (web, store, ...)")
    location: str = column("", converter=n.text, description="stock location its sales take from")

    def __attrs_post_init__(self):
        if not self.channel:
            raise FieldError("channel", "must not be empty")
        if not self.location:
            raise FieldError("location", "must not be empty")


@record("stocktakes")
@define(kw_only=True)
class Stocktake:
    """On hand at ``location`` was ``quantity`` at ``at``: movements dated
    before it are already counted, only later ones move stock."""

    id: int | None = column(converter=opt_int)
    product_id: int = column(None, converter=opt_int, references="products")
    location: str = column("main", converter=n.text)
    at: str | None = column(converter=opt_time, description="when the stock was counted")
    quantity: float = column(0.0, converter=n.number)
    user: str = column("", converter=n.text)
    recorded_at: str | None = column(converter=opt_time)

    def __attrs_post_init__(self):
        if self.product_id is None:
            raise FieldError("product_id", "a stocktake needs a product")
        if not self.location:
            raise FieldError("location", "must not be empty")
        _not_negative(self, "quantity")


@record("suppliers")
@define(kw_only=True)
class Supplier:
    id: int | None = column(converter=opt_int)
    name: str = column("", converter=n.text, unique=True)
    email: str = column("", converter=n.text)
    phone: str = column("", converter=n.text)
    currency: str = column("EUR", converter=lambda v: n.text(v).upper() or "EUR")
    lead_time_days: float = column(7.0, converter=n.number, description="usual days from order to delivery")
    ordering_cost: float | None = column(converter=opt_number, description="fixed cost of placing one order")
    notes: str = column("", converter=n.long_text)
    created_at: str | None = column(converter=opt_time)
    updated_at: str | None = column(converter=opt_time)

    def __attrs_post_init__(self):
        if not self.name:
            raise FieldError("name", "a supplier needs a name")
        if len(self.currency) != 3 or not self.currency.isalpha():
            raise FieldError("currency", f"{self.currency!r} is not a 3-letter currency code")
        _not_negative(self, "lead_time_days", "ordering_cost")


@record("supplier_products")
@define(kw_only=True)
class SupplierProduct:
    """What one supplier charges for one SKU, in which packs, how many at
    least and how fast. One supplier per SKU is the preferred one."""

    id: int | None = column(converter=opt_int)
    supplier_id: int = column(None, converter=opt_int, references="suppliers")
    product_id: int = column(None, converter=opt_int, references="products")
    supplier_sku: str = column("", converter=n.text)
    cost: float | None = column(converter=opt_number, description="unit cost from this supplier")
    pack_size: float = column(1.0, converter=n.number, description="orders are whole packs")
    min_order: float = column(0.0, converter=n.number, description="minimum order quantity (units)")
    lead_time_days: float | None = column(converter=opt_number, description="days from order to delivery")
    preferred: bool = column(False, converter=n.boolean)

    def __attrs_post_init__(self):
        if self.supplier_id is None or self.product_id is None:
            raise FieldError("supplier_id", "needs a supplier and a product")
        _not_negative(self, "cost", "min_order", "lead_time_days")
        if self.pack_size <= 0:
            raise FieldError("pack_size", "must be greater than zero")


@record("purchase_orders")
@define(kw_only=True)
class PurchaseOrder:
    id: int | None = column(converter=opt_int)
    ref: str = column("", converter=n.text, unique=True, description="purchase order number")
    supplier_id: int = column(None, converter=opt_int, references="suppliers")
    location: str = column("main", converter=n.text, description="where the goods are delivered")
    status: str = column("draft", converter=n.one_of(*PO_STATUSES), index=True)
    ordered_at: str | None = column(converter=opt_time, description="when it was sent")
    expected_at: str | None = column(converter=opt_date, description="promised delivery date")
    received_at: str | None = column(converter=opt_time, description="when the last goods arrived")
    lead_time_days: float | None = column(converter=opt_number, description="promised lead time")
    currency: str = column("EUR", converter=lambda v: n.text(v).upper() or "EUR")
    notes: str = column("", converter=n.long_text)
    created_at: str | None = column(converter=opt_time)
    updated_at: str | None = column(converter=opt_time)

    def __attrs_post_init__(self):
        if not self.ref:
            raise FieldError("ref", "a purchase order needs a number")
        if self.supplier_id is None:
            raise FieldError("supplier_id", "a purchase order needs a supplier")
        if not self.location:
            raise FieldError("location", "must not be empty")


@record("purchase_order_lines")
@define(kw_only=True)
class PurchaseOrderLine:
    id: int | None = column(converter=opt_int)
    purchase_order_id: int = column(None, converter=opt_int, references="purchase_orders", index=True)
    product_id: int = column(None, converter=opt_int, references="products")
    quantity: float = column(0.0, converter=n.number)
    received: float = column(0.0, converter=n.number)
    unit_cost: float | None = column(converter=opt_number)

    def __attrs_post_init__(self):
        if self.purchase_order_id is None or self.product_id is None:
            raise FieldError("product_id", "a purchase order line needs an order and a product")
        if self.quantity <= 0:
            raise FieldError("quantity", "must be greater than zero")
        _not_negative(self, "received", "unit_cost")


@record("cancelled_orders")
@define(kw_only=True)
class CancelledOrder:
    """A cancelled sales order: its lines take no stock."""

    id: int | None = column(converter=opt_int)
    order_id: int = column(None, converter=opt_int, unique=True)
    at: str | None = column(converter=opt_time)
    user: str = column("", converter=n.text)
    reason: str = column("", converter=n.text)


SUPPLY_RECORD_TYPES = (ChannelLocation, Stocktake, Supplier, SupplierProduct, PurchaseOrder, PurchaseOrderLine, CancelledOrder)
