"""Demo data of the segments plugin: example segments, RFM, territories, targets."""

import datetime as dt

from . import cohorts, rfm, segments, targets, territories


def example_segments(crm):
    """(name, rule, description); DE-garden uses the products plugin's field when it is there."""
    garden = 'bought_category == "Garden"' if "bought_category" in crm.registry.segment_fields else 'tags contains "garden"'
    return [
        ("vip", 'total_spent >= 1000 or tags contains "vip"', "Best customers by spend, plus those tagged vip"),
        ("churn-risk", "orders_count >= 3 and days_since_last_order > 180", "Regular buyers who have gone quiet"),
        ("DE-garden", f'country == "DE" and {garden}', "German garden customers"),
        ("new-this-quarter", "first_order_date >= \"{start}\"", "First order in the current quarter"),
        ("dach-loyal", 'country in ("DE", "AT", "CH") and rfm_segment in ("Champions", "Loyal")', "RFM champions and loyal customers in DACH"),
        # the groups the surveys plugin's demo invites
        ("recent-buyers", "days_since_last_order <= 90", "Bought in the last 90 days"),
        ("wholesale", 'tags contains "wholesale"', "Retailers and other trade customers"),
    ]


def generate(crm, rng, today=None):
    today = today or dt.date.today()
    quarter = targets.current_period("quarter", today)
    if crm.store.query_value("SELECT count(*) FROM segments"):
        return  # demo data is added once
    rfm.score(crm, today)
    cohorts.save_summary(crm, "month", today, cohorts.cohorts(crm, "month", as_of=today))
    for name, rule, description in example_segments(crm):
        segments.create_segment(crm, name, rule.replace("{start}", quarter.start.isoformat()), description)
    segments.create_segment(crm, "trade-fair-leads", static=True, description="Met at the spring trade fair")
    leads = [r[0] for r in crm.store.execute("SELECT id FROM contacts WHERE source = 'trade fair' ORDER BY id LIMIT 40")]
    if leads:
        segments.add_members(crm, "trade-fair-leads", [(None, str(i)) for i in leads])
    segments.refresh(crm, today=today)

    territories.add(crm, "DACH", "alice", ["DE", "AT", "CH"])
    territories.add(crm, "Bavaria", "bob", ["DE"], regions=["Bayern"])
    territories.add(crm, "UK-and-Nordics", "carla", ["GB", "SE"])
    territories.add(crm, "North-America", "deniz", ["US"])

    # Targets: last year's revenue of the same people, a quarter of it, give or take.
    year_ago = today - dt.timedelta(days=365)

    def last_year(scope, name):
        return targets.actuals(crm, targets.member_ids(crm, scope, name), year_ago, today)

    for name in ("vip", "DE-garden", "churn-risk"):
        revenue = last_year("segment", name)["revenue"]
        targets.set_target(crm, "segment", name, quarter.label, revenue=round(revenue / 4 * rng.uniform(0.9, 1.3), -2) or 1000.0)
    dach = last_year("territory", "DACH")
    targets.set_target(crm, "territory", "DACH", quarter.label, revenue=round(dach["revenue"] / 4 * 1.1, -2) or 1000.0,
                       units=round(dach["units"] / 4 * 1.1) or 100)
    america = last_year("territory", "North-America")["revenue"]
    targets.set_target(crm, "territory", "North-America", str(today.year), revenue=round(america * 1.15, -2) or 1000.0)
