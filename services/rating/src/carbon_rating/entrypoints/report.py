"""Render the carbon credit report as HTML (jinja2 template, inline SVG charts, zh or en); the
PDF rendering (report_pdf) shares the context and the charts' data built here."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from carbon_rating.domain.methodology import Methodology
from carbon_rating.entrypoints import svgcharts
from carbon_rating.entrypoints.charts import ChartData, HistoryData, PeersData, TrendData
from carbon_rating.entrypoints.schemas import RatingOut
from carbon_rating.entrypoints.views import rating_out
from carbon_rating.methodology import load
from carbon_rating.service_layer.report_data import ReportData

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "碳信用报告",
        "score": "评分",
        "label": "等级",
        "stage": "转型阶段",
        "confidence": "置信度",
        "sub_scores": "分项得分",
        "weight": "权重",
        "drivers_up": "主要加分项",
        "drivers_down": "主要减分项",
        "gap": "距上一等级",
        "trend": "排放与强度趋势",
        "peers": "同业位置",
        "history": "评级历史",
        "vetoes": "否决项",
        "objections": "未决异议",
        "methodology": "方法学版本",
        "none": "无",
        "emissions": "排放量",
        "intensity": "强度",
        "data_quality": "数据质量 (PCAF 1–5)",
        "account": "所用碳账户",
        "issued": "出具时间",
        "not_observed": "无数据（按中性值计，降低置信度）",
        "points": "分",
        "cut": "需降低强度",
        "industry": "行业",
        "period": "评级期间",
        "peer_dots": "同业企业",
        "this_enterprise": "本企业",
        "peer_axis": "强度（越低越好）",
        "stage_from_evidence": "依据转型证据认定",
        "declared_stage": "名录申报",
        "early": "转型初期",
        "mid": "转型中期",
        "mature": "转型成熟期",
    },
    "en": {
        "title": "Carbon credit report",
        "score": "Score",
        "label": "Label",
        "stage": "Transition stage",
        "confidence": "Confidence",
        "sub_scores": "Sub-scores",
        "weight": "Weight",
        "drivers_up": "Largest positive drivers",
        "drivers_down": "Largest negative drivers",
        "gap": "Gap to the next label",
        "trend": "Emissions and intensity",
        "peers": "Position among peers",
        "history": "Rating history",
        "vetoes": "Vetoes",
        "objections": "Open objections",
        "methodology": "Methodology version",
        "none": "none",
        "emissions": "emissions",
        "intensity": "intensity",
        "data_quality": "Data quality (PCAF 1–5)",
        "account": "Account used",
        "issued": "Issued",
        "not_observed": "no data (neutral value used; confidence lowered)",
        "points": "points",
        "cut": "intensity cut needed",
        "industry": "Industry",
        "period": "As of",
        "peer_dots": "peers",
        "this_enterprise": "this enterprise",
        "peer_axis": "intensity (lower is better)",
        "stage_from_evidence": "derived from transition evidence",
        "declared_stage": "declared in the directory",
        "early": "early",
        "mid": "mid",
        "mature": "mature",
    },
}


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("carbon_rating.entrypoints", "templates"), autoescape=select_autoescape(["html"])
    )


def _intensity(total: Decimal, out: Decimal | None, rev: Decimal | None, basis: str | None) -> Decimal | None:
    denom = rev if basis == "per_revenue" else out
    return None if not denom else total / denom


LABEL_COLOURS: dict[str, str] = {
    "dark_green": "#1b5e20",
    "light_green": "#66bb6a",
    "yellow": "#f9a825",
    "red": "#c62828",
}


def _charts(
    data: ReportData, rating: RatingOut, m: Methodology, t: dict[str, str]
) -> dict[str, ChartData | None]:
    """What the three report charts show (None where there is nothing to draw)."""
    months = sorted(data.months, key=lambda a: a.period)
    return {
        "trend": TrendData(
            [a.period for a in months],
            [a.total_tco2 for a in months],
            [
                _intensity(a.total_tco2, a.output_quantity, a.revenue_10k_cny, rating.intensity_basis)
                for a in months
            ],
            t["emissions"],
            t["intensity"],
        )
        if months
        else None,
        "peers": PeersData(
            data.peer_intensities, rating.intensity, t["peer_dots"], t["this_enterprise"], t["peer_axis"]
        )
        if rating.intensity is not None
        else None,
        "history": HistoryData(
            [h.issued_at.strftime("%Y-%m-%d") for h in reversed(data.history)],
            [h.score for h in reversed(data.history)],
            [b.min_score for b in m.labels[:-1]],
        ),
    }


def report_context(data: ReportData, lang: str) -> tuple[dict[str, Any], dict[str, ChartData | None]]:
    """What both the HTML and the PDF report show: the text context and the charts' data."""
    rating = rating_out(data.view, lang)
    m = load(rating.methodology_version)
    t = TEXT[lang]
    ctx: dict[str, Any] = {
        "t": t,
        "lang": lang,
        "r": rating,
        "label_name": rating.label_zh if lang == "zh" else rating.label_en,
        "label_colour": LABEL_COLOURS.get(rating.label, "#6c757d"),
        "next_label_name": (
            m.band(rating.gap_to_next_label.next_label).name_zh
            if lang == "zh"
            else m.band(rating.gap_to_next_label.next_label).name_en
        )
        if rating.gap_to_next_label.next_label
        else None,
        "objections": data.view.open_objections,
        "history": data.history,
        "vetoes": [(v.code, v.description) for v in rating.vetoes],
    }
    return ctx, _charts(data, rating, m, t)


def render_html(data: ReportData, lang: str) -> str:
    """The HTML report: self-contained (inline CSS and SVG charts, no scripts, no external assets)."""
    ctx, chart_data = report_context(data, lang)
    for name, d in chart_data.items():
        ctx[f"{name}_svg"] = svgcharts.render(d)
    return _env().get_template("report.html").render(**ctx)
