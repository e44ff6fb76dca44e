"""Run every benchmark and print one line per workload: ours, baseline, ratio.

    python benchmarks/run.py [--scale tiny|small|full] [--json] [--only NAME]
    python benchmarks/run.py --scale growth          # how cost grows: 100,000 to 10,000,000 contacts
    python benchmarks/run.py --json > OLD.json       # save a run
    python benchmarks/run.py --compare OLD.json      # run again, compare ratios
    python benchmarks/run.py --compare OLD.json --against NEW.json   # two saved runs

Each benchmark is a script ``benchmarks/bench_*.py`` that accepts
``--scale tiny|small|full --json`` and prints a JSON list of rows (see
``common.py``: workload, size, ours_s, baseline_s, baseline, ratio, target).
Each runs in its own process so one cannot warm caches for another. ``full``
uses the issue's sizes (1,000,000 contacts, 5,000,000 orders); ``small``
takes about a minute; ``tiny`` takes seconds and only checks that nothing
crashes (the test suite runs it; it is never a timed test). The scales run
the same code with different sizes. ``growth`` runs only ``bench_growth.py``
at 100,000, 1,000,000 and 10,000,000 contacts (its progress on stderr; each
row is one workload's 10x step, the ratio its growth factor).

``--compare OLD.json`` prints, for each workload in both runs, its ratio
then and now and the change, and exits 1 when a ratio got more than 25%
worse (``--tolerance``), so a regression cannot go unseen. Ratios, not
seconds, are compared: both sides of a ratio ran on the same machine at the
same time, so a slower or busier machine does not count as a regression.
"""

import argparse
import glob
import json
import os
import platform
import subprocess
import sys

from common import SCALES, line


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=(*SCALES, "growth"), default="small")
    parser.add_argument("--json", action="store_true", help="print all results as one JSON document")
    parser.add_argument("--only", help="run only bench_NAME.py")
    parser.add_argument("--compare", metavar="OLD.json", help="compare the ratios with a run saved by --json")
    parser.add_argument("--against", metavar="NEW.json", help="with --compare: compare with this saved run instead of running")
    parser.add_argument("--tolerance", type=float, default=0.25, help="a ratio this much worse fails --compare (default 0.25)")
    args = parser.parse_args()
    if args.against and not args.compare:
        sys.exit("--against needs --compare OLD.json")
    old = load_run(args.compare, "--compare") if args.compare else None
    if args.against:
        sys.exit(compare(old, load_run(args.against, "--against"), args.tolerance))
    here = os.path.dirname(os.path.abspath(__file__))
    scripts = sorted(glob.glob(os.path.join(here, "bench_*.py")))
    if args.scale == "growth":  # the other scripts have no growth scale
        scripts = [s for s in scripts if os.path.basename(s) == "bench_growth.py"]
    if args.only:
        known = [os.path.basename(s)[6:-3] for s in scripts]
        scripts = [s for s in scripts if os.path.basename(s) == f"bench_{args.only}.py"]
        if not scripts:
            sys.exit(f"--only: no benchmark named {args.only!r} (known: {', '.join(known)})")
    results, failures = [], []
    for script in scripts:
        # A growth run takes half an hour: its progress goes straight to stderr.
        proc = subprocess.run([sys.executable, script, "--scale", args.scale, "--json"], stdout=subprocess.PIPE,
                              stderr=None if args.scale == "growth" else subprocess.PIPE, text=True)
        name = os.path.basename(script)
        if proc.returncode != 0:
            failures.append(name)
            print(f"{name}: FAILED\n{(proc.stderr or '').strip()}", file=sys.stderr)
            continue
        for r in json.loads(proc.stdout.strip().splitlines()[-1]):
            r["script"] = name
            results.append(r)
            if not args.json:
                print(line(r), flush=True)
    machine = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(), "system": platform.platform()}
    if args.json:
        print(json.dumps({"scale": args.scale, "machine": machine, "results": results}, indent=2))
    else:
        print(f"machine: {machine}")
    worse = compare(old, {"scale": args.scale, "results": results}, args.tolerance) if old else 0
    sys.exit(1 if failures or worse else 0)


def load_run(path, option):
    """A run saved by ``run.py --json``; a one-line exit naming the file otherwise."""
    try:
        with open(path, encoding="utf-8") as f:
            run = json.load(f)
        rows = run["results"]
        if not isinstance(rows, list) or not all(isinstance(r, dict) and "workload" in r for r in rows):
            raise ValueError
    except OSError as exc:
        sys.exit(f"{option}: cannot read {path}: {exc.strerror or exc}")
    except (ValueError, KeyError, TypeError):
        sys.exit(f"{option}: {path} is not a run saved by benchmarks/run.py --json")
    return run


def compare(old, new, tolerance=0.25):
    """Print each workload's ratio in ``old`` and ``new`` and its change; the
    number of ratios more than ``tolerance`` worse (printed to stderr too)."""
    out = sys.stderr if "--json" in sys.argv else sys.stdout
    before = {r["workload"]: r for r in old["results"]}
    now = {r["workload"]: r for r in new["results"]}
    if old.get("scale") != new.get("scale"):
        print(f"note: comparing scale {old.get('scale')} with scale {new.get('scale')}", file=out)
    worse = []
    for name, r in now.items():
        was = before.get(name)
        if was is None:
            verdict, then = "new workload", "-"
        elif was.get("ratio") is None or r.get("ratio") is None:
            verdict, then = "no ratio to compare", "-" if was.get("ratio") is None else f"{was['ratio']:.2f}x"
        else:
            then = f"{was['ratio']:.2f}x"
            change = r["ratio"] / was["ratio"] - 1
            verdict = f"{change:+.0%}"
            if change > tolerance:
                verdict += f"  WORSE by more than {tolerance:.0%}"
                worse.append(name)
        ratio = "-" if r.get("ratio") is None else f"{r['ratio']:.2f}x"
        print(f"{name:<56} was {then:>8}  now {ratio:>8}  {verdict}", file=out)
    for name in before:
        if name not in now:
            print(f"{name:<56} not in this run", file=out)
    if worse:
        print(f"{len(worse)} workload(s) more than {tolerance:.0%} worse: {', '.join(worse)}", file=sys.stderr)
    return 1 if worse else 0


if __name__ == "__main__":
    main()
