"""Small inline-SVG charts for reports, callable from any template.

Each helper returns a ``<figure>`` holding the SVG (a ``<title>``, axis labels,
gridlines and value labels) followed by a data table, the accessible
alternative that also prints the exact numbers. Every label is escaped here
because the result is marked safe for Jinja2. Colours are attributes, not
CSS, so a chart copied out of a report still looks right.

Why not a library: pygal, the maintained pure-Python SVG one, links its
tooltips script from the web by default, has no heat grid and no data-table
alternative, and would still need wrapping for escaping and sizing; the
matplotlib family is heavy and draws text as paths. These few functions do
exactly what reports need and are tested by parsing their output.
"""

import math
from html import escape

from markupsafe import Markup

PALETTE = ("#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#ea580c", "#475569")
INK, MUTED, GRID = "#1f2937", "#6b7280", "#e5e7eb"
#: Charts show at most this many items; the data table says what was left out.
MAX_ITEMS = 60


def _fmt(value):
    """Full number for labels and tables: 1,234 / 12.5 / –."""
    if value is None:
        return "–"
    if isinstance(value, float) and (abs(value) >= 1000 or value.is_integer()):
        return f"{value:,.0f}"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:,}" if isinstance(value, int) else str(value)


def _short(value):
    """Compact number for axes and crowded labels: 950 / 12k / 1.2M."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            scaled = value / limit
            return f"{scaled:.1f}".rstrip("0").rstrip(".") + suffix if abs(scaled) < 10 else f"{scaled:.0f}{suffix}"
    return _fmt(round(value, 2) if isinstance(value, float) else value)


def _nice_ticks(peak, count=4, low=0):
    """Round gridline values (1, 2, 2.5 or 5 times a power of ten) from ``low`` (zero or below) to ``peak``."""
    low = min(low, 0)
    if peak <= 0 and low == 0:
        return [0, 1]
    raw = (max(peak, 0) - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    bottom = step * math.floor(low / step + 1e-9)
    top = step * math.ceil(max(peak, 0) / step - 1e-9)
    ticks, v = [], bottom
    while v <= top + step / 2:
        ticks.append(round(v, 12) + 0.0)
        v += step
    return ticks


def _scale_y(value, top, plot_h, ticks):
    """The y coordinate of ``value`` on a value axis spanning ``ticks`` (values outside are clamped)."""
    low, high = ticks[0], ticks[-1]
    value = min(max(value, low), high)
    return top + plot_h - plot_h * (value - low) / (high - low)


def _e(text):
    return escape(str(text), quote=True)


def _clip(text, n):
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def _table(title, headers, rows, note=""):
    head = "".join(f"<th scope='col'>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(c)}</td>" if isinstance(c, str) else f"<td class='num'>{_e(_fmt(c))}</td>" for c in row) + "</tr>"
        for row in rows
    )
    note = f"<p class='muted'>{_e(note)}</p>" if note else ""
    return (f"<details class='chart-data'><summary>Data table: {_e(title)}</summary>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}</details>")


def _svg(title, width, height, body):
    return (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='{width}' height='{height}' "
            f"role='img' font-family='system-ui, sans-serif' font-size='11' style='--w:{width}px'><title>{_e(title)}</title>{body}</svg>")


def _figure(title, svg, table, empty=False):
    if empty:
        return Markup(f"<figure class='chart'><figcaption>{_e(title)}</figcaption><p class='muted'>No data yet.</p></figure>")
    return Markup(f"<figure class='chart'><figcaption>{_e(title)}</figcaption>{svg}{table}</figure>")


def _num(value):
    """A plottable number: ``None``, NaN and infinities count as 0."""
    value = float(value or 0)
    return value if math.isfinite(value) else 0.0


def _pairs(data):
    pairs = [(str(label), _num(value)) for label, value in data]
    return pairs[:MAX_ITEMS], max(0, len(pairs) - MAX_ITEMS)


def _left_note(dropped):
    return f"Only the first {MAX_ITEMS} items are charted; {dropped:,} more were left out." if dropped else ""


def _text(x, y, text, anchor="middle", fill=INK, size=None, extra=""):
    size = f" font-size='{size}'" if size else ""
    return f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='{anchor}' fill='{fill}'{size}{extra}>{_e(text)}</text>"


def _value_axis(left, top, plot_w, plot_h, ticks, y_label):
    """Horizontal gridlines with compact tick labels and the rotated y-axis label."""
    parts = []
    for t in ticks:
        y = _scale_y(t, top, plot_h, ticks)
        parts.append(f"<line x1='{left}' y1='{y:.1f}' x2='{left + plot_w}' y2='{y:.1f}' stroke='{GRID if t else '#9ca3af'}'/>")
        parts.append(_text(left - 6, y + 4, _short(t), "end", MUTED))
    if y_label:
        mid = top + plot_h / 2
        parts.append(_text(14, mid, y_label, fill=MUTED, extra=f" transform='rotate(-90 14 {mid:.1f})'"))
    return parts


def _every(labels, step, longest=14):
    """Label every n-th category so that labels of ~6.5px per character never overlap."""
    chars = min(max((len(label) for label in labels), default=1), longest)
    return max(1, math.ceil((chars * 6.5 + 6) / step))


def _category_ticks(labels, left, step, y):
    every = _every(labels, step)
    return [_text(left + i * step + step / 2, y, _clip(label, 14), fill=MUTED)
            for i, label in enumerate(labels) if i % every == 0]


def _partial_set(partial):
    """The labels drawn as partial: ``None``, one label, or several."""
    if partial is None:
        return frozenset()
    if isinstance(partial, str):
        return frozenset([partial])
    return frozenset(str(p) for p in partial)


def _marked(rows, partial):
    """Data-table rows with ``(partial)`` after a partial item's label."""
    return [(f"{row[0]} (partial)" if row[0] in partial else row[0], *row[1:]) for row in rows]


def _bar_label_layout(labels, step):
    """How category labels of bars ``step`` px apart all fit: ``(angle, room)``, where ``room`` is
    the height they need below the axis; ``None`` when even upright text would not fit."""
    chars = max((len(_clip(label, 14)) for label in labels), default=1)
    if chars * 6.5 + 6 <= step:
        return 0, 22
    if step >= 16:  # at 45 degrees, neighbours 16 px apart clear an 11 px line
        return -45, 14 + chars * 6.5 * 0.71
    if step >= 13:
        return -90, 12 + chars * 6.5
    return None


def _bar_label(cx, y, label, angle):
    text = _clip(label, 14)
    if not angle:
        return _text(cx, y, text, fill=MUTED, extra=" class='bar-label'")
    x, y = cx + 4, y - 6
    return _text(x, y, text, "end", MUTED, extra=f" class='bar-label' transform='rotate({angle} {x:.1f} {y:.1f})'")


def _values_fit(values, step):
    """Value labels (10 px text, ~6 px a character) fit above every bar."""
    return all(len(_short(v)) * 6 + 2 <= step for v in values)


VALUES_NOTE = "Values: in the data table below"


def bar_chart(data, title, x_label="", y_label="", width=640, height=280, horizontal=False, color=PALETTE[0], partial=None):
    """Bars for ``[(label, value), ...]``; ``horizontal=True`` suits long labels (products, segments).

    Every bar carries its label, upright or slanted as room allows (too many for that: the bars
    are drawn across instead), and its value, or the chart says the values are in its table.
    ``partial`` names the item(s) still running (the current month of a period): drawn pale with a
    dashed outline and marked "partial"."""
    pairs, dropped = _pairs(data)
    partial = _partial_set(partial)
    table = _table(title, [x_label or "label", y_label or "value"], _marked(pairs, partial), _left_note(dropped))
    if not pairs:
        return _figure(title, "", "", empty=True)
    left, right, top = 62, 12, 30 if partial else 18
    plot_w = width - left - right
    step = plot_w / len(pairs)
    layout = _bar_label_layout([p[0] for p in pairs], step)
    if horizontal or layout is None:
        return _figure(title, _hbars(pairs, title, x_label, y_label, width, color, partial), table)
    angle, room = layout
    bottom = room + (26 if x_label else 6)
    plot_h = height - 48 - top
    height = round(top + plot_h + bottom)
    ticks = _nice_ticks(max(v for _, v in pairs))
    show_values = _values_fit([v for _, v in pairs], step)
    parts = _value_axis(left, top, plot_w, plot_h, ticks, y_label)
    for i, (label, value) in enumerate(pairs):
        h = plot_h * max(value, 0) / ticks[-1]
        x = left + i * step + step * 0.15
        is_partial = label in partial
        style = f" fill-opacity='0.4' stroke='{_e(color)}' stroke-dasharray='3 2'" if is_partial else ""
        group = ["<g class='bar partial'>" if is_partial else "<g class='bar'>",
                 (f"<rect x='{x:.1f}' y='{top + plot_h - h:.1f}' width='{step * 0.7:.1f}' height='{h:.1f}' rx='2' fill='{_e(color)}'{style}>"
                  f"<title>{_e(label)}{' (partial)' if is_partial else ''}: {_e(_fmt(value))}</title></rect>")]
        above = top + plot_h - h - 4
        if show_values:
            group.append(_text(x + step * 0.35, above, _short(value), size=10, extra=" class='bar-value'"))
            above -= 12
        if is_partial:
            group.append(_text(x + step * 0.35, above, "partial", fill=MUTED, size=9, extra=" class='partial-label' font-style='italic'"))
        group.append(_bar_label(x + step * 0.35, top + plot_h + 15, label, angle))
        parts.append("".join(group) + "</g>")
    if not show_values:
        parts.append(_text(left + plot_w, top - 6 if top > 20 else 11, VALUES_NOTE, "end", MUTED, size=10, extra=" class='values-note'"))
    if x_label:
        parts.append(_text(left + plot_w / 2, height - 8, x_label, fill=MUTED))
    return _figure(title, _svg(title, width, height, "".join(parts)), table)


def _hbars(pairs, title, x_label, y_label, width, color, partial=frozenset()):
    row, top, bottom, left, right = 24, 8, 30, 170, 60
    height = top + bottom + row * len(pairs)
    plot_w = width - left - right
    peak = max([v for _, v in pairs] + [0]) or 1
    parts = []
    for i, (label, value) in enumerate(pairs):
        y = top + i * row
        w = plot_w * max(value, 0) / peak
        is_partial = label in partial
        style = f" fill-opacity='0.4' stroke='{_e(color)}' stroke-dasharray='3 2'" if is_partial else ""
        parts.append("<g class='bar partial'>" if is_partial else "<g class='bar'>")
        parts.append(_text(left - 8, y + row * 0.65, _clip(label, 26), "end", extra=" class='bar-label'"))
        parts.append(f"<rect x='{left}' y='{y + 4}' width='{w:.1f}' height='{row - 8}' rx='2' fill='{_e(color)}'{style}>"
                     f"<title>{_e(label)}{' (partial)' if is_partial else ''}: {_e(_fmt(value))}</title></rect>")
        parts.append(_text(left + w + 6, y + row * 0.65, _short(value) + (" (partial)" if is_partial else ""), "start", size=10,
                           extra=" class='bar-value'"))
        parts.append("</g>")
    parts.append(f"<line x1='{left}' y1='{top}' x2='{left}' y2='{height - bottom}' stroke='#9ca3af'/>")
    if x_label or y_label:
        parts.append(_text(left + plot_w / 2, height - 8, f"{y_label or x_label}", fill=MUTED))
    return _svg(title, width, height, "".join(parts))


def _legend(names, x, y, width):
    parts, cx, cy = [], x, y
    for i, name in enumerate(names):
        label = _clip(name, 24)
        w = 22 + 6.5 * len(label)
        if cx + w > x + width and cx > x:
            cx, cy = x, cy + 16
        parts.append(f"<rect x='{cx:.1f}' y='{cy - 9:.1f}' width='10' height='10' rx='2' fill='{PALETTE[i % len(PALETTE)]}'/>")
        parts.append(_text(cx + 14, cy, label, "start"))
        cx += w
    return parts, cy


def stacked_bar_chart(rows, series, title, x_label="", y_label="", width=640, height=300, partial=None):
    """Stacked bars: ``rows`` is ``[(label, [value per series]), ...]``, ``series`` the names.

    Every bar carries its label and its total (or the chart says the values are in its table);
    ``partial`` names the item(s) still running, drawn pale and marked "partial"."""
    series = [str(s) for s in series]
    rows = [(str(label), [_num(v) for v in values]) for label, values in rows]
    dropped = max(0, len(rows) - MAX_ITEMS)
    rows = rows[:MAX_ITEMS]
    partial = _partial_set(partial)
    table = _table(title, [x_label or "label", *series, "total"],
                   _marked([(label, *values, sum(values)) for label, values in rows], partial), _left_note(dropped))
    if not rows:
        return _figure(title, "", "", empty=True)
    legend, legend_bottom = _legend(series, 62, 14, width - 74)
    left, right, top = 62, 12, legend_bottom + (26 if partial else 14)
    plot_w = width - left - right
    step = plot_w / len(rows)
    angle, room = _bar_label_layout([r[0] for r in rows], step) or (-90, 12 + 14 * 6.5)
    plot_h = height - 48 - top
    height = round(top + plot_h + room + (26 if x_label else 6))
    ticks = _nice_ticks(max(sum(max(v, 0) for v in values) for _, values in rows))
    show_values = _values_fit([sum(values) for _, values in rows], step)
    parts = legend + _value_axis(left, top, plot_w, plot_h, ticks, y_label)
    for i, (label, values) in enumerate(rows):
        x, base = left + i * step + step * 0.15, top + plot_h
        is_partial = label in partial
        parts.append("<g class='bar partial'>" if is_partial else "<g class='bar'>")
        for j, value in enumerate(values):
            h = plot_h * max(value, 0) / ticks[-1]
            base -= h
            style = " fill-opacity='0.4' stroke-dasharray='3 2' stroke='#6b7280'" if is_partial else ""
            parts.append(f"<rect x='{x:.1f}' y='{base:.1f}' width='{step * 0.7:.1f}' height='{h:.1f}' fill='{PALETTE[j % len(PALETTE)]}'{style}>"
                         f"<title>{_e(label)} · {_e(series[j] if j < len(series) else j)}: {_e(_fmt(value))}</title></rect>")
        above = base - 4
        if show_values:
            parts.append(_text(x + step * 0.35, above, _short(sum(values)), size=10, extra=" class='bar-value'"))
            above -= 12
        if is_partial:
            parts.append(_text(x + step * 0.35, above, "partial", fill=MUTED, size=9, extra=" class='partial-label' font-style='italic'"))
        parts.append(_bar_label(x + step * 0.35, top + plot_h + 15, label, angle))
        parts.append("</g>")
    if not show_values:
        parts.append(_text(left + plot_w, top - 4, VALUES_NOTE, "end", MUTED, size=10, extra=" class='values-note'"))
    if x_label:
        parts.append(_text(left + plot_w / 2, height - 8, x_label, fill=MUTED))
    return _figure(title, _svg(title, width, height, "".join(parts)), table)


def line_chart(data, title, x_label="", y_label="", width=640, height=280, color=PALETTE[0], partial=None):
    """One line over ``[(label, value), ...]`` in order (a time series), with the area shaded.

    ``partial`` names the point(s) still running (the current month of a period): the line to
    them is dashed, the point hollow and marked "partial", so a month that has only begun does
    not read as a fall."""
    pairs = [(str(label), _num(value)) for label, value in data]
    partial = _partial_set(partial)
    kept = pairs[-MAX_ITEMS * 4:]
    note = f"Only the last {len(kept):,} of {len(pairs):,} points are listed." if len(kept) < len(pairs) else ""
    table = _table(title, [x_label or "label", y_label or "value"], _marked(kept, partial), note)
    if not pairs:
        return _figure(title, "", "", empty=True)
    left, right, bottom, top = 62, 16, 48, 18
    plot_w, plot_h = width - left - right, height - bottom - top
    values = [v for _, v in pairs]
    ticks = _nice_ticks(max(values), low=min(values))  # NPS and margins go below zero
    step = plot_w / max(len(pairs) - 1, 1)
    xy = [(left + i * step, _scale_y(v, top, plot_h, ticks)) for i, v in enumerate(values)]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    zero = _scale_y(0, top, plot_h, ticks)
    parts = _value_axis(left, top, plot_w, plot_h, ticks, y_label)
    parts.append(f"<polygon points='{left:.1f},{zero:.1f} {points} {xy[-1][0]:.1f},{zero:.1f}' fill='{_e(color)}' fill-opacity='0.12'/>")
    # the line up to the first partial point is solid; from there on it is dashed
    cut = next((i for i, (label, _) in enumerate(pairs) if label in partial), len(pairs))
    if cut:
        solid = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy[:cut])
        parts.append(f"<polyline points='{solid}' fill='none' stroke='{_e(color)}' stroke-width='2.2' stroke-linejoin='round'/>")
    if cut < len(pairs):
        dashed = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy[max(cut - 1, 0):])
        parts.append(f"<polyline class='partial' points='{dashed}' fill='none' stroke='{_e(color)}' stroke-width='2' stroke-dasharray='5 4'/>")
    r = 3 if len(pairs) <= 40 else 1.5
    for (x, y), (label, value) in zip(xy, pairs):
        if label in partial:
            parts.append(f"<g class='partial'><circle cx='{x:.1f}' cy='{y:.1f}' r='{r + 1}' fill='#fff' stroke='{_e(color)}' stroke-width='1.5'>"
                         f"<title>{_e(label)} (partial): {_e(_fmt(value))}</title></circle>"
                         + _text(x, y - 8, "partial", "end" if x > left + plot_w - 30 else "middle", MUTED, 9, " class='partial-label' font-style='italic'") + "</g>")
        else:
            parts.append(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='{r}' fill='{_e(color)}'><title>{_e(label)}: {_e(_fmt(value))}</title></circle>")
    every, drawn_to = _every([p[0] for p in pairs], step), -1e9
    for i, (label, _) in enumerate(pairs):
        if i % every == 0:
            text = _clip(label, 14)
            half, x = len(text) * 3.25, left + i * step
            anchor, start = ("end", x - 2 * half) if x + half > width - 2 else ("middle", x - half)
            if start < drawn_to + 4:  # moved to fit at the right edge, it would touch the label before
                continue
            parts.append(_text(x, top + plot_h + 15, text, anchor, MUTED))
            drawn_to = x if anchor == "end" else x + half
    peak_i = max(range(len(pairs)), key=lambda i: pairs[i][1])
    anchor = "end" if xy[peak_i][0] > left + plot_w - 40 else "start" if xy[peak_i][0] < left + 40 else "middle"
    parts.append(_text(xy[peak_i][0], xy[peak_i][1] - 7, f"max {_short(pairs[peak_i][1])}", anchor, size=10))
    if x_label:
        parts.append(_text(left + plot_w / 2, height - 8, x_label, fill=MUTED))
    return _figure(title, _svg(title, width, height, "".join(parts)), table)


def score_chart(points, title, x_label="", y_label="", min_answers=30, partial=None, width=640, height=280, color=PALETTE[0]):
    """A score per period with its margin of error: ``points`` is ``[(label, score, margin, answers), ...]``
    in order (NPS per month). Each score is a dot with a bar from ``score - margin`` to
    ``score + margin`` (the 95% interval); a period with fewer than ``min_answers`` answers is
    not drawn (its margin is too wide to read anything into) and the chart says so. ``partial``
    names the period(s) still running, drawn hollow and marked "partial"."""
    partial = _partial_set(partial)
    rows = [(str(label), None if score is None else _num(score), None if margin is None else _num(margin), int(n or 0))
            for label, score, margin, n in points][-MAX_ITEMS:]
    shown = [(i, r) for i, r in enumerate(rows) if r[1] is not None and r[3] >= min_answers]
    table_rows = [(f"{label} (partial)" if label in partial else label,
                   _fmt(round(score, 1)) if score is not None and n >= min_answers else "not drawn",
                   "–" if margin is None or n < min_answers else f"± {_fmt(round(margin, 1))}", n)
                  for label, score, margin, n in rows]
    hidden = len(rows) - len(shown)
    note = f"Periods with fewer than {min_answers} answers are not drawn." if hidden else ""
    table = _table(title, [x_label or "period", y_label or "score", "margin (95%)", "answers"], table_rows, note)
    if not shown:
        return Markup(f"<figure class='chart'><figcaption>{_e(title)}</figcaption><p class='muted'>No period has "
                      f"{min_answers} answers or more yet, so none is drawn.</p>{table}</figure>")
    left, right, bottom, top = 62, 16, 48, 30
    plot_w, plot_h = width - left - right, height - bottom - top
    lows = [r[1] - (r[2] or 0) for _, r in shown]
    highs = [r[1] + (r[2] or 0) for _, r in shown]
    ticks = _nice_ticks(max(highs), low=min(lows))
    step = plot_w / max(len(rows), 1)
    parts = _value_axis(left, top, plot_w, plot_h, ticks, y_label)
    xs = [left + i * step + step / 2 for i in range(len(rows))]
    previous = None
    for i, (label, score, margin, n) in shown:
        y = _scale_y(score, top, plot_h, ticks)
        if previous is not None and previous[0] == i - 1:  # a line only between neighbouring periods
            dash = " stroke-dasharray='5 4'" if label in partial else ""
            parts.append(f"<line x1='{xs[i - 1]:.1f}' y1='{previous[1]:.1f}' x2='{xs[i]:.1f}' y2='{y:.1f}' stroke='{_e(color)}' stroke-width='1.6'{dash}/>")
        previous = (i, y)
    for i, (label, score, margin, n) in shown:
        x, y = xs[i], _scale_y(score, top, plot_h, ticks)
        is_partial = label in partial
        group = ["<g class='score partial'>" if is_partial else "<g class='score'>"]
        if margin:
            y1, y2 = _scale_y(score + margin, top, plot_h, ticks), _scale_y(score - margin, top, plot_h, ticks)
            group.append(f"<line class='margin' x1='{x:.1f}' y1='{y1:.1f}' x2='{x:.1f}' y2='{y2:.1f}' stroke='{_e(color)}' stroke-opacity='0.45' stroke-width='6' stroke-linecap='round'/>")
        fill = "#fff" if is_partial else _e(color)
        group.append(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3.5' fill='{fill}' stroke='{_e(color)}' stroke-width='1.5'>"
                     f"<title>{_e(label)}{' (partial)' if is_partial else ''}: {_e(_fmt(round(score, 1)))}"
                     f"{' ± ' + _e(_fmt(round(margin, 1))) if margin else ''} ({n:,} answers)</title></circle>")
        if is_partial:
            group.append(_text(x, top - 8, "partial", "end" if x > left + plot_w - 30 else "middle", MUTED, 9, " class='partial-label' font-style='italic'"))
        parts.append("".join(group) + "</g>")
    for i, (label, score, margin, n) in enumerate(rows):
        if score is None or n < min_answers:
            parts.append(_text(xs[i], top + plot_h - 4, f"n={n}", fill=MUTED, size=9, extra=" class='hidden-period'"))
    angle, room = _bar_label_layout([r[0] for r in rows], step) or (-90, 12 + 14 * 6.5)
    for i, (label, *_rest) in enumerate(rows):
        parts.append(_bar_label(xs[i], top + plot_h + 15, label, angle))
    height = round(top + plot_h + room + (26 if x_label else 6))
    legend = "bars: 95% margin of error" + (f"; periods under {min_answers} answers not drawn (n = their answers)" if hidden else "")
    parts.append(_text(left, 12, legend, "start", MUTED, 10, " class='chart-note'"))
    if x_label:
        parts.append(_text(left + plot_w / 2, height - 8, x_label, fill=MUTED))
    return _figure(title, _svg(title, width, height, "".join(parts)), table)


def donut_chart(data, title, label="", value_label="value", width=420, height=240):
    """Shares of a whole for ``[(label, value), ...]`` with a legend of values and percentages."""
    pairs, dropped = _pairs(data)
    pairs = [(name, v) for name, v in pairs if v > 0]
    total = sum(v for _, v in pairs)
    table = _table(title, [label or "label", value_label, "share"],
                   [(name, v, f"{100 * v / total:.1f}%") for name, v in pairs] if total else [], _left_note(dropped))
    if not total:
        return _figure(title, "", "", empty=True)
    if len(pairs) > 9:  # a donut of many thin slices reads badly: keep eight and fold the rest
        pairs = sorted(pairs, key=lambda p: -p[1])
        pairs = pairs[:8] + [("Other", sum(v for _, v in pairs[8:]))]
    cx, cy, r, inner = 110, height / 2, 90, 54
    parts, angle = [], -math.pi / 2
    for i, (name, value) in enumerate(pairs):
        sweep = 2 * math.pi * value / total
        color = PALETTE[i % len(PALETTE)]
        tip = f"<title>{_e(name)}: {_e(_fmt(value))} ({100 * value / total:.1f}%)</title>"
        if sweep >= 2 * math.pi - 1e-9:
            parts.append(f"<circle cx='{cx}' cy='{cy}' r='{(r + inner) / 2}' fill='none' stroke='{color}' stroke-width='{r - inner}'>{tip}</circle>")
        else:
            end = angle + sweep
            large = 1 if sweep > math.pi else 0
            x1, y1, x2, y2 = cx + r * math.cos(angle), cy + r * math.sin(angle), cx + r * math.cos(end), cy + r * math.sin(end)
            x3, y3, x4, y4 = cx + inner * math.cos(end), cy + inner * math.sin(end), cx + inner * math.cos(angle), cy + inner * math.sin(angle)
            parts.append(f"<path d='M{x1:.2f},{y1:.2f} A{r},{r} 0 {large} 1 {x2:.2f},{y2:.2f} L{x3:.2f},{y3:.2f} "
                         f"A{inner},{inner} 0 {large} 0 {x4:.2f},{y4:.2f} Z' fill='{color}' stroke='#fff' stroke-width='1'>{tip}</path>")
        angle += sweep
        y = 24 + i * 22
        parts.append(f"<rect x='230' y='{y - 10}' width='11' height='11' rx='2' fill='{color}'/>")
        parts.append(_text(247, y, _clip(name, 16), "start"))
        parts.append(_text(width - 8, y, f"{_short(value)} · {100 * value / total:.0f}%", "end", MUTED))
    parts.append(_text(cx, cy + 2, _short(total), size=18, extra=" font-weight='600'"))
    parts.append(_text(cx, cy + 18, "total", fill=MUTED, size=10))
    return _figure(title, _svg(title, width, height, "".join(parts)), table)


def _heat_color(share):
    """White to the accent blue; ``share`` in 0..1."""
    lo, hi = (239, 246, 255), (29, 78, 216)
    return "#" + "".join(f"{round(a + (b - a) * share):02x}" for a, b in zip(lo, hi))


def heat_grid(cells, title, x_label="", y_label="", size=5, width=360):
    """A ``size`` x ``size`` heat grid (RFM-style scores 1..size), highest y at the top.

    ``cells`` is ``{(x, y): value}`` or an iterable of ``(x, y, value)``;
    missing cells count as zero."""
    items = cells.items() if hasattr(cells, "items") else (((x, y), v) for x, y, v in cells)
    grid = {}
    for (x, y), v in items:
        x, y = int(x), int(y)
        if not (1 <= x <= size and 1 <= y <= size):
            raise ValueError(f"heat_grid cell ({x}, {y}) is outside 1..{size}")
        grid[(x, y)] = grid.get((x, y), 0) + _num(v)
    peak = max(grid.values(), default=0)
    table = _table(title, [f"{y_label or 'y'} \\ {x_label or 'x'}", *map(str, range(1, size + 1))],
                   [(str(y), *(grid.get((x, y), 0.0) for x in range(1, size + 1))) for y in range(size, 0, -1)])
    left, top, bottom = 48, 10, 42
    cell = (width - left - 10) / size
    height = top + bottom + cell * size
    parts = []
    for y in range(size, 0, -1):
        for x in range(1, size + 1):
            v = grid.get((x, y), 0.0)
            share = v / peak if peak else 0
            px, py = left + (x - 1) * cell, top + (size - y) * cell
            parts.append(f"<rect x='{px:.1f}' y='{py:.1f}' width='{cell - 2:.1f}' height='{cell - 2:.1f}' rx='3' fill='{_heat_color(share)}'>"
                         f"<title>{_e(x_label or 'x')} {x}, {_e(y_label or 'y')} {y}: {_e(_fmt(v))}</title></rect>")
            parts.append(_text(px + cell / 2 - 1, py + cell / 2 + 4, _short(v), fill="#fff" if share > 0.55 else INK))
        parts.append(_text(left - 8, top + (size - y) * cell + cell / 2 + 4, str(y), "end", MUTED))
    for x in range(1, size + 1):
        parts.append(_text(left + (x - 0.5) * cell, top + size * cell + 14, str(x), fill=MUTED))
    if x_label:
        parts.append(_text(left + size * cell / 2, height - 6, x_label, fill=MUTED))
    if y_label:
        mid = top + size * cell / 2
        parts.append(_text(14, mid, y_label, fill=MUTED, extra=f" transform='rotate(-90 14 {mid:.1f})'"))
    return _figure(title, _svg(title, width, round(height), "".join(parts)), table)


TEMPLATE_GLOBALS = {
    "bar_chart": bar_chart,
    "stacked_bar_chart": stacked_bar_chart,
    "line_chart": line_chart,
    "score_chart": score_chart,
    "donut_chart": donut_chart,
    "heat_grid": heat_grid,
}
