"""The PDF carbon credit report over HTTP against a real PostgreSQL: Chinese and English, CJK names
in the STSong-Light CID font, charts embedded, the bank read logged, 404 for an unknown enterprise.

No PDF parser is installed, so the checks read the raw bytes: content streams are inflated and the
text is looked for in the encoding reportlab uses for CID fonts (UTF-16BE, PDF-string escaped)."""

from __future__ import annotations

import base64
import re
import zlib

from reportlab.pdfbase.cidfonts import UnicodeCIDFont

NAME = "阳泉市晋阳焦化有限公司"


def cid(text: str) -> bytes:
    """``text`` as it appears inside a ``( ) Tj`` operand set in STSong-Light."""
    encoded: str = UnicodeCIDFont("STSong-Light").formatForPdf(text)
    return encoded.encode("latin-1")


def content(pdf: bytes) -> bytes:
    """All stream contents, decoded (reportlab writes ``/Filter [/ASCII85Decode /FlateDecode]``)."""
    out = []
    for m in re.finditer(rb"<<(.*?)>>\s*stream\r?\n(.*?)endstream", pdf, re.S):
        head, body = m.group(1), m.group(2).strip()
        if b"ASCII85Decode" in head:
            body = base64.a85decode(body.removesuffix(b"~>"))
        if b"FlateDecode" in head:
            body = zlib.decompress(body)
        out.append(body)
    return b"\n".join(out)


async def test_report_pdf_in_chinese_and_english_with_cjk_name_and_logged(harness, ev, client) -> None:
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
    assert b"/BaseFont /STSong-Light" in pdf and b"UniGB-UCS2-H" in pdf
    text = content(pdf)
    for expected in (NAME, "碳信用报告", label_zh, "分项得分", "评级历史", "同业位置", "方法学版本"):
        assert cid(expected) in text, expected
    assert cid(code) in text
    assert len(re.findall(rb"/\S+ Do\b", text)) == 3  # images drawn: trend, peers, history charts

    en = await client.get(f"/v1/ratings/{code}/report", params={"format": "pdf", "lang": "en"})
    assert en.status_code == 200 and f'{code}_2024-06_en.pdf"' in en.headers["content-disposition"]
    en_text = content(en.content)
    for expected in (NAME, "Carbon credit report", "Sub-scores", "Rating history", "Methodology version"):
        assert cid(expected) in en_text, expected
    assert cid("碳信用报告") not in en_text

    log = (await client.get(f"/v1/ratings/{code}/queries")).json()["queries"]
    assert [(q["org"], q["resource"]) for q in log] == [("bank-b", "report")]


async def test_report_pdf_unknown_enterprise_is_404(client, ev) -> None:
    resp = await client.get(f"/v1/ratings/{ev.code(97)}/report", params={"format": "pdf"})
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/problem+json")
