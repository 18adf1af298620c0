"""A small side-by-side bar chart as a standalone SVG (no plotting library, no external
assets): one row per figure, one bar per tool, each row scaled to its larger value so
figures of different units share one picture; the ratio is printed beside each row."""

from html import escape

ROW = 46
LABEL = 300
BAR = 420
COLOURS = ("#1f77b4", "#ff7f0e")


def bar_chart(title, tools, rows):
    """rows: [(label, ours, theirs)]; returns the SVG text."""
    # Labels take about 7 px a character at this font size; long ones push the bars right.
    label_width = max(LABEL, 7 * max((len(row[0]) for row in rows), default=0) + 20)
    height = 70 + ROW * len(rows) + 30
    width = label_width + BAR + 290
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="13">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="24" font-size="16" font-weight="bold">{escape(title)}</text>']
    for index, (tool, colour) in enumerate(zip(tools, COLOURS)):
        x = label_width + index * 200
        out.append(f'<rect x="{x}" y="38" width="14" height="14" fill="{colour}"/>')
        out.append(f'<text x="{x + 20}" y="50">{escape(tool)}</text>')
    for row, (label, ours, theirs) in enumerate(rows):
        top = 70 + row * ROW
        largest = max(ours, theirs) or 1
        out.append(f'<text x="10" y="{top + 22}">{escape(label)}</text>')
        for index, value in enumerate((ours, theirs)):
            length = max(1, BAR * value / largest)
            y = top + 4 + index * 18
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
