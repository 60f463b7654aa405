"""Render the carbon credit report as PDF (reportlab, zh or en), with the same content as the HTML.

Text is set in an embedded CJK TrueType font (``fonts.pdf_font``: WenQuanYi Micro Hei, subset into
the PDF by reportlab), so Chinese names render and can be extracted in any viewer. Without the font
file the PDF falls back to reportlab's non-embedded CID font ``STSong-Light`` (see ``fonts``).
Charts are the HTML report's matplotlib figures rendered to PNG.
"""

from __future__ import annotations

import io
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from carbon_rating.entrypoints import charts
from carbon_rating.entrypoints.fonts import PdfFont, pdf_font
from carbon_rating.entrypoints.report import report_context
from carbon_rating.service_layer.report_data import ReportData

_WIDTH = A4[0] - 36 * mm


@cache
def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=14, wordWrap="CJK")
    return {
        "body": base,
        "muted": ParagraphStyle(
            "muted", parent=base, fontSize=8, leading=11, textColor=colors.HexColor("#6c757d")
        ),
        "h1": ParagraphStyle("h1", parent=base, fontSize=18, leading=24, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontSize=13, leading=18, spaceAfter=4),
        "h3": ParagraphStyle(
            "h3",
            parent=base,
            fontSize=11,
            leading=15,
            spaceBefore=8,
            spaceAfter=3,
            textColor=colors.HexColor("#1d3557"),
        ),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.5, leading=11),
    }


def _e(v: object) -> str:
    return escape("" if v is None else str(v))


def _chart(png: bytes) -> Image:
    img = Image(io.BytesIO(png))
    scale = min(1.0, _WIDTH / img.imageWidth)
    img.drawWidth, img.drawHeight = img.imageWidth * scale, img.imageHeight * scale
    return img


def _table(st: dict[str, ParagraphStyle], rows: list[list[str]], widths: list[float]) -> Table:
    cells = [[Paragraph(c, st["cell"]) for c in row] for row in rows]
    table = Table(cells, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                # the cells are paragraphs, but the table still selects its own font: keep it ours
                ("FONTNAME", (0, 0), (-1, -1), st["body"].fontName),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#dee2e6")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f1f3f5")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _bullets(st: dict[str, ParagraphStyle], items: list[str], none: str) -> list[Flowable]:
    body = st["body"]
    return [Paragraph(f"- {i}", body) for i in items] or [Paragraph(_e(none), body)]


def _headline(st: dict[str, ParagraphStyle], ctx: dict[str, Any], t: dict[str, str], r: Any) -> Table:
    """Label as a coloured badge (white on the label colour), then score and confidence."""
    badge = ParagraphStyle("badge", parent=st["body"], fontSize=12, leading=15, textColor=colors.white)
    table = Table(
        [
            [
                Paragraph(f"{_e(t['label'])}:", st["body"]),
                Paragraph(_e(ctx["label_name"]), badge),
                Paragraph(
                    f"{_e(t['score'])}: <b>{_e(r.score)}</b> · {_e(t['confidence'])}: {_e(r.confidence)}",
                    st["body"],
                ),
            ]
        ],
        colWidths=[22 * mm, 30 * mm, _WIDTH - 52 * mm],
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), st["body"].fontName),
                ("BACKGROUND", (1, 0), (1, 0), colors.HexColor(ctx["label_colour"])),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (1, 0), (1, 0), "CENTER"),
            ]
        )
    )
    return table


def render_pdf(data: ReportData, lang: str, font: PdfFont | None = None) -> bytes:
    """The PDF report; ``font`` defaults to the one ``fonts.pdf_font`` finds (embedded CJK)."""
    ctx, chart_data = report_context(data, lang)
    font = font or pdf_font()
    st = _styles(font.name)
    t: dict[str, str] = ctx["t"]
    r: Any = ctx["r"]
    story: list[Flowable] = [
        Paragraph(_e(t["title"]), st["h1"]),
        Paragraph(
            f"{_e(r.enterprise_name)} <font size=9 color='#6c757d'>{_e(r.credit_code)}</font>", st["h2"]
        ),
        Paragraph(
            f"{_e(t['industry'])}: {_e(r.industry_code)} · {_e(t['period'])}: {_e(r.as_of_period)} · "
            f"{_e(t['stage'])}: {_e(t[r.stage])}"
            + (
                f" <font size=8 color='#6c757d'>({_e(t['stage_from_evidence'])}; {_e(t['declared_stage'])}: "
                f"{_e(t[r.declared_stage or r.stage])}. {_e(r.stage_reason)})</font>"
                if r.stage_source == "evidence"
                else ""
            ),
            st["body"],
        ),
        Spacer(1, 3),
        _headline(st, ctx, t, r),
        Paragraph(_e(r.label_meaning), st["body"]),
        Paragraph(_e(t["vetoes"]), st["h3"]),
        *_bullets(st, [f"<b>{_e(code)}</b>: {_e(desc)}" for code, desc in ctx["vetoes"]], t["none"]),
        Paragraph(_e(t["sub_scores"]), st["h3"]),
        _table(
            st,
            [["", _e(t["score"]), _e(t["weight"]), ""]]
            + [
                [
                    _e(s.name),
                    _e(s.value),
                    _e(s.weight),
                    _e(t["not_observed"] if not s.observed and s.applicable else s.note),
                ]
                for s in r.sub_scores
            ],
            [_WIDTH * 0.3, _WIDTH * 0.12, _WIDTH * 0.12, _WIDTH * 0.46],
        ),
        Paragraph(_e(t["drivers_up"]), st["h3"]),
        *_bullets(st, [f"{_e(d.sub_score)}: +{_e(d.contribution)}" for d in r.drivers_up], t["none"]),
        Paragraph(_e(t["drivers_down"]), st["h3"]),
        *_bullets(st, [f"{_e(d.sub_score)}: {_e(d.contribution)}" for d in r.drivers_down], t["none"]),
        Paragraph(_e(t["gap"]), st["h3"]),
    ]
    g = r.gap_to_next_label
    if g.next_label:
        gap = f"{_e(ctx['next_label_name'])}: {_e(g.points_needed if g.points_needed is not None else '—')} {_e(t['points'])}"
        if g.intensity_cut_pct is not None:
            gap += f"; {_e(t['cut'])}: {_e(g.intensity_cut_pct)}%"
        if g.blocked_by:
            gap += f" ({_e(', '.join(g.blocked_by))})"
        story += [Paragraph(gap, st["body"]), Paragraph(_e(g.note), st["muted"])]
    else:
        story.append(Paragraph(_e(g.note), st["body"]))
    for key, title in (("trend", "trend"), ("peers", "peers"), ("history", "history")):
        d = chart_data[key]
        story.append(Paragraph(_e(t[title]), st["h3"]))
        if d is not None:
            story.append(_chart(charts.png(charts.figure(d))))
        elif key != "history":
            story.append(Paragraph(_e(t["none"]), st["body"]))
    story.append(
        _table(
            st,
            [[_e(t["issued"]), _e(t["period"]), _e(t["score"]), _e(t["label"]), ""]]
            + [
                [
                    _e(h.issued_at.strftime("%Y-%m-%d")),
                    _e(h.as_of_period),
                    _e(h.score),
                    _e(h.label),
                    _e(h.reason),
                ]
                for h in ctx["history"]
            ],
            [_WIDTH * 0.18, _WIDTH * 0.14, _WIDTH * 0.12, _WIDTH * 0.16, _WIDTH * 0.4],
        )
    )
    story.append(Paragraph(_e(t["objections"]), st["h3"]))
    story += _bullets(
        st,
        [
            f"{_e(o.filed_at.strftime('%Y-%m-%d'))} — {_e(o.status)}: {_e(o.reason)}"
            for o in ctx["objections"]
        ],
        t["none"],
    )
    story += [
        Spacer(1, 8),
        Paragraph(
            f"{_e(t['methodology'])}: {_e(r.methodology_version)} · {_e(t['account'])}: {_e(r.account_ref or '—')} · "
            f"rating id {_e(r.rating_id)} · {_e(t['issued'])}: {_e(r.issued_at)}",
            st["muted"],
        ),
    ]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"{t['title']} — {r.enterprise_name or r.credit_code}",
        author="Carbon Bureau",
        initialFontName=font.name,  # else every page also references (non-embedded) Helvetica
        lang="zh-CN" if lang == "zh" else "en",
    )
    doc.build(story)
    return buf.getvalue()
