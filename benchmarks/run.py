"""Run every benchmark and print one line per workload: ours, baseline, ratio.

    python benchmarks/run.py [--scale tiny|small|full] [--json] [--only NAME]

Each benchmark is a script ``benchmarks/bench_*.py`` that accepts
``--scale tiny|small|full --json`` and prints a JSON list of rows (see
``common.py``: workload, size, ours_s, baseline_s, baseline, ratio, target).
Each runs in its own process so one cannot warm caches for another. ``full``
uses the issue's sizes (1,000,000 contacts, 5,000,000 orders); ``small``
takes about a minute; ``tiny`` takes seconds and only checks that nothing
crashes (the test suite runs it; it is never a timed test). The scales run
the same code with different sizes.
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
    parser.add_argument("--scale", choices=SCALES, default="small")
    parser.add_argument("--json", action="store_true", help="print all results as one JSON document")
    parser.add_argument("--only", help="run only bench_NAME.py")
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    scripts = sorted(glob.glob(os.path.join(here, "bench_*.py")))
    if args.only:
        known = [os.path.basename(s)[6:-3] for s in scripts]
        scripts = [s for s in scripts if os.path.basename(s) == f"bench_{args.only}.py"]
        if not scripts:
            sys.exit(f"--only: no benchmark named {args.only!r} (known: {', '.join(known)})")
    results, failures = [], []
    for script in scripts:
        proc = subprocess.run([sys.executable, script, "--scale", args.scale, "--json"], capture_output=True, text=True)
        name = os.path.basename(script)
        if proc.returncode != 0:
            failures.append(name)
            print(f"{name}: FAILED\n{proc.stderr.strip()}", file=sys.stderr)
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
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
