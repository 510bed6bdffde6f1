"""Server-side SVG charts: a time series with one point per bucket, several series allowed.

Every point is a ``<circle class="pt">`` carrying ``data-key`` and ``data-value`` and a
``<title>`` tooltip, so the page needs no script and tests can count what was drawn.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from markupsafe import Markup

PALETTE = ("#1f5f8b", "#c0392b", "#27864a", "#8e44ad", "#d68910", "#17a2b8", "#6c5b3e", "#555")


def _fmt(v: float) -> str:
    return f"{v:.3g}" if isinstance(v, float) and not v.is_integer() else f"{int(v)}"


def line_chart(
    labels: list[str],
    series: dict[str, list[float]],
    *,
    title: str,
    y_label: str = "",
    width: int = 760,
    height: int = 240,
    percent: bool = False,
) -> Markup:
    """A line chart of ``series`` (name -> values aligned with ``labels``) as inline SVG."""
    left, right, top, bottom = 52, 12, 26, 42
    pw, ph = width - left - right, height - top - bottom
    ymax = max((v for vals in series.values() for v in vals), default=0) or 1
    n = len(labels)

    def x(i: int) -> float:
        return left + (pw * (i + 0.5) / n if n else 0)

    def y(v: float) -> float:
        return top + ph - ph * v / ymax

    def show(v: float) -> str:
        return f"{v * 100:.3g}%" if percent else _fmt(v)

    out = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f'<text class="title" x="{left}" y="16">{escape(title)}</text>',
    ]
    for frac in (0, 0.5, 1):
        yy = y(ymax * frac)
        out.append(
            f'<line class="grid" x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
            f'<text class="axis" x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">'
            f"{escape(show(ymax * frac))}</text>"
        )
    if y_label:
        out.append(
            f'<text class="axis" transform="translate(12 {top + ph / 2:.0f}) rotate(-90)" '
            f'text-anchor="middle">{escape(y_label)}</text>'
        )
    step = max(1, -(-n // 7))  # at most 7 labels, each about 90 px wide
    for i in range(0, n, step):
        out.append(
            f'<text class="axis" x="{x(i):.1f}" y="{top + ph + 16}" text-anchor="middle">'
            f"{escape(labels[i])}</text>"
        )
    for s, (name, vals) in enumerate(series.items()):
        color = PALETTE[s % len(PALETTE)]
        pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(vals))
        out.append(
            f'<polyline class="line" fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>'
        )
        for i, v in enumerate(vals):
            out.append(
                f'<circle class="pt" data-series="{escape(name)}" data-key="{escape(labels[i])}" '
                f'data-value="{v}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{color}">'
                f"<title>{escape(name)} {escape(labels[i])}: {escape(show(v))}</title></circle>"
            )
    out.append("</svg>")
    return Markup("".join(out))


def legend(names: list[str]) -> Markup:
    """The colour key of a multi-series chart, as HTML under it."""
    items = "".join(
        f'<li><svg class="swatch" width="10" height="10"><rect width="10" height="10" '
        f'fill="{PALETTE[i % len(PALETTE)]}"/></svg> '
        f"{escape(n)}</li>"
        for i, n in enumerate(names)
    )
    return Markup(f'<ul class="legend">{items}</ul>')


def timeline(
    items: list[tuple[str, datetime | None, str]], *, width: int = 760, lane: int = 28
) -> Markup:
    """Members of a story on a time axis, one lane per outlet: (outlet, when, label)."""
    dated = [(o, t, label) for o, t, label in items if t is not None]
    lanes = sorted({o for o, _, _ in items})
    left, right, top = 120, 20, 24
    height = top + lane * max(1, len(lanes)) + 30
    out = [
        f'<svg class="chart timeline" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="story timeline">'
    ]
    if dated:
        t0 = min(t for _, t, _ in dated)
        t1 = max(t for _, t, _ in dated)
        span = max((t1 - t0).total_seconds(), 1.0)
        pw = width - left - right
        for i, o in enumerate(lanes):
            yy = top + lane * i + lane / 2
            out.append(
                f'<line class="grid" x1="{left}" x2="{left + pw}" y1="{yy}" y2="{yy}"/>'
                f'<text class="axis" x="{left - 8}" y="{yy + 4}" text-anchor="end">{escape(o)}</text>'
            )
        for k, (o, t, label) in enumerate(sorted(dated, key=lambda d: d[1])):
            xx = left + pw * (t - t0).total_seconds() / span
            yy = top + lane * lanes.index(o) + lane / 2
            color = PALETTE[lanes.index(o) % len(PALETTE)]
            out.append(
                f'<circle class="pt" data-key="{escape(t.isoformat())}" cx="{xx:.1f}" cy="{yy}" '
                f'r="{6 if k == 0 else 4}" fill="{color}"><title>{escape(o)} '
                f"{escape(t.strftime('%Y-%m-%d %H:%M'))}: {escape(label)}</title></circle>"
            )
        base = top + lane * len(lanes) + 16
        for frac, t in ((0, t0), (1, t1)):
            out.append(
                f'<text class="axis" x="{left + pw * frac:.0f}" y="{base}" '
                f'text-anchor="{"start" if frac == 0 else "end"}">'
                f"{escape(t.strftime('%Y-%m-%d %H:%M'))}</text>"
            )
    out.append("</svg>")
    return Markup("".join(out))
