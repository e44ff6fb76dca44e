"""The growth plot for docs/benchmarks.md, drawn with the project's chart helpers.

``write_svg(path, sizes, measured, workloads)``: one horizontal bar per
workload and 10x step, its growth factor (time at the larger size over the
time at the smaller), from ``crmcore.charts.bar_chart``; the SVG element is
taken out of the helper's ``<figure>`` so the file stands alone.
"""

import re

#: Short labels: the helper clips long ones.
LABELS = {"import": "import", "reimport": "re-import", "rfm": "RFM", "rfm_sql": "RFM statement", "refresh": "rule refresh", "dashboard": "dashboard",
          "contact": "contact page", "search": "search", "import_cpu": "import (CPU)", "reimport_cpu": "re-import (CPU)"}


def growth_bars(sizes, measured, workloads):
    """``[(label, factor), ...]``: each workload's growth per 10x step."""
    bars = []
    for key, _, _, _ in workloads:
        for small, big in zip(sizes, sizes[1:]):
            a, b = measured.get(small, {}).get(key), measured.get(big, {}).get(key)
            if a and b:
                bars.append((f"{LABELS.get(key, key)} {_short(small)}-{_short(big)}", round(b / a, 2)))
    return bars


def _short(n):
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1_000}k" if n >= 1_000 else str(n)


def write_svg(path, sizes, measured, workloads):
    from crmcore.charts import bar_chart

    figure = str(bar_chart(growth_bars(sizes, measured, workloads), "Growth per 10x more contacts (linear = 10x; target <= 11x, pages <= 2x)",
                           x_label="time at the larger size / time at the smaller", horizontal=True, width=760))
    found = re.search(r"<svg.*?</svg>", figure, re.S)
    if not found:
        raise SystemExit("--svg: nothing measured to plot")
    svg = found.group(0)
    with open(path, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n' + svg + "\n")


def measured_from_rows(rows, workloads):
    """``(sizes, {size: {key: seconds}})`` back from a run's growth rows (``run.py --json``)."""
    keys = {f"growth: {name}": key for key, name, _, _ in workloads}
    measured = {}
    for r in rows:
        key = keys.get(r["workload"])
        if key is None:
            continue
        small, big = (int(n.replace(",", "")) for n in r["size"].split(" contacts")[0].split(" -> "))
        measured.setdefault(small, {})[key] = r["baseline_s"]
        measured.setdefault(big, {})[key] = r["ours_s"]
    return tuple(sorted(measured)), measured


def main():
    """``python benchmarks/growth_chart.py RUN.json OUT.svg``: the plot of a saved growth run."""
    import json
    import os
    import sys

    if len(sys.argv) != 3:
        sys.exit("usage: growth_chart.py RUN.json OUT.svg (RUN.json from run.py --scale growth --json)")
    sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)), os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
    from bench_growth import WORKLOADS

    with open(sys.argv[1], encoding="utf-8") as f:
        run = json.load(f)
    sizes, measured = measured_from_rows(run["results"] if isinstance(run, dict) else run, WORKLOADS)
    write_svg(sys.argv[2], sizes, measured, WORKLOADS)


if __name__ == "__main__":
    main()
