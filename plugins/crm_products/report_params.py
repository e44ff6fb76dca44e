"""The parameters the products plugin's reports declare (``--param`` and their form in ``crm serve``)."""

from crmcore import ReportParam


def _skus(crm):
    return [(r["sku"], f"{r['sku']} · {r['name']}") for r in crm.store.query("SELECT sku, name FROM products ORDER BY sku LIMIT 2000")]


def _as_of(crm):
    from crmcore import data_as_of

    return (data_as_of(crm) or "")[:10]


PRODUCTS = []
PRODUCT = [ReportParam("sku", "Product", "choice", choices=_skus, required=True, metavar="SKU")]
SUPPLY = [
    ReportParam("as_of", "As of", "date", default=_as_of),
    ReportParam("window", "Demand window (days)", "int", default="90", min=1, max=3650),
    ReportParam("excess_days", "Excess beyond (days of cover)", "int", default="90", min=1, max=3650),
]
