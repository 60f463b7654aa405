"""The HTML report's charts as hand-written inline SVG (the PDF draws the same data with matplotlib).

Three small charts — emissions bars with the intensity line, the enterprise among its peers, the
score history against the label thresholds — do not need a plotting library: building the SVG as
text takes about a millisecond where matplotlib took 120–160 ms, and text stays text, so the
browser sets Chinese axis names in the page's CJK font. Output is deterministic (fixed number
formatting, no ids or timestamps) and every value is escaped.
"""

from __future__ import annotations

import math
from itertools import pairwise
from xml.sax.saxutils import escape

from carbon_rating.entrypoints.charts import ChartData, HistoryData, PeersData, TrendData

FONT = 'font-family="inherit" font-size="11"'
GRID = "#dee2e6"
INK = "#495057"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi] (1, 2, 2.5 or 5 times a power of ten)."""
    if not math.isfinite(lo) or not math.isfinite(hi):
        return [0.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    k = 0
    while start + k * step <= hi + step * 1e-9:
        ticks.append(round(start + k * step, 10))
        k += 1
    if ticks[-1] < hi:
        ticks.append(round(start + k * step, 10))
    return ticks


def fmt(v: float) -> str:
    """A tick label: thousands separated, at most 3 significant decimals, no trailing zeros."""
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    text = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(title)}" {FONT}>'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _scale(lo: float, hi: float, a: float, b: float) -> tuple[float, float, float]:
    """Map [lo, hi] onto pixels [a, b] (b may be above a): returns (lo, hi, pixels per unit)."""
    return lo, hi, (b - a) / ((hi - lo) or 1.0)


def trend(d: TrendData) -> str:
    """Monthly emissions as bars (left axis, tCO2) and the intensity as a line (right axis)."""
    w, h, left, right, top, bottom = 700, 280, 64, 60, 24, 62
    n = max(len(d.periods), 1)
    em = [float(v) for v in d.emissions]
    yt = nice_ticks(0.0, max(em, default=1.0) or 1.0)
    y0, _, ky = _scale(yt[0], yt[-1], h - bottom, top)
    slot = (w - left - right) / n
    body = [
        f'<rect x="{left}" y="{top}" width="{w - left - right}" height="{h - top - bottom}" fill="none" stroke="{GRID}"/>'
    ]
    for t in yt:
        y = h - bottom + (t - y0) * ky
        body.append(f'<line x1="{left}" x2="{w - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}">{fmt(t)}</text>')
    for i, v in enumerate(em):
        x, y = left + i * slot + slot * 0.15, h - bottom + (v - y0) * ky
        body.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h - bottom - y:.1f}" fill="#9bbf85"/>'
        )
    every = max(1, math.ceil(n / 24))
    for i, p in enumerate(d.periods):
        if i % every == 0:
            x = left + (i + 0.5) * slot
            body.append(
                f'<text x="{x:.1f}" y="{h - bottom + 12}" font-size="9" text-anchor="end" fill="{INK}" '
                f'transform="rotate(-60 {x:.1f} {h - bottom + 12})">{escape(p)}</text>'
            )
    pts = [(i, float(v)) for i, v in enumerate(d.intensity) if v is not None]
    if pts:
        it = nice_ticks(min(v for _, v in pts), max(v for _, v in pts))
        i0, _, ki = _scale(it[0], it[-1], h - bottom, top)
        for t in it:
            y = h - bottom + (t - i0) * ki
            body.append(f'<text x="{w - right + 6}" y="{y + 4:.1f}" fill="#2d6a4f">{fmt(t)}</text>')
        xy = [(left + (i + 0.5) * slot, h - bottom + (v - i0) * ki) for i, v in pts]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        body.append(f'<polyline points="{path}" fill="none" stroke="#2d6a4f" stroke-width="1.5"/>')
        body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#2d6a4f"/>' for x, y in xy]
    body.append(
        f'<rect x="{left + 8}" y="6" width="10" height="10" fill="#9bbf85"/>'
        f'<text x="{left + 22}" y="15" fill="{INK}">{escape(d.t_emissions)} (tCO2)</text>'
        f'<line x1="{left + 170}" x2="{left + 190}" y1="11" y2="11" stroke="#2d6a4f" stroke-width="1.5"/>'
        f'<text x="{left + 196}" y="15" fill="{INK}">{escape(d.t_intensity)}</text>'
    )
    return _svg(w, h, body, f"{d.t_emissions} / {d.t_intensity}")


def peers(d: PeersData) -> str:
    """The enterprise's intensity (red diamond) among its peers' (grey dots), lower is better."""
    w, h, left, right = 700, 120, 30, 30
    values = [float(v) for v in d.peers] + ([float(d.own)] if d.own is not None else [])
    xt = nice_ticks(min(values, default=0.0), max(values, default=1.0))
    x0, _, kx = _scale(xt[0], xt[-1], left, w - right)
    mid, axis = 52, 82
    body = [f'<line x1="{left}" x2="{w - right}" y1="{axis}" y2="{axis}" stroke="{INK}"/>']
    for t in xt:
        x = left + (t - x0) * kx
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{axis}" y2="{axis + 4}" stroke="{INK}"/>')
        body.append(f'<text x="{x:.1f}" y="{axis + 16}" text-anchor="middle" fill="{INK}">{fmt(t)}</text>')
    for v in sorted(float(p) for p in d.peers):
        body.append(
            f'<circle cx="{left + (v - x0) * kx:.1f}" cy="{mid}" r="5" fill="#adb5bd" fill-opacity="0.8"/>'
        )
    if d.own is not None:
        x = left + (float(d.own) - x0) * kx
        body.append(
            f'<path d="M{x:.1f},{mid - 9} L{x + 9:.1f},{mid} L{x:.1f},{mid + 9} L{x - 9:.1f},{mid} Z" fill="#d62828"/>'
        )
    body.append(
        f'<circle cx="{w - 230}" cy="12" r="5" fill="#adb5bd"/><text x="{w - 220}" y="16" fill="{INK}">'
        f'{escape(d.t_peers)}</text><path d="M{w - 140},5 L{w - 133},12 L{w - 140},19 L{w - 147},12 Z" '
        f'fill="#d62828"/><text x="{w - 128}" y="16" fill="{INK}">{escape(d.t_own)}</text>'
        f'<text x="{w / 2:.0f}" y="{h - 4}" text-anchor="middle" fill="{INK}">{escape(d.t_axis)}</text>'
    )
    return _svg(w, h, body, d.t_axis)


def history(d: HistoryData) -> str:
    """Scores over time as a step line, with the label thresholds dashed, on a 0–100 scale."""
    w, h, left, right, top, bottom = 700, 220, 40, 20, 12, 58
    n = max(len(d.scores), 1)
    slot = (w - left - right) / n
    _, _, ky = _scale(0.0, 100.0, h - bottom, top)
    body = [
        f'<rect x="{left}" y="{top}" width="{w - left - right}" height="{h - top - bottom}" fill="none" stroke="{GRID}"/>'
    ]
    for tick in (0, 20, 40, 60, 80, 100):
        y = h - bottom + tick * ky
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}">{tick}</text>')
    for threshold in d.thresholds:
        y = h - bottom + float(threshold) * ky
        body.append(
            f'<line x1="{left}" x2="{w - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ced4da" stroke-dasharray="4 3"/>'
        )
    xy = [(left + (i + 0.5) * slot, h - bottom + float(s) * ky) for i, s in enumerate(d.scores)]
    if xy:
        steps = [f"{xy[0][0]:.1f},{xy[0][1]:.1f}"]
        for (_, y1), (x2, y2) in pairwise(xy):
            steps += [f"{x2:.1f},{y1:.1f}", f"{x2:.1f},{y2:.1f}"]
        body.append(f'<polyline points="{" ".join(steps)}" fill="none" stroke="#1d3557" stroke-width="1.5"/>')
        body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#1d3557"/>' for x, y in xy]
    every = max(1, math.ceil(n / 16))
    for i, label in enumerate(d.dates):
        if i % every == 0:
            x = left + (i + 0.5) * slot
            body.append(
                f'<text x="{x:.1f}" y="{h - bottom + 14}" font-size="9" text-anchor="end" fill="{INK}" '
                f'transform="rotate(-45 {x:.1f} {h - bottom + 14})">{escape(label)}</text>'
            )
    return _svg(w, h, body, "score history")


def render(d: ChartData | None) -> str:
    """The chart as an inline ``<svg>`` element ("" when there is nothing to draw)."""
    if d is None:
        return ""
    if isinstance(d, TrendData):
        return trend(d)
    if isinstance(d, PeersData):
        return peers(d)
    return history(d)
