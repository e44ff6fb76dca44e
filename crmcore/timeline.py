"""A contact's timeline: every plugin's events, newest first.

The core's events come through the same hook as every plugin's
(``crm_contact_timeline``, implemented in core_plugin.py)."""

import json

TIMELINE_FIELDS = ["at", "kind", "summary", "ref"]


def core_events(crm, contact):
    """Activities, orders with their lines, deals and audit events of ``contact``."""
    store, cid = crm.store, contact["id"]
    events = []
    for a in store.query("SELECT id, kind, subject, channel, due_at, done_at, created_at FROM activities WHERE contact_id = ?", (cid,)):
        when = a["done_at"] or a["due_at"] or a["created_at"]
        state = "done" if a["done_at"] else ("due" if a["due_at"] else "")
        events.append({"at": when, "kind": a["kind"], "summary": " ".join(x for x in (a["subject"] or "", f"({state})" if state else "") if x),
                       "ref": a["id"]})
    orders = store.query("SELECT id, ref, ordered_at, total, currency FROM orders WHERE contact_id = ?", (cid,))
    lines = {}
    if orders:
        for line in store.query("SELECT l.order_id, l.sku, l.description, l.quantity FROM order_lines l JOIN orders o ON o.id = l.order_id "
                                "WHERE o.contact_id = ? ORDER BY l.id", (cid,)):
            lines.setdefault(line["order_id"], []).append(line)
    for o in orders:
        items = ", ".join(f"{_qty(li['quantity'])} x {li['sku'] or li['description'] or '?'}" for li in lines.get(o["id"], []))
        total = f"{o['total']:,.2f} {o['currency'] or ''}".strip() if o["total"] is not None else ""
        events.append({"at": o["ordered_at"], "kind": "order", "summary": f"order {o['ref'] or o['id']} {total}" + (f": {items}" if items else ""),
                       "ref": o["id"]})
    for d in store.query("SELECT id, title, stage, status, amount, created_at, closed_at FROM deals WHERE contact_id = ?", (cid,)):
        events.append({"at": d["created_at"], "kind": "deal", "summary": f"deal opened: {d['title']}", "ref": d["id"]})
        if d["closed_at"]:
            events.append({"at": d["closed_at"], "kind": "deal", "summary": f"deal {d['status']}: {d['title']}", "ref": d["id"]})
    for h in store.query('SELECT id, at, "user", action, changes FROM _crm_audit WHERE table_name = ? AND record_id = ?', ("contacts", cid)):
        changes = json.loads(h["changes"] or "{}")
        fields = ", ".join(sorted(changes)) if isinstance(changes, dict) else ""
        events.append({"at": h["at"], "kind": "change", "summary": f"{h['action']} by {h['user']}" + (f": {fields}" if fields else ""),
                       "ref": h["id"]})
    return events


def _qty(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def timeline(crm, ref, limit=None):
    """Every event of a contact (id, e-mail or decoded row), newest first."""
    contact = ref if isinstance(ref, dict) else crm.find_contact(ref)
    results = crm.activation.call("crm_contact_timeline", crm=crm, contact=contact)
    events = [{k: event.get(k) for k in TIMELINE_FIELDS} for found in results for event in (found or ())]
    events.sort(key=lambda e: str(e["at"] or ""), reverse=True)
    return events[:limit] if limit else events
