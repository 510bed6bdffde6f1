"""Charts as SVG written by hand (no plotting dependency): bars for counts per bucket."""

from __future__ import annotations

from html import escape
from pathlib import Path


def bar_svg(labels: list[str], values: list[float], title: str, ylabel: str = "") -> str:
    w, h, left, bottom, top = 900, 360, 60, 90, 40
    n = max(1, len(values))
    vmax = max(values) if values and max(values) > 0 else 1.0
    bw = (w - left - 20) / n
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">',
        f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
        f'<line x1="{left}" y1="{h - bottom}" x2="{w - 20}" y2="{h - bottom}" stroke="#333"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="#333"/>',
        f'<text x="12" y="{top + (h - bottom - top) / 2}" transform="rotate(-90 12 '
        f'{top + (h - bottom - top) / 2})" text-anchor="middle">{escape(ylabel)}</text>',
    ]
    for i in range(5):
        v = vmax * i / 4
        y = h - bottom - (h - bottom - top) * i / 4
        lab = f"{v:.3g}"
        out.append(f'<text x="{left - 4}" y="{y + 4}" text-anchor="end">{lab}</text>')
        out.append(f'<line x1="{left}" y1="{y}" x2="{w - 20}" y2="{y}" stroke="#ddd"/>')
    step = max(1, n // 30)  # at most ~30 axis labels
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        bh = (h - bottom - top) * (v / vmax)
        x = left + i * bw
        out.append(
            f'<rect x="{x + bw * 0.1:.1f}" y="{h - bottom - bh:.1f}" width="{bw * 0.8:.1f}" '
            f'height="{bh:.1f}" fill="#4a78b5"><title>{escape(lab)}: {v:.4g}</title></rect>'
        )
        if i % step == 0:
            cx, cy = x + bw / 2, h - bottom + 8
            out.append(
                f'<text x="{cx:.1f}" y="{cy}" transform="rotate(60 {cx:.1f} {cy})">'
                f"{escape(lab)}</text>"
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_plot(path: str, labels: list[str], values: list[float], title: str, ylabel: str) -> None:
    """Write an SVG chart; ``.png`` is refused with a clear message (no raster backend)."""
    p = Path(path)
    if p.suffix.lower() != ".svg":
        raise ValueError(
            f"--plot writes SVG only; name the file with .svg, not {p.suffix or 'no suffix'}"
        )
    p.write_text(bar_svg(labels, values, title, ylabel), encoding="utf-8")
