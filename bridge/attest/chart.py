"""Hand-made SVG: logins per means over time as stacked bars (no JavaScript, prints as vectors)."""
from __future__ import annotations

from html import escape

COLOURS = {"psc": "#0b4f8a", "psc-card": "#2a7ab9", "psc-ecps": "#6aa5d6", "psc-delegated": "#5b3f8c",
           "cps-pin": "#b35c00", "cps-tls": "#7a4a12"}
OTHER = "#6b6b6b"
WIDTH, HEIGHT, LEFT, BOTTOM, TOP, RIGHT = 680, 240, 44, 46, 16, 150


def _ticks(top: int) -> list[int]:
    step = max(1, -(-top // 4))
    return list(range(0, step * 4 + 1, step))


def logins_chart(series: dict[str, dict[str, int]], title: str, empty_text: str) -> str:
    labels = list(series)
    means = sorted({m for bucket in series.values() for m in bucket}, key=lambda m: (m not in COLOURS, m))
    total = max((sum(bucket.values()) for bucket in series.values()), default=0)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="{WIDTH}" height="{HEIGHT}" font-family="DejaVu Sans, Arial, sans-serif" role="img" '
             f'aria-label="{escape(title)}">',   # WeasyPrint draws SVG text in serif unless told
             f"<title>{escape(title)}</title>"]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    ticks = _ticks(max(total, 1))
    scale = plot_h / ticks[-1]
    for tick in ticks:
        y = TOP + plot_h - tick * scale
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#d0d4da" '
                     f'stroke-width="1"/><text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="#333">{tick}</text>')
    if labels:
        slot = plot_w / len(labels)
        bar = max(1.0, slot * 0.7)
        every = max(1, -(-len(labels) // 8))   # at most ~8 date labels under the axis
        for i, label in enumerate(labels):
            x, y = LEFT + i * slot + (slot - bar) / 2, TOP + plot_h
            for mie in means:
                count = series[label].get(mie, 0)
                if count:
                    h = count * scale
                    y -= h
                    parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                                 f'fill="{COLOURS.get(mie, OTHER)}" data-bucket="{escape(label)}" '
                                 f'data-mie="{escape(mie)}" data-count="{count}"><title>{escape(label)} · '
                                 f'{escape(mie)} : {count}</title></rect>')
            if i % every == 0:
                parts.append(f'<text x="{x + bar / 2:.1f}" y="{TOP + plot_h + 16}" font-size="10" '
                             f'text-anchor="middle" fill="#333">{escape(label[5:])}</text>')
    parts.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="#333"/>')
    if not total:
        parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" font-size="13" '
                     f'text-anchor="middle" fill="#555">{escape(empty_text)}</text>')
    for i, mie in enumerate(means):
        y = TOP + 8 + i * 18
        parts.append(f'<rect x="{WIDTH - RIGHT + 14}" y="{y - 9}" width="12" height="12" '
                     f'fill="{COLOURS.get(mie, OTHER)}"/><text x="{WIDTH - RIGHT + 32}" y="{y + 1}" font-size="11" '
                     f'fill="#222">{escape(mie)}</text>')
    parts.append("</svg>")
    return "".join(parts)
