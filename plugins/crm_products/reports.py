"""Template contexts of the `products` and `product` reports and the
dashboard section. Queries live in analytics/stock; this only shapes them."""

import datetime as dt

from crmcore import CRMError


def _as_of(crm):
    """The report date: the newest order or contact, so a report is the same
    tomorrow as today (the core dashboard counts from the same day)."""
    from crmcore import data_as_of

    found = data_as_of(crm)
    return dt.date.fromisoformat(found[:10]) if found else dt.date.today()


def _year_ago(crm):
    return (_as_of(crm) - dt.timedelta(days=365)).isoformat()


def products_context(crm, params):
    from .analytics import sales
    from .stock import low_stock

    by_product = sales(crm, "product")  # first: refuses revenue without rates, costs not in the base currency
    by_category = sales(crm, "category")
    by_month = sales(crm, "month")[-24:]
    counts = crm.store.query(
        "SELECT count(*) AS products, coalesce(sum(CASE WHEN active = 1 AND lifecycle = 'active' THEN 1 ELSE 0 END), 0) AS active, "
        "coalesce(sum(CASE WHEN lifecycle = 'discontinued' THEN 1 ELSE 0 END), 0) AS discontinued, "
        "coalesce(sum(CASE WHEN lifecycle = 'planned' THEN 1 ELSE 0 END), 0) AS planned "
        "FROM products")[0]
    stock_value = crm.store.query_value(
        "SELECT coalesce(sum(m.quantity * p.cost * p.fx_rate), 0) FROM stock_movements m JOIN products p ON p.id = m.product_id")
    names = {r["sku"]: r["name"] for r in crm.store.query("SELECT sku, name FROM products")}
    for r in by_product:
        r["name"] = names.get(r["sku"], "(unknown SKU)")
    last_year = sales(crm, "total", since=_year_ago(crm))
    return {
        "counts": counts,
        "stock_value": stock_value,
        "revenue_12m": last_year[0]["revenue"] if last_year else 0.0,
        "catalogue": crm.store.query(
            "SELECT category, count(*) AS products, round(CAST(avg(price) AS NUMERIC), 2) AS avg_price, "
            "round(CAST(avg(CASE WHEN price > 0 AND cost IS NOT NULL THEN 100.0 * (price - cost) / price END) AS NUMERIC), 1) AS avg_margin_pct "
            "FROM products GROUP BY category ORDER BY category"),
        "top_sellers": by_product[:15],
        "by_category": by_category,
        "category_chart": [(r["category"], r["revenue"]) for r in by_category],
        "month_chart": [(r["month"], r["revenue"]) for r in by_month],
        "margin_chart": [(r["category"], r["margin"] or 0) for r in by_category],
        "low_stock": low_stock(crm, today=_as_of(crm)),
    }


def product_context(crm, params):
    from .analytics import bought_together, product_facts, sales, top_customers

    sku = params.get("sku")
    if not sku:
        raise CRMError("the product report needs --param sku=SKU")
    facts = product_facts(crm, sku)
    trend = sales(crm, "month", sku=facts["sku"])[-24:]
    return {
        "product": facts,
        "specs": [(k, facts[k]) for k in ("sku", "name", "category", "version", "lifecycle", "active", "produced_at", "currency")],
        "trend_chart": [(r["month"], r["units"]) for r in trend],
        "revenue_chart": [(r["month"], r["revenue"]) for r in trend],
        "customers": top_customers(crm, facts["sku"], 10),
        "together": bought_together(crm, facts["sku"], 10),
    }


def dashboard_context(crm):
    from .analytics import sales
    from .stock import low_stock

    top = sales(crm, "product", since=_year_ago(crm))[:5]
    names = {r["sku"]: r["name"] for r in crm.store.query("SELECT sku, name FROM products")}
    for r in top:
        r["name"] = names.get(r["sku"], "(unknown SKU)")
    return {"top": top, "top_chart": [(f"{r['name']} ({r['sku']})", r["revenue"]) for r in top],
            "low_stock": low_stock(crm, today=_as_of(crm))[:10]}
