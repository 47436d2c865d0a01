"""Charts as server-side SVG: no JavaScript, no build step, readable without a network.

Each function returns markup marked safe; every piece of text in it is escaped here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed")


def compact(value: float) -> str:
    """Short axis labels: 43700 -> 43.7k."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def _fmt(value: float, percent: bool) -> str:
    if percent:
        return f"{value:.0%}" if abs(value) >= 0.1 or value == 0 else f"{value:.1%}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def line_chart(
    title: str,
    lines: Sequence[tuple[str, Sequence[tuple[datetime, float | None]]]],
    *,
    percent: bool = False,
    width: int = 560,
    height: int = 180,
    y_min: float | None = None,
    y_max: float | None = None,
) -> SafeString:
    """One or more series over time; gaps (None) break the line instead of inventing values."""
    pad_l, pad_r, pad_t, pad_b = 48, 12, (38 if len(lines) > 1 else 24), 22
    xs = sorted({x for _, points in lines for x, _ in points})
    ys = [y for _, points in lines for _, y in points if y is not None]
    title_e = escape(title)
    if len(xs) < 1 or not ys:
        return mark_safe(
            f'<svg class="chart chart-empty" role="img" aria-label="{title_e}: no data" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
            f'<text x="8" y="16" class="chart-title">{title_e}</text>'
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no data yet</text></svg>'
        )
    lo = min(ys) if y_min is None else y_min
    hi = max(ys) if y_max is None else y_max
    if hi == lo:
        hi = lo + (abs(lo) or 1)
    x_index = {x: i for i, x in enumerate(xs)}
    span = max(len(xs) - 1, 1)
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b

    def px(x):
        return pad_l + plot_w * x_index[x] / span

    def py(y):
        return pad_t + plot_h * (1 - (y - lo) / (hi - lo))

    parts = [
        f'<svg class="chart" role="img" aria-label="{title_e}" data-chart="{title_e}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f'<text x="8" y="16" class="chart-title">{title_e}</text>',
        f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - pad_r}" y2="{pad_t + plot_h}" '
        'class="axis"/>',
        f'<text x="{pad_l - 4}" y="{pad_t + 4}" text-anchor="end" class="tick">'
        f"{escape(_fmt(hi, percent))}</text>",
        f'<text x="{pad_l - 4}" y="{pad_t + plot_h}" text-anchor="end" class="tick">'
        f"{escape(_fmt(lo, percent))}</text>",
        f'<text x="{pad_l}" y="{height - 6}" class="tick">{xs[0]:%m-%d %H:%M}</text>',
        f'<text x="{width - pad_r}" y="{height - 6}" text-anchor="end" class="tick">'
        f"{xs[-1]:%m-%d %H:%M}</text>",
    ]
    for i, (name, points) in enumerate(lines):
        color = PALETTE[i % len(PALETTE)]
        segment: list[str] = []
        segments = []
        for x, y in points:
            if y is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{px(x):.1f},{py(y):.1f}")
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) == 1:
                cx, cy = seg[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>')
            else:
                parts.append(
                    f'<polyline class="series" fill="none" stroke="{color}" stroke-width="2" '
                    f'points="{" ".join(seg)}"><title>{escape(name)}</title></polyline>'
                )
        if len(lines) > 1:
            parts.append(
                f'<text x="{pad_l + i * 125}" y="30" fill="{color}" '
                f'class="legend">— {escape(name)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def paired_bars(
    title: str,
    labels: Sequence[str],
    baseline: Sequence[float],
    current: Sequence[float],
    *,
    width: int = 560,
    height: int = 200,
) -> SafeString:
    """Baseline and current shares per bin or category, side by side."""
    pad_l, pad_r, pad_t, pad_b = 40, 12, 44, 40
    title_e = escape(title)
    if not labels:
        return mark_safe(
            f'<svg class="chart chart-empty" role="img" aria-label="{title_e}: no data" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
            f'<text x="8" y="16">{title_e}: no data</text></svg>'
        )
    top = max([*baseline, *current, 1e-9])
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    slot = plot_w / len(labels)
    bar = max(slot * 0.38, 1)
    parts = [
        f'<svg class="chart" role="img" aria-label="{title_e}" data-chart="{title_e}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f'<text x="8" y="16" class="chart-title">{title_e}</text>',
        f'<text x="{pad_l}" y="32" fill="{PALETTE[0]}" class="legend">■ baseline</text>',
        f'<text x="{pad_l + 90}" y="32" fill="{PALETTE[1]}" class="legend">■ current</text>',
        f'<text x="{pad_l - 4}" y="{pad_t + 4}" text-anchor="end" class="tick">{top:.0%}</text>',
    ]
    step = max(1, round(len(labels) / 6))
    for i, label in enumerate(labels):
        x = pad_l + i * slot
        for j, (value, color) in enumerate(((baseline[i], PALETTE[0]), (current[i], PALETTE[1]))):
            h = plot_h * value / top
            parts.append(
                f'<rect class="bar" x="{x + 1 + j * bar:.1f}" y="{pad_t + plot_h - h:.1f}" '
                f'width="{bar:.1f}" height="{h:.1f}" fill="{color}">'
                f"<title>{escape(label)}: {value:.1%}</title></rect>"
            )
        if i % step == 0:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{height - pad_b + 14}" text-anchor="middle" '
                f'class="tick">{escape(label[:12])}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def sparkline(values: Sequence[float], *, width: int = 110, height: int = 24) -> SafeString:
    values = [v for v in values if v is not None]
    if len(values) < 2:
        return mark_safe('<span class="muted">–</span>')
    lo, hi = min(values), max(values)
    hi = hi if hi > lo else lo + 1
    step = width / (len(values) - 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (height - 4) * (v - lo) / (hi - lo):.1f}"
        for i, v in enumerate(values)
    )
    return mark_safe(
        f'<svg class="sparkline" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}"><polyline fill="none" stroke="{PALETTE[0]}" stroke-width="1.5" '
        f'points="{points}"/></svg>'
    )
