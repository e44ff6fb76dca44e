"""line_chart keeps values below zero (NPS, margins) inside the plot, with zero on a gridline."""

import re

from crmcore.charts import _nice_ticks, line_chart


def _points(svg):
    return [tuple(map(float, p.split(","))) for p in re.search(r"<polyline points='([^']*)'", svg).group(1).split()]


def _gridlines(svg):
    """y of every horizontal gridline, keyed by its tick label."""
    lines = re.findall(r"<line x1='[\d.]+' y1='([\d.]+)' x2='[\d.]+' y2='[\d.]+' stroke='[^']*'/><text [^>]*>([^<]*)</text>", svg)
    return {label: float(y) for y, label in lines}


def test_negative_values_stay_inside_the_plot():
    svg = str(line_chart([("a", -100), ("b", 50), ("c", 100)], "NPS"))
    grid = _gridlines(svg)
    top, bottom = grid["100"], grid["-100"]
    (_, ya), (_, yb), (_, yc) = _points(svg)
    assert ya == bottom and yc == top
    assert grid["0"] == (top + bottom) / 2
    assert top < yb < grid["0"]


def test_ticks_cover_a_range_below_zero_with_zero_on_a_tick():
    ticks = _nice_ticks(40, low=-35)
    assert ticks[0] <= -35 and ticks[-1] >= 40 and 0 in ticks
    assert _nice_ticks(120)[0] == 0  # an all-positive chart still starts at zero
