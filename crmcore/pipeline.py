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


def set_stages(crm, pairs, moves=()):
    """Configure the pipeline from ``["lead=10", "won=100", ...]``.

    ``moves`` (``["qualified=lead", ...]``, OLD=NEW) first moves the deals of
    stages that are left out into stages of the new pipeline, all or nothing."""
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
    moving = {}
    for pair in moves:
        old, sep, target = (normalize.text(p).lower() for p in pair.partition("="))
        if not sep or not old or not target:
            raise CRMError(f"--move {pair!r} must look like OLD=NEW")
        if target not in names:
            raise CRMError(f"--move {pair}: {target!r} is not a stage of the new pipeline ({', '.join(names)})")
        moving[old] = target
    in_use = {r["stage"] for r in crm.store.query("SELECT DISTINCT stage FROM deals")} - set(names)
    left = in_use - set(moving)
    if left:
        hint = " ".join(f"--move {s}=NEW" for s in sorted(left))
        raise CRMError(f"deals are still in stage(s) {', '.join(sorted(left))}; move them with {hint} "
                       f"(or rename a stage: crm deals stages rename OLD NEW)")
    with crm.store.transaction():
        crm.set_setting("pipeline.stages", new)
        for old, target in moving.items():
            for row in crm.store.query("SELECT id FROM deals WHERE stage = ? ORDER BY id", (old,)):
                move_deal(crm, row["id"], target)


def rename_stage(crm, old, new):
    """Rename pipeline stage ``old`` to ``new``, with every deal in it."""
    old, new = normalize.text(old).lower(), normalize.text(new).lower()
    current = stages(crm)
    names = [s for s, _ in current]
    if old not in names:
        raise CRMError(f"no stage {old!r} (stages: {', '.join(names)})")
    if old in ("won", "lost"):
        raise CRMError(f"the stage {old!r} closes deals and keeps its name")
    if not new or "=" in new or new in names:
        raise CRMError(f"{new!r} cannot be the new name: " + ("it is a stage already" if new in names else "give a plain name"))
    with crm.store.transaction():
        crm.set_setting("pipeline.stages", [(new if s == old else s, p) for s, p in current])
        for row in crm.store.query("SELECT id FROM deals WHERE stage = ? ORDER BY id", (old,)):
            crm.update("deals", row["id"], {"stage": new})


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
    """Open deals per stage with probability-weighted value (in the base currency)."""
    from .currency import require_rates

    require_rates(crm, "deals")
    sql = ("SELECT stage, count(*) AS deals, coalesce(sum(amount * fx_rate), 0) AS amount FROM deals WHERE status = 'open'")
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
        rows.append({"stage": name, "probability": probability, "deals": r["deals"], "amount": round(r["amount"], 2),
                     "weighted": round(r["amount"] * probability / 100, 2)})
    return rows
