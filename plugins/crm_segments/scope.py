"""Which contacts a territory-limited user (the ``sales`` role of ``crm serve``)
sees: those of the territories named on their account, by the territories'
own rules (``territories.condition``). Answers the core's ``crm_contact_scope``."""

from crmcore import decode_row

from .records import Territory
from .territories import condition


def user_scope(crm, names):
    """``(sql, params)`` over contact ``c``: in any of the territories ``names``;
    ``None`` when the list is empty. An unknown name matches nothing (a
    territory removed after the user was given it must not widen the scope)."""
    if not names:
        return None
    marks = ", ".join("?" * len(names))
    found = [decode_row(Territory, r) for r in crm.store.query(f"SELECT * FROM territories WHERE name IN ({marks})", list(names))]
    if not found:
        return "1 = 0", []
    parts, params = [], []
    for t in found:
        sql, values = condition(t)
        parts.append(f"({sql})")
        params.extend(values)
    return " OR ".join(parts), params
