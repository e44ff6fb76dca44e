"""CLI start-up: `crm --help` against `python -c "import click, pluggy"`, same run.

    python benchmarks/bench_cli.py [--scale tiny|small|full] [--json]

Each command runs as a whole process several times, alternating, and the
medians are compared: the floor for any click + pluggy program is the baseline.
"""

import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import emit, parser, row  # noqa: E402

RUNS = {"tiny": 1, "small": 7, "full": 25}


def wall(cmd, env):
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    return time.perf_counter() - start


def run(scale="small"):
    runs = RUNS[scale]
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
    return [row("CLI start (crm --help, all plugins)", f"median of {runs} runs", o, b, "python -c 'import click, pluggy'", "<= 2.0x")]


def main():
    args = parser(__doc__).parse_args()
    emit(run(args.scale), args.json)


if __name__ == "__main__":
    main()
