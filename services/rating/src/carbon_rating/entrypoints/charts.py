"""The report's charts: what they show (``TrendData``, ``PeersData``, ``HistoryData``, built once by
``report.report_context``), drawn with matplotlib (Agg backend) to PNG for the PDF report. The HTML
report draws the same data as hand-written inline SVG (``svgcharts``): matplotlib took 120–160 ms of
CPU for the three charts, most of an HTML report's time, where string-built SVG takes about 1 ms.

Figures are built with the object-oriented ``Figure`` API, not pyplot, so no global state is touched
and a PDF can be drawn in a worker thread while HTML is drawn on the event loop. Text inside the PNG
charts is kept to ASCII (periods, numbers, English axis names) so they render without a CJK font in
matplotlib; the surrounding PDF text carries the Chinese.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from matplotlib.figure import Figure


@dataclass(frozen=True, slots=True)
class TrendData:
    periods: Sequence[str]
    emissions: Sequence[Decimal]
    intensity: Sequence[Decimal | None]
    t_emissions: str
    t_intensity: str


@dataclass(frozen=True, slots=True)
class PeersData:
    peers: Sequence[Decimal]
    own: Decimal | None
    t_peers: str = "peers"
    t_own: str = "this enterprise"
    t_axis: str = "intensity (lower is better)"


@dataclass(frozen=True, slots=True)
class HistoryData:
    dates: Sequence[str]
    scores: Sequence[Decimal]
    thresholds: Sequence[Decimal]


ChartData = TrendData | PeersData | HistoryData


def figure(d: ChartData) -> Figure:
    """The matplotlib figure of a chart's data."""
    if isinstance(d, TrendData):
        return trend(d.periods, d.emissions, d.intensity, d.t_emissions, d.t_intensity)
    if isinstance(d, PeersData):
        return peers(d.peers, d.own)
    return history(d.dates, d.scores, d.thresholds)


def png(fig: Figure, dpi: int = 150) -> bytes:
    """The figure as PNG bytes for the PDF report."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def trend(
    periods: Sequence[str],
    emissions: Sequence[Decimal],
    intensity: Sequence[Decimal | None],
    t_emissions: str,
    t_intensity: str,
) -> Figure:
    fig = Figure(figsize=(7, 2.8))
    ax = fig.subplots()
    ax.bar(range(len(periods)), [float(e) for e in emissions], color="#9bbf85", label=t_emissions)
    ax.set_xticks(range(len(periods)), periods, rotation=60, fontsize=7)
    ax.set_ylabel("tCO2")
    ax2 = ax.twinx()
    xs = [i for i, v in enumerate(intensity) if v is not None]
    ax2.plot(
        xs, [float(v) for v in intensity if v is not None], color="#2d6a4f", marker="o", label=t_intensity
    )
    ax2.set_ylabel("intensity")
    return fig


def peers(peer_values: Sequence[Decimal], own: Decimal | None) -> Figure:
    fig = Figure(figsize=(7, 1.8))
    ax = fig.subplots()
    vals = sorted(float(v) for v in peer_values)
    ax.scatter(vals, [0] * len(vals), color="#adb5bd", s=30, label="peers")
    if own is not None:
        ax.scatter([float(own)], [0], color="#d62828", s=90, marker="D", label="this enterprise")
    ax.set_yticks([])
    ax.set_xlabel("intensity (lower is better)")
    ax.legend(loc="upper right", fontsize=7)
    return fig


def history(dates: Sequence[str], scores: Sequence[Decimal], thresholds: Sequence[Decimal]) -> Figure:
    fig = Figure(figsize=(7, 2.2))
    ax = fig.subplots()
    ax.step(range(len(dates)), [float(s) for s in scores], where="post", color="#1d3557", marker="o")
    for t in thresholds:
        ax.axhline(float(t), color="#ced4da", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(dates)), dates, rotation=45, fontsize=7)
    ax.set_ylim(0, 100)
    ax.set_ylabel("score")
    return fig
