"""The HTML report's hand-written SVG charts: well-formed, escaped, deterministic, round ticks."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from decimal import Decimal
from itertools import pairwise

import pytest

from carbon_rating.entrypoints import svgcharts
from carbon_rating.entrypoints.charts import HistoryData, PeersData, TrendData

NS = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("lo", "hi"), [(0, 1), (0, 218_000), (2.2, 2.31), (0.003, 0.0041), (5, 5), (-3, 7), (0, 0)]
)
def test_nice_ticks_cover_the_range_with_round_steps(lo: float, hi: float) -> None:
    ticks = svgcharts.nice_ticks(lo, hi)
    assert ticks[0] <= lo and ticks[-1] >= hi and 2 <= len(ticks) <= 8
    steps = {round(b - a, 12) for a, b in pairwise(ticks)}
    assert len(steps) == 1
    step = steps.pop()
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1, 2, 2.5, 5, 10)


def test_charts_are_well_formed_escaped_and_deterministic() -> None:
    trend = TrendData(
        [f"2024-{m:02d}" for m in range(1, 13)],
        [Decimal(100_000 + m) for m in range(12)],
        [Decimal("0.8") if m != 3 else None for m in range(12)],
        "排放量 <&>",
        "强度",
    )
    peers = PeersData(
        [Decimal("0.7"), Decimal("0.9")], Decimal("0.75"), "同业企业", "本企业", "强度（越低越好）"
    )
    history = HistoryData(
        ["2024-01-31", "2024-02-29"], [Decimal(60), Decimal(70)], [Decimal(80), Decimal(65)]
    )
    for d, marks in ((trend, "rect"), (peers, "circle"), (history, "circle")):
        svg = svgcharts.render(d)
        root = ET.fromstring(svg)  # well-formed XML
        assert root.tag == f"{NS}svg" and root.findall(f".//{NS}{marks}")
        assert svg == svgcharts.render(d)
    text = svgcharts.render(trend)
    assert "排放量 &lt;&amp;&gt;" in text and "<&>" not in text
    assert len(ET.fromstring(text).findall(f".//{NS}circle")) == 11  # the missing month has no point
    assert len(ET.fromstring(svgcharts.render(history)).findall(f".//{NS}line")) == 2  # two thresholds
    assert svgcharts.render(None) == ""
    empty = svgcharts.render(HistoryData([], [], []))
    assert ET.fromstring(empty).tag == f"{NS}svg"
