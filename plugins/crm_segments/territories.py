"""Territories: named geographic areas with an owner.

A contact is in a territory when its country is one of the territory's
countries and, when the territory lists regions or postal-code prefixes, its
region or postal code matches one of them. ``assign`` makes the territory's
owner the contact's owner; when territories overlap the most specific one
(prefixes, then regions, then countries only) wins, then the oldest.
"""


from crmcore import build, Contact, CRMError, decode_row, FieldError, normalize, require_rates

from .records import Territory

TERRITORY_FIELDS = ["id", "name", "owner", "countries", "regions", "postal_prefixes", "contacts", "revenue"]


def require(crm, name):
    rows = crm.store.query("SELECT * FROM territories WHERE name = ?", (name,))
    if not rows:
        raise CRMError(f"no territory named {name!r} (see crm segments territories list)")
    return decode_row(Territory, rows[0])


def condition(territory):
    """``(sql, params)`` over contact ``c``; values bound, never pasted."""
    countries = list(territory["countries"]) or [None]  # no country matches nothing
    sql = f"c.country IN ({', '.join('?' * len(countries))})"
    params = countries
    if territory["regions"]:
        sql += f" AND c.region IN ({', '.join('?' * len(territory['regions']))})"
        params += list(territory["regions"])
    if territory["postal_prefixes"]:
        sql += " AND (" + " OR ".join(["substr(c.postal_code, 1, ?) = ?"] * len(territory["postal_prefixes"])) + ")"
        params += [x for p in territory["postal_prefixes"] for x in (len(p), p)]
    return sql, params


def add(crm, name, owner="", countries=(), regions=(), postal_prefixes=(), replace=False):
    data = {"name": name, "owner": owner or "", "countries": list(countries), "regions": list(regions), "postal_prefixes": list(postal_prefixes)}
    try:
        territory = build(Territory, data)
    except FieldError as exc:
        raise CRMError(f"invalid {exc.field}: {exc.reason}") from None
    existing = crm.store.query_value("SELECT id FROM territories WHERE name = ?", (territory.name,))
    if existing is not None:
        if not replace:
            raise CRMError(f"a territory named {name!r} exists already (use --replace to redefine it)")
        data.pop("name")
        crm.update("territories", existing, data)
        return existing
    return crm.add(territory)


def remove(crm, name):
    territory = require(crm, name)
    with crm.store.transaction():
        crm.store.execute("DELETE FROM segment_targets WHERE scope = 'territory' AND name = ?", (name,))
        crm.delete("territories", [territory["id"]])


def all_territories(crm):
    """Territories, most specific first (the order ``assign`` applies them in)."""
    rows = [decode_row(Territory, r) for r in crm.store.query("SELECT * FROM territories ORDER BY id")]
    return sorted(rows, key=lambda t: (not t["postal_prefixes"], not t["regions"], t["id"]))


def own_condition(crm, territory, ordered=None):
    """``(sql, params)`` over contact ``c`` for the contacts ``territory`` owns:
    its own condition, minus every more specific territory's (the ones
    before it in ``all_territories`` order), so nested territories never
    count a contact twice."""
    ordered = ordered if ordered is not None else all_territories(crm)
    sql, params = condition(territory)
    for other in ordered:
        if other["id"] == territory["id"]:
            break
        other_sql, other_params = condition(other)
        sql += f" AND NOT ({other_sql})"
        params = params + other_params
    return sql, params


def contact_ids(crm, name):
    """Ids of the contacts whose most specific territory is ``name``."""
    sql, params = own_condition(crm, require(crm, name))
    return [r[0] for r in crm.store.execute(f"SELECT c.id FROM contacts c WHERE {sql} ORDER BY c.id", params)]


def list_with_counts(crm):
    """Territories by name, each with the contacts it owns (most specific
    wins) and their revenue (every order)."""
    require_rates(crm)  # revenue in the base currency
    ordered = all_territories(crm)
    out = []
    for t in sorted(ordered, key=lambda t: t["name"]):
        sql, params = own_condition(crm, t, ordered)
        t["contacts"] = crm.store.query_value(f"SELECT count(*) FROM contacts c WHERE {sql}", params)
        t["revenue"] = round(float(crm.store.query_value(
            f"SELECT coalesce(sum(o.total * o.fx_rate), 0) FROM orders o JOIN contacts c ON c.id = o.contact_id WHERE {sql}", params)), 2)
        out.append(t)
    return out


def territory_of(crm):
    """``{contact_id: territory name}`` for every contact in some territory."""
    owner = {}
    for t in all_territories(crm):
        sql, params = condition(t)
        for (cid,) in crm.store.execute(f"SELECT c.id FROM contacts c WHERE {sql}", params):
            owner.setdefault(cid, t["name"])
    return owner


def assign(crm, dry_run=False, batch=2000):
    """Set each contact's owner to its territory's owner; returns change counts
    per territory. One transaction; contacts-saved events in batches."""

    changes = {}
    plan = []
    seen = set()
    for t in all_territories(crm):
        if not t["owner"]:
            continue
        sql, params = condition(t)
        for row in crm.store.query(f"SELECT c.id, c.owner FROM contacts c WHERE {sql}", params):
            if row["id"] in seen:
                continue
            seen.add(row["id"])
            if row["owner"] != t["owner"]:
                plan.append((row["id"], row["owner"], t["owner"]))
                changes[t["name"]] = changes.get(t["name"], 0) + 1
    if dry_run or not plan:
        return changes
    stamp = normalize.now()
    with crm.store.transaction():
        for i in range(0, len(plan), batch):
            chunk = plan[i:i + batch]
            crm.store.executemany("UPDATE contacts SET owner = ?, updated_at = ? WHERE id = ?", ((new, stamp, cid) for cid, _, new in chunk))
            crm.audit_many("update", "contacts", [(cid, {"owner": [old, new]}) for cid, old, new in chunk])
            marks = ", ".join("?" * len(chunk))
            saved = [decode_row(Contact, r) for r in crm.store.query(
                f"SELECT * FROM contacts WHERE id IN ({marks}) ORDER BY id", [cid for cid, _, _ in chunk])]
            crm.emit("crm_records_saved", crm=crm, table="contacts", records=saved)
    return changes
