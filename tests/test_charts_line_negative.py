"""line_chart keeps values below zero (e.g. NPS) inside the plot."""

import re

from crmcore.charts import line_chart


def test_negative_values_stay_inside_the_plot():
    svg = str(line_chart([("a", -100), ("b", 50), ("c", 100)], "NPS"))
    points = [tuple(map(float, p.split(","))) for p in re.search(r"points='([^']*)'", svg).group(1).split()]
    top, bottom = 16, 260 - 46  # plot area of the default size
    assert all(top <= y <= bottom for _, y in points)
    assert points[0][1] == bottom and points[2][1] == top
    # the zero line sits halfway: 100 of the 200 points between 100 and -100
    zero = float(re.search(r"<line x1='56' y1='([\d.]+)'", svg).group(1))
    assert zero == top + (bottom - top) * 100 / 200
