"""The metric comparison chart of a validation report, drawn as SVG on the server.

Grouped horizontal bars (active vs candidate) per metric on a 0..1 scale when every value
fits in it, else on a scale from the smallest to the largest value; a minimum gate is a tick.
No JavaScript and no build step: the page embeds the markup as is.
"""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

ROW_HEIGHT = 46
LABEL_WIDTH = 150
BAR_WIDTH = 360
VALUE_WIDTH = 70


def metric_comparison_svg(metrics: dict[str, dict]) -> SafeString:
    rows = [
        (name, values)
        for name, values in metrics.items()
        if values.get("candidate") is not None or values.get("active") is not None
    ]
    if not rows:
        return mark_safe('<p class="muted">No metrics to compare.</p>')
    numbers = [
        v
        for _, values in rows
        for v in (values.get("candidate"), values.get("active"), values.get("minimum"))
        if v is not None
    ]
    if all(0 <= v <= 1 for v in numbers):
        low, high = 0.0, 1.0
    else:
        low, high = min(0.0, *numbers), max(numbers)
    span = (high - low) or 1.0

    def x(value: float) -> float:
        return LABEL_WIDTH + (value - low) / span * BAR_WIDTH

    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    height = ROW_HEIGHT * len(rows) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="metric-chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-label="Metrics of the candidate against the active version">',
        '<g font-family="sans-serif" font-size="12">',
    ]
    for index, (name, values) in enumerate(rows):
        top = index * ROW_HEIGHT + 6
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{top + 22}" text-anchor="end">{escape(name)}</text>'
        )
        for offset, key, colour in ((0, "active", "#9aa5b1"), (18, "candidate", "#2b6cb0")):
            value = values.get(key)
            if value is None:
                continue
            bar = max(x(value) - x(low), 1)
            parts.append(
                f'<rect class="bar-{key}" x="{LABEL_WIDTH}" y="{top + offset}" '
                f'width="{bar:.1f}" height="14" fill="{colour}">'
                f"<title>{escape(key)} {escape(name)} = {value:.4g}</title></rect>"
            )
            parts.append(
                f'<text x="{LABEL_WIDTH + bar + 4:.1f}" y="{top + offset + 11}">{value:.4g}</text>'
            )
        minimum = values.get("minimum")
        if minimum is not None:
            parts.append(
                f'<line class="gate-minimum" x1="{x(minimum):.1f}" x2="{x(minimum):.1f}" '
                f'y1="{top - 3}" y2="{top + 35}" stroke="#c53030" stroke-width="2">'
                f"<title>minimum {minimum:.4g}</title></line>"
            )
    legend_y = height - 10
    parts.append(
        f'<rect x="{LABEL_WIDTH}" y="{legend_y - 10}" width="12" height="12" fill="#9aa5b1"/>'
        f'<text x="{LABEL_WIDTH + 16}" y="{legend_y}">active</text>'
        f'<rect x="{LABEL_WIDTH + 70}" y="{legend_y - 10}" width="12" height="12" fill="#2b6cb0"/>'
        f'<text x="{LABEL_WIDTH + 86}" y="{legend_y}">candidate</text>'
        f'<line x1="{LABEL_WIDTH + 170}" x2="{LABEL_WIDTH + 170}" y1="{legend_y - 11}" '
        f'y2="{legend_y + 2}" stroke="#c53030" stroke-width="2"/>'
        f'<text x="{LABEL_WIDTH + 176}" y="{legend_y}">minimum</text>'
    )
    parts.append("</g></svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text node above is escaped
