"""Template contexts of the `products` and `product` reports and the
dashboard section. Queries live in analytics/stock; this only shapes them."""

from crmcore import CRMError, periods, report_period


def _as_of(crm):
    """The report date: the newest order or contact, so a report is the same
    tomorrow as today (the core dashboard counts from the same day)."""
    return report_period(crm).as_of


def _month_values(rows, key):
    return {r["month"]: r[key] for r in rows}


def products_context(crm, params):
    from .analytics import sales
    from .stock import low_stock

    period = report_period(crm)  # the last 12 months
    chart = periods.months_to(period.as_of, 24)
    by_product = sales(crm, "product")  # first: refuses revenue without rates, costs not in the base currency
    by_category = sales(crm, "category")
    by_month = sales(crm, "month", since=chart.since, until=chart.as_of.isoformat())
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
    last_year = sales(crm, "total", since=period.since, until=period.as_of.isoformat())
    return {
        "period": period,
        "chart_period": chart,
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
        "month_chart": chart.series(_month_values(by_month, "revenue")),
        "margin_chart": [(r["category"], r["margin"] or 0) for r in by_category],
        "low_stock": low_stock(crm, today=period.as_of),
    }


def product_context(crm, params):
    from .analytics import bought_together, product_facts, sales, top_customers

    sku = params.get("sku")
    if not sku:
        raise CRMError("the product report needs --param sku=SKU")
    chart = periods.months_to(_as_of(crm), 24)
    facts = product_facts(crm, sku, today=chart.as_of)
    trend = sales(crm, "month", since=chart.since, until=chart.as_of.isoformat(), sku=facts["sku"])
    return {
        "product": facts,
        "chart_period": chart,
        "specs": [(k, facts[k]) for k in ("sku", "name", "category", "version", "lifecycle", "active", "produced_at", "currency")],
        "trend_chart": chart.series(_month_values(trend, "units")),
        "revenue_chart": chart.series(_month_values(trend, "revenue")),
        "customers": top_customers(crm, facts["sku"], 10),
        "together": bought_together(crm, facts["sku"], 10),
    }


def dashboard_context(crm):
    from .analytics import sales
    from .stock import low_stock

    period = report_period(crm)
    top = sales(crm, "product", since=period.since, until=period.as_of.isoformat())[:5]
    names = {r["sku"]: r["name"] for r in crm.store.query("SELECT sku, name FROM products")}
    for r in top:
        r["name"] = names.get(r["sku"], "(unknown SKU)")
    return {"top": top, "top_chart": [(f"{r['name']} ({r['sku']})", r["revenue"]) for r in top], "period": period,
            "low_stock": low_stock(crm, today=period.as_of)[:10]}
