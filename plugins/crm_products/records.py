"""Record types of the products plugin: the catalogue, the stock ledger and
reorder points. Stock levels are never stored: they are sums over the ledger."""

import datetime as dt

from attrs import define

from crmcore import column, FieldError, normalize as n, record

LIFECYCLES = ("planned", "active", "discontinued")
MOVEMENT_KINDS = ("receipt", "sale", "adjustment", "transfer", "return", "count")
WEIGHT_UNITS = ("kg", "g", "lb", "oz")
LENGTH_UNITS = ("cm", "mm", "m", "in")

opt_text = n.optional(n.text)
opt_number = n.optional(n.number)
opt_int = n.optional(n.integer)
opt_time = n.optional(n.timestamp)


def _currency(value):
    code = n.text(value).upper() or "EUR"
    if len(code) != 3 or not code.isalpha():
        raise ValueError(f"{value!r} is not a 3-letter currency code")
    return code


@record("products")
@define(kw_only=True)
class Product:
    id: int | None = column(converter=opt_int)
    sku: str = column("", converter=n.text, unique=True, description="stock keeping unit, unique")
    name: str = column("", converter=n.text)
    category: str = column("", converter=n.text, index=True)
    description: str = column("", converter=n.long_text)
    version: str = column("", converter=n.text)
    lifecycle: str = column("active", converter=n.one_of(*LIFECYCLES), description="planned, active or discontinued")
    weight: float | None = column(converter=opt_number)
    weight_unit: str = column("kg", converter=n.one_of(*WEIGHT_UNITS))
    length: float | None = column(converter=opt_number)
    width: float | None = column(converter=opt_number)
    height: float | None = column(converter=opt_number)
    dimension_unit: str = column("cm", converter=n.one_of(*LENGTH_UNITS))
    produced_at: dt.date | None = column(converter=n.optional(n.date), description="production date")
    price: float = column(0.0, converter=n.number, description="list price")
    cost: float | None = column(converter=opt_number, description="unit cost")
    currency: str = column("EUR", converter=_currency)
    active: bool = column(True, converter=n.boolean, description="offered for sale")
    custom: dict = column(dict, converter=n.json_object, description="custom attributes")
    created_at: str | None = column(converter=opt_time)
    updated_at: str | None = column(converter=opt_time)

    def __attrs_post_init__(self):
        if not self.sku:
            raise FieldError("sku", "a product needs a SKU")
        if not self.name:
            raise FieldError("name", "a product needs a name")
        for name in ("price", "cost", "weight", "length", "width", "height"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise FieldError(name, "must not be negative")


@record("stock_movements")
@define(kw_only=True)
class StockMovement:
    """One line of the stock ledger: ``quantity`` is signed (in > 0, out < 0)."""

    id: int | None = column(converter=opt_int)
    product_id: int = column(None, converter=opt_int, references="products")
    location: str = column("main", converter=n.text)
    kind: str = column("adjustment", converter=n.one_of(*MOVEMENT_KINDS))
    quantity: float = column(0.0, converter=n.number)
    at: str | None = column(converter=opt_time, description="when the goods moved")
    reason: str = column("", converter=n.text)
    ref: str = column("", converter=n.text, description="order ref, delivery note, transfer")
    order_line_id: int | None = column(converter=opt_int, index=True, description="the order line of a sale")
    user: str = column("", converter=n.text)
    recorded_at: str | None = column(converter=opt_time, description="when it was written down")

    def __attrs_post_init__(self):
        if self.product_id is None:
            raise FieldError("product_id", "a movement needs a product")
        if not self.location:
            raise FieldError("location", "a movement needs a location")
        if self.quantity == 0:
            raise FieldError("quantity", "must not be zero")


@record("reorder_points")
@define(kw_only=True)
class ReorderPoint:
    id: int | None = column(converter=opt_int)
    product_id: int = column(None, converter=opt_int, references="products")
    location: str = column("main", converter=n.text)
    reorder_point: float = column(0.0, converter=n.number, description="reorder when stock is at or under this")
    reorder_quantity: float = column(0.0, converter=n.number, description="usual order size")

    def __attrs_post_init__(self):
        if self.product_id is None:
            raise FieldError("product_id", "a reorder point needs a product")
        if self.reorder_point < 0:
            raise FieldError("reorder_point", "must not be negative")
        if self.reorder_quantity < 0:
            raise FieldError("reorder_quantity", "must not be negative")


RECORD_TYPES = (Product, StockMovement, ReorderPoint)
