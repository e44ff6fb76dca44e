"""What every benchmark script shares: the command line, the row shape, printing.

A row is ``{workload, size, ours_s, baseline_s, baseline, ratio, target}``;
``ratio`` is ours / baseline (above 1.0 we are slower). A peer that cannot
run here keeps the row, with ``baseline_s`` and ``ratio`` None and the reason
in ``baseline``, so a missing comparison is visible rather than silent.
"""

import argparse
import json
import time

SCALES = ("tiny", "small", "full")
#: Interleaved rounds per scale: tiny only checks that nothing crashes.
ROUNDS = {"tiny": 1, "small": 3, "full": 2}


def parser(doc):
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", choices=SCALES, default="small", help="tiny: a smoke run; full: the issue's sizes")
    p.add_argument("--json", action="store_true", help="print the rows as one JSON list")
    return p


def row(workload, size, ours_s, baseline_s, baseline, target):
    ratio = ours_s / baseline_s if baseline_s else None
    return {"workload": workload, "size": size, "ours_s": ours_s, "baseline_s": baseline_s, "baseline": baseline,
            "ratio": ratio, "target": target}


def unavailable(workload, size, ours_s, reason, target):
    return row(workload, size, ours_s, None, f"peer unavailable: {reason}", target)


def timed(fn):
    """``(seconds, result)`` of one call."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def best_of(rounds, *measures):
    """The best seconds of each ``measure()`` (a callable returning the seconds
    it timed, so it can leave its set-up out). Rounds interleave them, so a
    busy moment of a shared machine hits ours and the baseline alike."""
    best = [float("inf")] * len(measures)
    for _ in range(rounds):
        for i, measure in enumerate(measures):
            best[i] = min(best[i], measure())
    return best


def line(r):
    """One human-readable line for a row."""
    base = f"{r['baseline_s']:8.3f}s" if r["baseline_s"] is not None else "       -"
    ratio = f"{r['ratio']:6.2f}x" if r["ratio"] is not None else "      -"
    return (f"{r['workload']:<46} {r.get('size', ''):>30}  ours {r['ours_s']:8.3f}s  baseline {base}  "
            f"ratio {ratio}  target {r.get('target') or '-'}  (baseline: {r['baseline']})")


def emit(rows, as_json):
    if as_json:
        print(json.dumps(rows))
    else:
        for r in rows:
            print(line(r), flush=True)
