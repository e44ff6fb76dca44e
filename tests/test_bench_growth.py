"""The growth benchmark's arithmetic and plot on hand-made timings (the
timings themselves come from `benchmarks/run.py --scale growth`; nothing
here is timed)."""

import os
import sys
import xml.etree.ElementTree as ET

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
sys.path.insert(0, BENCHMARKS)

import bench_growth  # noqa: E402
import growth_chart  # noqa: E402

SIZES = (1_000, 10_000, 100_000)
MEASURED = {
    1_000: {"import": 1.0, "search": 0.002},
    10_000: {"import": 9.0, "search": 0.003},
    100_000: {"import": 120.0},  # the search did not fit
}


def test_each_10x_step_is_a_row_whose_ratio_is_the_growth_factor():
    rows = bench_growth.step_rows(SIZES, MEASURED)
    found = {(r["workload"], r["size"]): r for r in rows}
    assert set(found) == {("growth: contact import", "1,000 -> 10,000 contacts"),
                          ("growth: contact import", "10,000 -> 100,000 contacts"),
                          ("growth: web contacts search, one person", "1,000 -> 10,000 contacts")}
    step = found[("growth: contact import", "10,000 -> 100,000 contacts")]
    assert (step["ours_s"], step["baseline_s"], step["ratio"]) == (120.0, 9.0, 120.0 / 9.0)
    assert step["target"] == "<= 11x per 10x (linear)"
    assert found[("growth: web contacts search, one person", "1,000 -> 10,000 contacts")]["target"] == "<= 2x per 10x (flat)"


def test_the_table_shows_every_size_and_says_what_did_not_fit():
    text = bench_growth.table(SIZES, MEASURED, ["did not fit: 100,000 contacts, stopped at web pages"])
    lines = {line.split("  ")[0]: line for line in text.splitlines()}
    assert "1.00s" in lines["contact import"] and "120.00s" in lines["contact import"]
    assert "9.0x" in lines["contact import"] and "13.3x" in lines["contact import"]
    search = lines["web contacts search, one person"].split()
    assert search[5:10] == ["2.0ms", "3.0ms", "-", "1.5x", "-"]
    assert text.splitlines()[-1].startswith("did not fit: 100,000 contacts")


def test_the_plot_is_one_bar_per_measured_step(tmp_path):
    assert growth_chart.growth_bars(SIZES, MEASURED, bench_growth.WORKLOADS) == [
        ("import 1k-10k", 9.0), ("import 10k-100k", 13.33), ("search 1k-10k", 1.5)]
    path = tmp_path / "growth.svg"
    growth_chart.write_svg(str(path), SIZES, MEASURED, bench_growth.WORKLOADS)
    svg = ET.parse(path).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(list(svg.iter("{http://www.w3.org/2000/svg}rect"))) == 3


def test_a_saved_run_plots_the_same_bars():
    rows = bench_growth.step_rows(SIZES, MEASURED)
    sizes, measured = growth_chart.measured_from_rows(rows, bench_growth.WORKLOADS)
    assert sizes == SIZES
    assert growth_chart.growth_bars(sizes, measured, bench_growth.WORKLOADS) == growth_chart.growth_bars(SIZES, MEASURED, bench_growth.WORKLOADS)
