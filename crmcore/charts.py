"""Small inline-SVG charts for reports, callable from any template.

Each helper returns a ``<figure>`` holding the SVG (with a title, axis labels
and value labels) and a data table as the accessible alternative. Labels are
escaped here because the result is marked safe for Jinja2. No library fits
offline, dependency-free SVG better than these few lines.
"""

from html import escape

from markupsafe import Markup

PALETTE = ("#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#ea580c", "#475569")


def _fmt(value):
    if value is None:
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"


def _table(title, headers, rows):
    head = "".join(f"<th scope='col'>{escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(c if isinstance(c, str) else _fmt(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<details class='chart-data'><summary>Data: {escape(title)}</summary><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></details>"


def _figure(title, svg, table):
    return Markup(f"<figure class='chart'><figcaption>{escape(title)}</figcaption>{svg}{table}</figure>")


def _pairs(data):
    return [(str(label), float(value or 0)) for label, value in data]


def bar_chart(data, title, x_label="", y_label="", width=640, height=260):
    """Vertical bars for ``[(label, value), ...]``."""
    pairs = _pairs(data)
    left, bottom, top = 56, 46, 16
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max([v for _, v in pairs] + [0]) or 1
    step = plot_w / max(len(pairs), 1)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title)}'>"]
    parts.append(f"<line x1='{left}' y1='{top + plot_h}' x2='{left + plot_w}' y2='{top + plot_h}' class='axis'/>")
    for i, (label, value) in enumerate(pairs):
        h = plot_h * value / peak
        x = left + i * step + step * 0.12
        parts.append(
            f"<rect x='{x:.1f}' y='{top + plot_h - h:.1f}' width='{step * 0.76:.1f}' height='{h:.1f}' fill='{PALETTE[0]}'>"
            f"<title>{escape(label)}: {_fmt(value)}</title></rect>"
        )
        if len(pairs) <= 16:
            parts.append(f"<text x='{x + step * 0.38:.1f}' y='{top + plot_h - h - 3:.1f}' class='value'>{_fmt(value)}</text>")
        if len(pairs) <= 16 or i % max(1, len(pairs) // 12) == 0:
            parts.append(f"<text x='{x + step * 0.38:.1f}' y='{top + plot_h + 14}' class='tick'>{escape(label[:14])}</text>")
    parts.append(f"<text x='{left + plot_w / 2}' y='{height - 6}' class='axis-label'>{escape(x_label)}</text>")
    parts.append(f"<text x='12' y='{top + plot_h / 2}' class='axis-label' transform='rotate(-90 12 {top + plot_h / 2})'>{escape(y_label)}</text>")
    parts.append(f"<text x='{left - 4}' y='{top + 4}' class='tick end'>{_fmt(peak)}</text></svg>")
    return _figure(title, "".join(parts), _table(title, [x_label or "label", y_label or "value"], pairs))


def line_chart(data, title, x_label="", y_label="", width=640, height=260):
    """One line over ``[(label, value), ...]`` in order (a time series)."""
    pairs = _pairs(data)
    left, bottom, top = 56, 46, 16
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max([v for _, v in pairs] + [0])
    floor = min([v for _, v in pairs] + [0])  # below zero for scores such as NPS
    span = (peak - floor) or 1
    step = plot_w / max(len(pairs) - 1, 1)
    points = " ".join(f"{left + i * step:.1f},{top + plot_h - plot_h * (v - floor) / span:.1f}" for i, (_, v) in enumerate(pairs))
    zero_y = top + plot_h + plot_h * floor / span
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title)}'>"]
    parts.append(f"<line x1='{left}' y1='{zero_y:.1f}' x2='{left + plot_w}' y2='{zero_y:.1f}' class='axis'/>")
    if floor < 0:
        parts.append(f"<text x='{left - 4}' y='{top + plot_h + 4}' class='tick end'>{_fmt(floor)}</text>")
    parts.append(f"<polyline points='{points}' fill='none' stroke='{PALETTE[0]}' stroke-width='2'/>")
    every = max(1, len(pairs) // 12)
    for i, (label, _) in enumerate(pairs):
        if i % every == 0:
            parts.append(f"<text x='{left + i * step:.1f}' y='{top + plot_h + 14}' class='tick'>{escape(label[:10])}</text>")
    parts.append(f"<text x='{left + plot_w / 2}' y='{height - 6}' class='axis-label'>{escape(x_label)}</text>")
    parts.append(f"<text x='12' y='{top + plot_h / 2}' class='axis-label' transform='rotate(-90 12 {top + plot_h / 2})'>{escape(y_label)}</text>")
    parts.append(f"<text x='{left - 4}' y='{top + 4}' class='tick end'>{_fmt(peak)}</text></svg>")
    return _figure(title, "".join(parts), _table(title, [x_label or "label", y_label or "value"], pairs))


TEMPLATE_GLOBALS = {"bar_chart": bar_chart, "line_chart": line_chart}
