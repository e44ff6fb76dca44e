"""Deal stages: the configurable pipeline, moving deals, and its summary."""

from . import normalize
from .errors import CRMError, FieldError

DEFAULT_STAGES = (("lead", 10), ("qualified", 25), ("proposal", 50), ("negotiation", 75), ("won", 100), ("lost", 0))


def stages(crm):
    """Pipeline stages as ``[(name, probability), ...]`` in order."""
    return [tuple(s) for s in crm.get_setting("pipeline.stages", DEFAULT_STAGES)]


def check_stage(crm, stage):
    names = [s for s, _ in stages(crm)]
    if stage not in names:
        raise FieldError("stage", f"unknown stage {stage!r} (stages: {', '.join(names)})")


def set_stages(crm, pairs):
    """Configure the pipeline from ``["lead=10", "won=100", ...]``."""
    new = []
    for pair in pairs:
        name, sep, prob = pair.partition("=")
        name = normalize.text(name).lower()
        try:
            probability = int(prob) if sep else -1
        except ValueError:
            probability = -1
        if not name or not 0 <= probability <= 100:
            raise CRMError(f"stage {pair!r} must look like NAME=PROBABILITY with 0-100")
        new.append((name, probability))
    names = [s for s, _ in new]
    if "won" not in names or "lost" not in names:
        raise CRMError("the pipeline needs a 'won' and a 'lost' stage")
    if len(set(names)) != len(names):
        raise CRMError("stage names must be unique")
    in_use = {r["stage"] for r in crm.store.query("SELECT DISTINCT stage FROM deals")} - set(names)
    if in_use:
        raise CRMError(f"deals are still in stage(s) {', '.join(sorted(in_use))}; move them first")
    crm.set_setting("pipeline.stages", new)


def move_deal(crm, deal_id, stage):
    """Move a deal to ``stage``; ``won``/``lost`` close it, others reopen it."""
    stage = normalize.text(stage).lower()
    changes = {"stage": stage}
    if stage in ("won", "lost"):
        changes.update(status=stage, closed_at=normalize.now()[:10])
    else:
        changes.update(status="open", closed_at=None)
    try:
        return crm.update("deals", deal_id, changes)
    except FieldError as exc:
        raise CRMError(f"invalid {exc.field}: {exc.reason}") from None


def summary(crm, owner=None):
    """Open deals per stage with probability-weighted value."""
    sql = ("SELECT stage, count(*) AS deals, coalesce(sum(amount), 0) AS amount FROM deals WHERE status = 'open'")
    params = []
    if owner:
        sql += " AND owner = ?"
        params.append(owner)
    found = {r["stage"]: r for r in crm.store.query(sql + " GROUP BY stage", params)}
    rows = []
    for name, probability in stages(crm):
        if name in ("won", "lost"):
            continue
        r = found.get(name, {"deals": 0, "amount": 0.0})
        rows.append({"stage": name, "probability": probability, "deals": r["deals"], "amount": r["amount"],
                     "weighted": round(r["amount"] * probability / 100, 2)})
    return rows
