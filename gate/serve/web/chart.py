"""A bar chart as inline SVG, drawn on the server: no chart library, no script, prints and zooms cleanly."""
from __future__ import annotations

from html import escape
from typing import Sequence

WIDTH = 720
HEIGHT = 220
_PAD_LEFT = 56
_PAD_BOTTOM = 28
_PAD_TOP = 16


def bar_chart(bars: Sequence[tuple[str, float]], unit: str) -> str:
    """One bar per (label, value), a y axis with 4 gridlines; an empty chart says so."""
    if not bars:
        return f'<svg viewBox="0 0 {WIDTH} 40" role="img" aria-label="no data"><text x="8" y="24">no data</text></svg>'
    top = _nice_top(max(v for _, v in bars))
    plot_w, plot_h = WIDTH - _PAD_LEFT - 8, HEIGHT - _PAD_BOTTOM - _PAD_TOP
    step = plot_w / len(bars)
    bar_w = max(2.0, step * 0.7)
    every = max(1, len(bars) // 14)  # at most ~14 labels under the bars
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="revenue by day, {escape(unit)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i in range(5):
        value = top * i / 4
        y = _PAD_TOP + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{_PAD_LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{_PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{value:,.0f}</text>')
    for i, (label, value) in enumerate(bars):
        h = 0.0 if top == 0 else plot_h * value / top
        x = _PAD_LEFT + i * step + (step - bar_w) / 2
        y = _PAD_TOP + plot_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" class="bar">'
            f"<title>{escape(label)}: {value:,.2f} {escape(unit)}</title></rect>"
        )
        if i % every == 0:
            cx, cy = x + bar_w / 2, HEIGHT - 10
            parts.append(f'<text x="{cx:.1f}" y="{cy}" text-anchor="middle" class="axis">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _nice_top(value: float) -> float:
    """The axis top: 1, 2, 2.5 or 5 times a power of ten at or above ``value``."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** (len(str(int(value))) - 1)
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * magnitude:
            return float(factor * magnitude)
    return float(10 * magnitude)
