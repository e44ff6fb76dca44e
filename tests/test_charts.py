"""Every chart helper renders well-formed SVG with a title, labels and a data
table, and escapes hostile labels instead of letting them into the markup."""

import xml.etree.ElementTree as ET

import pytest

from crmcore import charts

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert('x')</script> & \"quoted\""


def parse(markup):
    """The figure as XML: it must be well formed for ET to accept it."""
    return ET.fromstring(str(markup))


def svg_of(figure):
    svg = figure.find(f"{SVG}svg")
    assert svg is not None, "figure holds no SVG"
    return svg


def texts(svg):
    return [t.text for t in svg.iter(f"{SVG}text")]


def table_rows(figure):
    return [[td.text for td in tr.findall("td")] for tr in figure.iter("tr") if tr.findall("td")]


CASES = {
    "bar": lambda label: charts.bar_chart([(label, 3), ("b", 1500)], "Bars " + label, "x axis", "y axis"),
    "hbar": lambda label: charts.bar_chart([(label, 3), ("b", 1500)], "Bars " + label, "x axis", "y axis", horizontal=True),
    "stacked": lambda label: charts.stacked_bar_chart([(label, [1, 2]), ("b", [3, 4])], ["s1", label], "Stacked " + label, "x axis", "y axis"),
    "line": lambda label: charts.line_chart([(label, 3), ("b", 1500), ("c", 7)], "Line " + label, "x axis", "y axis"),
    "donut": lambda label: charts.donut_chart([(label, 3), ("b", 1)], "Donut " + label, "kind", "count"),
    "heat": lambda label: charts.heat_grid({(1, 1): 4, (5, 5): 9, (3, 2): 1}, "Heat " + label, "x axis", "y axis"),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_chart_is_valid_svg_with_title_and_table(kind):
    figure = parse(CASES[kind]("label"))
    assert figure.tag == "figure"
    assert figure.find("figcaption").text.endswith("label")
    svg = svg_of(figure)
    assert svg.get("role") == "img"
    assert svg.find(f"{SVG}title").text == figure.find("figcaption").text
    assert svg.get("viewBox").startswith("0 0 ")
    assert figure.find("details/table") is not None, "no accessible data table"
    assert table_rows(figure)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_hostile_labels_are_escaped(kind):
    markup = str(CASES[kind](HOSTILE))
    assert "<script>" not in markup
    figure = parse(markup)  # still well formed
    # the text survives as text, not as markup
    assert HOSTILE in "".join(figure.itertext())


def test_bar_chart_keeps_the_positional_signature_plugins_use():
    figure = parse(charts.bar_chart([("lead", 10), ("won", 30)], "Deals", "stage", "deals"))
    svg = svg_of(figure)
    bars = [r for r in svg.iter(f"{SVG}rect")]
    heights = [float(r.get("height")) for r in bars]
    assert heights[1] == pytest.approx(3 * heights[0], abs=0.2)  # bar height proportional to value
    assert {"stage", "deals", "lead", "won", "10", "30"} <= set(texts(svg))
    assert table_rows(figure) == [["lead", "10"], ["won", "30"]]
    assert [th.text for th in figure.iter("th")] == ["stage", "deals"]


def test_axis_ticks_are_round_numbers_with_compact_labels():
    svg = svg_of(parse(charts.line_chart([("2024-01", 1234.5), ("2024-02", 48_000)], "Revenue", "month", "revenue")))
    # peak 48k over four gridlines: step 12k rounds up to 20k, so the axis reads 0/20k/40k/60k
    assert {"0", "20k", "40k", "60k"} <= set(texts(svg))
    assert "max 48k" in texts(svg)


def test_numbers_are_readable():
    assert charts._fmt(1234567.891) == "1,234,568"
    assert charts._fmt(12.5) == "12.5"
    assert charts._fmt(3) == "3"
    assert charts._fmt(None) == "–"


def test_compact_numbers():
    assert [charts._short(v) for v in (0, 999, 1000, 1500, 12_400, 1_250_000, 3e9)] == ["0", "999", "1k", "1.5k", "12k", "1.2M", "3B"]


def test_stacked_bar_totals_and_legend():
    figure = parse(charts.stacked_bar_chart([("Q1", [1, 2]), ("Q2", [3, 4])], ["new", "returning"], "Customers", "quarter", "customers"))
    assert table_rows(figure) == [["Q1", "1", "2", "3"], ["Q2", "3", "4", "7"]]
    assert {"new", "returning", "3", "7"} <= set(texts(svg_of(figure)))


def test_donut_shares_add_up():
    figure = parse(charts.donut_chart([("web", 3), ("store", 1), ("none", 0)], "Channels", "channel", "orders"))
    assert table_rows(figure) == [["web", "3", "75.0%"], ["store", "1", "25.0%"]]
    assert len(list(svg_of(figure).iter(f"{SVG}path"))) == 2  # zero slices are left out


def test_donut_of_one_slice_is_a_ring():
    svg = svg_of(parse(charts.donut_chart([("only", 5)], "One")))
    assert len(list(svg.iter(f"{SVG}circle"))) == 1


def test_heat_grid_is_five_by_five_with_highest_row_on_top():
    figure = parse(charts.heat_grid([(1, 5, 2), (5, 1, 8)], "RFM", "frequency", "recency"))
    svg = svg_of(figure)
    cells = list(svg.iter(f"{SVG}rect"))
    assert len(cells) == 25
    rows = table_rows(figure)
    assert [r[0] for r in rows] == ["5", "4", "3", "2", "1"]
    assert rows[0][1] == "2" and rows[4][5] == "8"
    darkest = min(cells, key=lambda c: c.get("fill"))  # darker blue sorts lower in hex
    assert darkest.find(f"{SVG}title").text.endswith(": 8")


def test_heat_grid_refuses_cells_outside_the_grid():
    with pytest.raises(ValueError, match="outside 1..5"):
        charts.heat_grid({(6, 1): 1}, "RFM")


def test_empty_data_says_so_instead_of_drawing_nothing():
    for markup in (charts.bar_chart([], "Nothing"), charts.line_chart([], "Nothing"), charts.donut_chart([], "Nothing"),
                   charts.stacked_bar_chart([], ["a"], "Nothing")):
        figure = parse(markup)
        assert "No data yet." in "".join(figure.itertext())


def test_many_items_are_capped_and_the_table_says_so():
    figure = parse(charts.bar_chart([(f"p{i}", i) for i in range(500)], "Products", "sku", "units"))
    assert len(list(svg_of(figure).iter(f"{SVG}rect"))) == charts.MAX_ITEMS
    assert len(table_rows(figure)) == charts.MAX_ITEMS
    assert "440 more were left out" in "".join(figure.itertext())


def test_template_globals_expose_every_helper():
    assert set(charts.TEMPLATE_GLOBALS) == {"bar_chart", "stacked_bar_chart", "line_chart", "score_chart", "donut_chart", "heat_grid"}


def test_missing_and_non_finite_values_plot_as_zero():
    nan, inf = float("nan"), float("inf")
    for markup in (charts.bar_chart([("a", None), ("b", nan), ("c", 2)], "Gaps"),
                   charts.line_chart([("a", inf), ("b", 2)], "Gaps"),
                   charts.stacked_bar_chart([("a", [None, nan]), ("b", [1, 2])], ["x", "y"], "Gaps"),
                   charts.heat_grid({(1, 1): nan, (2, 2): 3}, "Gaps")):
        figure = parse(markup)
        assert "nan" not in str(markup).lower() and "inf" not in "".join(figure.itertext()).lower()


def test_colour_argument_cannot_break_out_of_its_attribute():
    figure = parse(charts.bar_chart([("a", 1)], "Colour", color="red' onload='alert(1)"))
    rect = next(svg_of(figure).iter(f"{SVG}rect"))
    assert rect.get("fill") == "red' onload='alert(1)" and rect.get("onload") is None


def _bars(figure):
    return [g for g in svg_of(figure).iter(f"{SVG}g") if "bar" in (g.get("class") or "").split()]


def _class_texts(element, cls):
    return [t.text for t in element.iter(f"{SVG}text") if t.get("class") == cls]


def test_every_bar_carries_its_label_and_value_even_when_crowded():
    months = [(f"Month {i:02d}", i * 10) for i in range(1, 41)]  # 40 bars 14 px apart: labels turn, values do not fit
    figure = parse(charts.bar_chart(months, "Per month", "month", "orders", width=640))
    bars = _bars(figure)
    assert len(bars) == 40
    assert [_class_texts(g, "bar-label") for g in bars] == [[label] for label, _ in months]
    assert all("rotate(" in next(t for t in g.iter(f"{SVG}text") if t.get("class") == "bar-label").get("transform") for g in bars)
    assert _class_texts(svg_of(figure), "values-note") == [charts.VALUES_NOTE]
    few = parse(charts.bar_chart([("a", 1), ("b", 2500)], "Few"))
    assert [_class_texts(g, "bar-value") for g in _bars(few)] == [["1"], ["2.5k"]]


def test_too_many_bars_for_upright_or_slanted_labels_are_drawn_across():
    figure = parse(charts.bar_chart([(f"p{i}", i) for i in range(55)], "Products", "sku", "units"))
    bars = _bars(figure)
    assert len(bars) == 55 and all(_class_texts(g, "bar-label") and _class_texts(g, "bar-value") for g in bars)
    assert all(float(r.get("x")) == 170 for r in svg_of(figure).iter(f"{SVG}rect"))  # horizontal bars start at the label column


def test_a_partial_month_is_drawn_pale_and_marked():
    data = [("Oct 2026", 40), ("Nov 2026", 42), ("Dec 2026", 3)]
    figure = parse(charts.bar_chart(data, "Orders per month", "month", "orders", partial="Dec 2026"))
    partial = [g for g in _bars(figure) if "partial" in g.get("class")]
    assert len(partial) == 1 and _class_texts(partial[0], "bar-label") == ["Dec 2026"]
    assert _class_texts(partial[0], "partial-label") == ["partial"]
    assert float(partial[0].find(f"{SVG}rect").get("fill-opacity")) < 1
    assert table_rows(figure)[-1] == ["Dec 2026 (partial)", "3"]
    line = parse(charts.line_chart(data, "Revenue", "month", "revenue", partial="Dec 2026"))
    dashed = [p for p in svg_of(line).iter(f"{SVG}polyline") if p.get("class") == "partial"]
    assert len(dashed) == 1 and len(dashed[0].get("points").split()) == 2  # from Nov to Dec only
    assert "partial" in _class_texts(svg_of(line), "partial-label")
    stacked = parse(charts.stacked_bar_chart([("Nov", [1, 2]), ("Dec", [1, 0])], ["a", "b"], "Stacked", partial="Dec"))
    assert [g.get("class") for g in _bars(stacked)] == ["bar", "bar partial"]


def test_score_chart_draws_margins_and_leaves_out_thin_periods():
    points = [("Jan", 40.0, 12.5, 50), ("Feb", 90.0, 60.0, 4), ("Mar", -10.0, 20.0, 35)]
    figure = parse(charts.score_chart(points, "NPS per month", "month", "NPS", min_answers=30, partial="Mar"))
    svg = svg_of(figure)
    scores = [g for g in svg.iter(f"{SVG}g") if (g.get("class") or "").startswith("score")]
    assert [g.get("class") for g in scores] == ["score", "score partial"]  # February (4 answers) is not drawn
    margins = [g.find(f"{SVG}line") for g in scores]
    grid = {t.text: float(t.get("y")) - 4 for t in svg.iter(f"{SVG}text") if t.get("text-anchor") == "end" and t.get("x") == "56.0"}
    # January's bar runs from 27.5 to 52.5 on the value axis
    per_unit = (grid["0"] - grid["25"]) / 25
    assert float(margins[0].get("y2")) - float(margins[0].get("y1")) == pytest.approx(25 * per_unit, abs=0.2)
    assert "n=4" in _class_texts(svg, "hidden-period")
    assert table_rows(figure) == [["Jan", "40", "± 12.5", "50"], ["Feb", "not drawn", "–", "4"], ["Mar (partial)", "-10", "± 20", "35"]]
    none = parse(charts.score_chart([("Jan", 10, 5, 3)], "NPS", min_answers=30))
    assert "No period has 30 answers or more yet" in "".join(none.itertext())
