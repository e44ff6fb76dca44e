"""The plugin's library code: commands, hooks and tests call these functions."""

from crmcore.app import CRMError

from . import POINTS_PER


def points_for(total):
    """One point per full ``POINTS_PER`` of the order total."""
    return int((total or 0) // POINTS_PER)


def award_for_orders(crm, orders):
    """Add the points earned by a batch of saved orders (one executemany)."""
    rows = [(o["contact_id"], points_for(o["total"]), f"order {o.get('ref') or o['id']}", o["id"], str(o["ordered_at"]))
            for o in orders if o.get("contact_id") and points_for(o["total"]) > 0]
    crm.store.executemany(
        "INSERT INTO loyalty_points (contact_id, points, reason, order_id, earned_at) VALUES (?, ?, ?, ?, ?)", rows)
    return sum(r[1] for r in rows)


def award(crm, contact_ref, points, reason="manual"):
    """Give (or with a negative number take) points by hand; returns the new balance."""
    from .records import LoyaltyPoints
    from crmcore import normalize

    contact = crm.find_contact(contact_ref)
    if points == 0:
        raise CRMError("points must not be 0")
    if balance(crm, contact["id"]) + points < 0:
        raise CRMError(f"contact {contact_ref} has only {balance(crm, contact['id'])} points")
    crm.add(LoyaltyPoints(contact_id=contact["id"], points=points, reason=reason, earned_at=normalize.now()))
    return balance(crm, contact["id"])


def balance(crm, contact_id):
    return crm.store.query_value("SELECT coalesce(sum(points), 0) FROM loyalty_points WHERE contact_id = ?", (contact_id,))


def balances(crm, limit=None):
    sql = ("SELECT c.id AS contact_id, c.email AS email, trim(c.first_name || ' ' || c.last_name) AS name, sum(p.points) AS points "
           "FROM loyalty_points p JOIN contacts c ON c.id = p.contact_id GROUP BY c.id ORDER BY points DESC, c.id")
    return crm.store.query(sql + (" LIMIT ?" if limit else ""), (limit,) if limit else ())


def report_context(crm, params):
    per_month = crm.store.query("SELECT substr(earned_at, 1, 7) AS month, sum(points) AS points FROM loyalty_points GROUP BY month ORDER BY month")
    return {
        "members": crm.store.query_value("SELECT count(DISTINCT contact_id) FROM loyalty_points"),
        "total_points": crm.store.query_value("SELECT coalesce(sum(points), 0) FROM loyalty_points"),
        "top": balances(crm, 100),
        "per_month": [(r["month"], r["points"]) for r in per_month][-24:],
    }


def section_context(crm):
    ctx = report_context(crm, {})
    ctx["top"] = ctx["top"][:5]
    return ctx
