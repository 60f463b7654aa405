"""Server-side charts for the report: matplotlib (Agg backend) to inline SVG (HTML) or PNG (PDF),
no network needed.

Figures are built with the object-oriented ``Figure`` API, not pyplot, so no global state is touched
and a PDF can be drawn in a worker thread while HTML is drawn on the event loop.

Text inside charts is kept to ASCII labels in the language-neutral parts (periods, numbers) so the
charts render without a CJK font; the surrounding HTML carries the Chinese text.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal

import matplotlib
from matplotlib.figure import Figure

matplotlib.rcParams["svg.hashsalt"] = "carbon-bureau"  # deterministic SVG ids


def svg(fig: Figure) -> str:
    """The figure as an inline ``<svg>`` element."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]


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
