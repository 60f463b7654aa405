"""The PDF carbon credit report over HTTP against a real PostgreSQL: Chinese and English, the CJK
name in an *embedded* TrueType font (installed by scripts/ensure-fonts.sh), charts embedded, the bank
read logged, 404 for an unknown enterprise.

The text is extracted with poppler's ``pdftotext`` and the fonts listed with ``pdffonts`` (Debian
``poppler-utils``): the same engine as most Linux PDF viewers, so a glyph that would render as a box
(a non-embedded CID font without the viewer's Asian font pack) fails here. Both tests FAIL, never
skip, when the font or poppler is missing."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from reportlab.pdfbase.pdfmetrics import getFont

from carbon_rating.entrypoints.fonts import EMBEDDED, candidates, find_cjk_font

NAME = "阳泉市晋阳焦化有限公司"


def poppler(tool: str, pdf: bytes, tmp_path: Path, *args: str) -> str:
    exe = shutil.which(tool)
    assert exe, f"{tool} not found: install Debian's poppler-utils to check the PDF report"
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    cmd = [exe, *args, str(path), *(["-"] if tool == "pdftotext" else [])]  # pdftotext: text to stdout
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout


def embedded_fonts(pdf: bytes, tmp_path: Path) -> list[tuple[str, str, str]]:
    """(name, type, embedded yes/no) per font, from ``pdffonts``."""
    rows = poppler("pdffonts", pdf, tmp_path).splitlines()[2:]
    out = []
    for row in rows:
        cols = row.split()
        # name, type (one or two words), encoding, emb, sub, uni, object number, generation
        out.append((cols[0], " ".join(cols[1:-6]), cols[-5]))
    return out


def test_the_cjk_font_is_installed_by_the_project_set_up() -> None:
    font = find_cjk_font()
    assert font is not None, (
        "no CJK TrueType font (run scripts/ensure-fonts.sh; looked in "
        + ", ".join(str(p) for p in candidates(None))
        + ")"
    )
    assert font.stat().st_size > 1_000_000


async def test_report_pdf_in_chinese_and_english_with_cjk_name_and_logged(
    harness, ev, client, tmp_path
) -> None:
    await harness.publish(
        ev.enterprise(40, name=NAME, industry="2521", stage="early"),
        ev.enterprise(41, industry="2521"),  # a peer
        *[
            ev.account(i, f"2024-{m:02d}", str(50000 + 1000 * m), unit="t", industry="2521")
            for i in (40, 41)
            for m in range(1, 7)
        ],
    )
    await harness.settle()
    code = ev.code(40)
    label_zh = (await client.get(f"/v1/ratings/{code}")).json()["label_zh"]

    zh = await client.get(
        f"/v1/ratings/{code}/report",
        params={"format": "pdf", "lang": "zh"},
        headers={"X-Org": "bank-b", "X-Purpose": "credit review"},
    )
    assert zh.status_code == 200, zh.text
    assert zh.headers["content-type"] == "application/pdf"
    disposition = zh.headers["content-disposition"]
    assert disposition.startswith("attachment;") and f"{code}_2024-06_zh.pdf" in disposition
    pdf = zh.content
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    fonts = embedded_fonts(pdf, tmp_path)
    assert fonts and all(emb == "yes" for _, _, emb in fonts), fonts  # every font embedded
    face = getFont(EMBEDDED).face.name.decode()  # the PostScript name of the font file's face
    assert any(name.endswith(f"+{face}-0") and "TrueType" in kind for name, kind, _ in fonts), fonts
    assert "STSong" not in str(fonts)
    text = poppler("pdftotext", pdf, tmp_path, "-enc", "UTF-8")
    flat = re.sub(r"\s+", "", text)  # table cells and wrapped lines split words over lines
    for expected in (NAME, "碳信用报告", label_zh, "分项得分", "评级历史", "同业位置", "方法学版本"):
        assert expected in flat, expected
    assert code in flat
    images = poppler("pdfimages", pdf, tmp_path, "-list")
    # the trend, peers and history charts (their alpha channels are listed as "smask" rows)
    assert [row.split()[2] for row in images.splitlines()[2:]].count("image") == 3, images

    en = await client.get(f"/v1/ratings/{code}/report", params={"format": "pdf", "lang": "en"})
    assert en.status_code == 200 and f'{code}_2024-06_en.pdf"' in en.headers["content-disposition"]
    en_text = poppler("pdftotext", en.content, tmp_path, "-enc", "UTF-8")
    assert NAME in re.sub(r"\s+", "", en_text)
    for expected in ("Carbon credit report", "Sub-scores", "Rating history", "Methodology version"):
        assert expected in en_text, expected
    assert "碳信用报告" not in en_text

    log = (await client.get(f"/v1/ratings/{code}/queries")).json()["queries"]
    assert [(q["org"], q["resource"]) for q in log] == [("bank-b", "report")]


async def test_report_pdf_unknown_enterprise_is_404(client, ev) -> None:
    resp = await client.get(f"/v1/ratings/{ev.code(97)}/report", params={"format": "pdf"})
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/problem+json")
