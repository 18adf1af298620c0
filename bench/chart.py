"""A small side-by-side bar chart as a standalone SVG (no plotting library, no external
assets): one row per figure, one bar per tool, each row scaled to its larger value so
figures of different units share one picture; the ratio is printed beside each row.
A row may carry a third value (a reference such as the floor of bench/floor, drawn in
grey under the two tools' bars) when a third tool name is given."""

from html import escape

ROW = 46
LABEL = 300
BAR = 420
COLOURS = ("#1f77b4", "#ff7f0e", "#999999")
BAR_STEP = 18


def bar_chart(title, tools, rows):
    """rows: [(label, ours, theirs)] or [(label, ours, theirs, reference)], the reference
    None where a row has none; tools: two names, or three when rows carry a reference.
    Returns the SVG text."""
    # Labels take about 7 px a character at this font size; long ones push the bars right.
    label_width = max(LABEL, 7 * max((len(row[0]) for row in rows), default=0) + 20)
    bars = [[value for value in row[1:] if value is not None] for row in rows]
    tops = [70]
    for values in bars:
        tops.append(tops[-1] + ROW + BAR_STEP * max(0, len(values) - 2))
    height = tops[-1] + 30
    width = label_width + BAR + 290
    # The first two legend entries keep their places; a third follows the second's text.
    legend = [label_width, label_width + 200, label_width + 200 + 20 + 7 * len(tools[1]) + 30 if len(tools) > 1 else 0]
    width = max(width, legend[len(tools) - 1] + 20 + 7 * len(tools[-1]) + 10)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="13">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="24" font-size="16" font-weight="bold">{escape(title)}</text>']
    for x, tool, colour in zip(legend, tools, COLOURS):
        out.append(f'<rect x="{x}" y="38" width="14" height="14" fill="{colour}"/>')
        out.append(f'<text x="{x + 20}" y="50">{escape(tool)}</text>')
    for row, (label, ours, theirs, *reference) in enumerate(rows):
        top = tops[row]
        values = [(index, value) for index, value in enumerate((ours, theirs, *reference)) if value is not None]
        largest = max(value for _, value in values) or 1
        out.append(f'<text x="10" y="{top + 22}">{escape(label)}</text>')
        for place, (index, value) in enumerate(values):
            length = max(1, BAR * value / largest)
            y = top + 4 + place * BAR_STEP
            out.append(f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="15" fill="{COLOURS[index]}"/>')
            out.append(f'<text x="{label_width + length + 6:.1f}" y="{y + 12}">{_figure(value)}</text>')
        ratio = f"theirs/ours {theirs / ours:.1f}×" if ours else ""
        out.append(f'<text x="{label_width + BAR + 80}" y="{top + 22}" fill="#555">{ratio}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _figure(value):
    """3 significant digits without an exponent: 0.0183, 7.99, 24.2, 538, 1,513."""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"
