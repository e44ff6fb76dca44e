"""Queries behind the ``dashboard`` report. Plugins add sections through
``crm_register_dashboard_sections``; a disabled plugin's section disappears."""


def context(crm, params):
    store = crm.store
    pipeline_rows = crm.pipeline()
    sections = []
    for section in crm.registry.dashboard_sections:
        sections.append({"title": section.title, "template": section.template, "context": section.context(crm), "plugin": section.plugin})
    return {
        "totals": {
            "contacts": store.count("contacts"),
            "companies": store.count("companies"),
            "open_deals": store.query_value("SELECT count(*) FROM deals WHERE status = 'open'"),
            "orders": store.count("orders"),
            "revenue": store.query_value("SELECT coalesce(sum(total), 0) FROM orders"),
            "consented": store.query_value("SELECT count(*) FROM contacts WHERE consent = 1"),
        },
        "new_contacts": [(r["month"], r["n"]) for r in store.query(
            "SELECT substr(created_at, 1, 7) AS month, count(*) AS n FROM contacts GROUP BY month ORDER BY month DESC LIMIT 24"
        )][::-1],
        "pipeline": pipeline_rows,
        "pipeline_chart": [(r["stage"], r["weighted"]) for r in pipeline_rows],
        "won_lost": store.query("SELECT status, count(*) AS deals, coalesce(sum(amount), 0) AS amount FROM deals WHERE status != 'open' GROUP BY status ORDER BY status"),
        "revenue_by_month": [(r["month"], r["revenue"]) for r in store.query(
            "SELECT substr(ordered_at, 1, 7) AS month, sum(total) AS revenue FROM orders GROUP BY month ORDER BY month DESC LIMIT 36"
        )][::-1],
        "top_countries": store.query(
            "SELECT coalesce(country, '–') AS country, count(*) AS contacts FROM contacts GROUP BY country ORDER BY contacts DESC, country LIMIT 10"
        ),
        "sections": sections,
    }
