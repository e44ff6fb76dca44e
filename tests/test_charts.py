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
