"""CLI start-up: `crm --help` against `python -c "import click, pluggy"`, same run.

    python benchmarks/bench_cli.py [--scale small|full] [--json]

Each command runs as a whole process several times, alternating, and the
medians are compared: the floor for any click + pluggy program is the baseline.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time


def wall(cmd, env):
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    return time.perf_counter() - start


def run(scale="small"):
    runs = 7 if scale == "small" else 25
    crm = shutil.which("crm") or os.path.join(os.path.dirname(sys.executable), "crm")
    env = {k: v for k, v in os.environ.items() if k != "CRM_LOAD_PLUGINS"}
    ours_cmd = [crm, "--help"]
    base_cmd = [sys.executable, "-c", "import click, pluggy"]
    wall(ours_cmd, env), wall(base_cmd, env)  # warm the file cache
    ours, base = [], []
    for _ in range(runs):
        ours.append(wall(ours_cmd, env))
        base.append(wall(base_cmd, env))
    o, b = statistics.median(ours), statistics.median(base)
    return [{"workload": "CLI start (crm --help, all plugins)", "size": f"{runs} runs", "ours_s": o, "baseline_s": b,
             "baseline": "python -c 'import click, pluggy'", "ratio": o / b, "target": "<= 2.0x"}]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["small", "full"], default="small")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = run(args.scale)
    if args.json:
        print(json.dumps(results))
    else:
        for r in results:
            print(f"{r['workload']:<40} ours {r['ours_s']:.3f}s  {r['baseline']} {r['baseline_s']:.3f}s  ratio {r['ratio']:.2f}x ({r['target']})")


if __name__ == "__main__":
    main()
