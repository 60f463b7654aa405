"""The HTML carbon credit report opened in a real headless browser (Debian's ``chromium``).

The report comes from the real rating app over a real PostgreSQL; its HTML is self-contained (inline
CSS and SVG charts), so it is written to the test artefacts folder (``var/test-artefacts/``, or
``$CARBON_TEST_ARTEFACTS``) and opened from there. Chromium renders it with the project's CJK font
(``scripts/ensure-fonts.sh`` writes a ``fonts.conf`` adding it to the system's fonts), takes a
screenshot next to it, and dumps the rendered DOM, in which the key content must be visible.

Boxes instead of Chinese glyphs are caught without a human: the enterprise name is rendered once
as is and once as private-use code points (which no font has, so they render as "missing glyph"
boxes); the two pictures must differ. Fails, never skips, without chromium or the font
(``scripts/ensure-chromium.sh``, ``scripts/ensure-fonts.sh``; ``make test`` runs both).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from carbon_rating.entrypoints.fonts import cache_dir

pytestmark = pytest.mark.integration

NAME = "大同市云冈清洁热电有限责任公司"
ROOT = Path(__file__).resolve().parents[3]


def artefacts() -> Path:
    path = Path(os.environ.get("CARBON_TEST_ARTEFACTS") or ROOT / "var" / "test-artefacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def chromium(page: Path, *args: str, profile: Path) -> str:
    """Run headless chromium on ``page``; return stdout (the DOM with ``--dump-dom``)."""
    exe = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(exe).is_file(), f"{exe} not found: run scripts/ensure-chromium.sh (Debian's chromium)"
    conf = cache_dir() / "fonts.conf"
    assert conf.is_file(), f"{conf} not found: run scripts/ensure-fonts.sh"
    env = {**os.environ, "FONTCONFIG_FILE": str(conf)}
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",  # CI runs as root, where chromium's sandbox cannot start
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        *args,
        page.as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def pixels(png: Path) -> np.ndarray:
    assert png.is_file() and png.stat().st_size > 0, f"no screenshot at {png}"
    image: np.ndarray = imread(png)
    return image[..., :3]


def font_stack(report: str) -> str:
    found = re.search(r"body \{ font-family: ([^;]+);", report)
    assert found, "the report's CSS names no font-family for the body"
    return found.group(1)


async def test_html_report_in_headless_chromium(harness, ev, client, tmp_path) -> None:
    await harness.publish(
        ev.enterprise(60, name=NAME, industry="4411", stage="mid", ets=True),
        *[ev.enterprise(i, industry="4411") for i in (61, 62, 63, 64)],
        *[
            ev.account(i, f"2024-{m:02d}", str(70000 + 2500 * i + 100 * m))
            for i in (60, 61, 62, 63, 64)
            for m in range(1, 13)
        ],
    )
    await harness.settle()
    code = ev.code(60)
    rating = (await client.get(f"/v1/ratings/{code}")).json()
    resp = await client.get(f"/v1/ratings/{code}/report", params={"lang": "zh"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    out = artefacts()
    page = out / "rating-report-zh.html"
    page.write_text(resp.text, encoding="utf-8")

    shot = out / "rating-report-zh.png"
    shot.unlink(missing_ok=True)
    chromium(page, "--window-size=1280,2600", f"--screenshot={shot}", profile=tmp_path / "p1")
    dom = chromium(page, "--dump-dom", profile=tmp_path / "p2")

    # the key content is in the rendered document (after parsing, as the browser shows it)
    text = html.unescape(re.sub(r"<[^>]+>", " ", dom))
    for expected in (NAME, "碳信用报告", rating["label_zh"], rating["score"], "分项得分", "评级历史", code):
        assert expected in text, expected
    assert dom.count("<svg") >= 3  # the trend, peers and history charts

    # the screenshot is a picture of a page, not a blank or an error page
    img = pixels(shot)
    assert img.shape[0] >= 2000 and img.shape[1] >= 1200, img.shape
    assert shot.stat().st_size > 50_000
    ink = np.any(img < 0.9, axis=-1).mean()  # share of pixels that are not (nearly) white
    assert ink > 0.02, f"screenshot is nearly blank ({ink:.2%} non-white)"

    # Chinese glyphs, not boxes: the name vs the same number of private-use code points
    stack = font_stack(resp.text)
    probes = {}
    for kind, text_ in (("name", NAME), ("tofu", "".join(chr(0xE000 + i) for i in range(len(NAME))))):
        probe = out / f"rating-glyph-probe-{kind}.html"
        probe.write_text(
            f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><style>body {{ margin: 8px; '
            f"font-family: {stack}; font-size: 32px; }}</style></head><body>{text_}</body></html>",
            encoding="utf-8",
        )
        png = out / f"rating-glyph-probe-{kind}.png"
        chromium(probe, "--window-size=800,80", f"--screenshot={png}", profile=tmp_path / f"p-{kind}")
        probes[kind] = pixels(png)
    assert np.any(probes["name"] < 0.5), "the name rendered nothing"
    assert not np.array_equal(probes["name"], probes["tofu"]), (
        "the Chinese name renders as missing-glyph boxes: is the CJK font installed (scripts/ensure-fonts.sh)?"
    )
