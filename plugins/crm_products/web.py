"""The products plugin's pages in ``crm serve``: the catalogue, a product page
for sales staff (specs, stock per location, who bought it) and a contact-page
panel with what the customer bought. Registered from ``__init__.py`` through
the core's web hooks; customers' names come only through the access filter."""

from crmcore import access, render_page as render

from .catalogue import find, list_products
from .stock import levels

PAGE = 100


def catalogue(request):
    crm = request.state.crm
    q = request.query_params.get("q", "").strip()[:100]
    category = request.query_params.get("category", "").strip()[:100]
    rows = list_products(crm, category=category or None, search=q or None, limit=PAGE + 1)
    stock = {}
    for r in crm.store.query("SELECT p.sku, sum(m.quantity) AS stock FROM stock_movements m JOIN products p ON p.id = m.product_id "
                             "GROUP BY p.sku"):
        stock[r["sku"]] = r["stock"]
    categories = [r["category"] for r in crm.store.query(
        "SELECT DISTINCT category FROM products WHERE category != '' ORDER BY category")]
    return render(request, "web_products.html", {"rows": rows[:PAGE], "more": len(rows) > PAGE, "q": q, "category": category,
                                                 "categories": categories, "stock": stock})


def product(request):
    crm, user = request.state.crm, request.state.user
    try:
        p = find(crm, request.path_params["sku"])
    except Exception:
        raise access.NotFound("no such product") from None
    sql, params = access.contact_scope(crm, user)
    buyers = crm.store.query(
        "SELECT c.id, c.first_name, c.last_name, c.email, sum(ol.quantity) AS quantity, max(o.ordered_at) AS last_ordered "
        "FROM order_lines ol JOIN orders o ON o.id = ol.order_id JOIN contacts c ON c.id = o.contact_id "
        f"WHERE ol.sku = ? AND {sql} GROUP BY c.id, c.first_name, c.last_name, c.email "
        "ORDER BY max(o.ordered_at) DESC, c.id LIMIT 25", [p["sku"], *params])
    return render(request, "web_product.html", {"p": p, "stock": levels(crm, sku=p["sku"]), "buyers": buyers})


def bought_panel(crm, user, contact):
    """What the customer bought: one row per product, newest first (the contact's page)."""
    rows = crm.store.query(
        "SELECT ol.sku, max(p.name) AS name, sum(ol.quantity) AS quantity, max(o.ordered_at) AS last_ordered "
        "FROM orders o JOIN order_lines ol ON ol.order_id = o.id LEFT JOIN products p ON p.sku = ol.sku "
        "WHERE o.contact_id = ? GROUP BY ol.sku ORDER BY max(o.ordered_at) DESC, ol.sku LIMIT 20", (contact["id"],))
    return {"rows": rows}
