"""The CJK font the PDF report embeds, found on disk (installed by ``scripts/ensure-fonts.sh``).

The report needs a font with Chinese glyphs *embedded* in the PDF: a non-embedded CID font
(reportlab's ``STSong-Light``) depends on the viewer having Adobe's Asian font pack, and poppler,
pdf.js and most Linux viewers then draw boxes. reportlab embeds TrueType outlines only (not CFF, so
Noto CJK does not qualify); WenQuanYi Micro Hei (Debian ``fonts-wqy-microhei``, Apache-2.0) does.

Lookup order: the ``RATING_CJK_FONT`` setting, the project's font cache
(``${CARBON_CACHE:-~/.cache/carbon-bureau}/fonts``, filled by ``scripts/ensure-fonts.sh`` without
root), then the system's font directories (the Docker image installs the Debian package). With no
font the service still starts and serves PDFs in the fallback CID font, and logs an error naming
the fix; ``/readyz`` is not affected (HTML reports do not need the file).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.pdfmetrics import registerFontFamily
from reportlab.pdfbase.ttfonts import TTFont

log = logging.getLogger("carbon_rating.fonts")

#: the name the PDF styles use; registered as the embedded TrueType font when one is found
EMBEDDED = "CarbonCJK"
#: reportlab's built-in CID font: not embedded, so CJK text depends on the viewer's fonts
FALLBACK = "STSong-Light"
FONT_FILES = ("wqy-microhei.ttc", "wqy-zenhei.ttc")
SYSTEM_DIRS = ("/usr/share/fonts/truetype/wqy", "/usr/share/fonts/wqy-microhei", "/usr/local/share/fonts")


def cache_dir() -> Path:
    base = os.environ.get("CARBON_CACHE") or str(Path.home() / ".cache" / "carbon-bureau")
    return Path(base) / "fonts"


def candidates(configured: str | None) -> list[Path]:
    """Where the font is looked for, in order."""
    out = [Path(configured)] if configured else []
    out += [cache_dir() / name for name in FONT_FILES]
    out += [Path(d) / name for d in SYSTEM_DIRS for name in FONT_FILES]
    return out


def find_cjk_font(configured: str | None = None) -> Path | None:
    """The first CJK TrueType font file that exists, or None."""
    return next((p for p in candidates(configured) if p.is_file()), None)


@dataclass(frozen=True, slots=True)
class PdfFont:
    """The font the PDF is set in: its reportlab name, the file embedded (None for the fallback)."""

    name: str
    path: Path | None

    @property
    def embedded(self) -> bool:
        return self.path is not None


@cache
def pdf_font(configured: str | None = None) -> PdfFont:
    """Register and return the report's PDF font (cached: registration reads the 5 MB file once).

    A configured path that does not exist or cannot be read is an error in the log and the
    fallback font, never a crash: the PDF stays available, with CJK text depending on the viewer.
    """
    path = find_cjk_font(configured)
    if path is not None:
        try:
            # a .ttc is a collection: face 0 is the regular weight of WenQuanYi Micro Hei / Zen Hei
            pdfmetrics.registerFont(TTFont(EMBEDDED, str(path), subfontIndex=0))
            # one face: <b> in a paragraph maps to it too (the badge and scores use colour and size)
            registerFontFamily(EMBEDDED, normal=EMBEDDED, bold=EMBEDDED, italic=EMBEDDED, boldItalic=EMBEDDED)
            return PdfFont(EMBEDDED, path)
        except Exception:  # a corrupt or CFF font file: fall back, loudly
            log.exception("cannot use CJK font %s for the PDF report", path)
    else:
        log.error(
            "no CJK font found for the PDF report (looked in: %s); Chinese text will depend on the "
            "viewer's fonts. Run scripts/ensure-fonts.sh or set RATING_CJK_FONT to a TrueType CJK font.",
            ", ".join(str(p) for p in candidates(configured)),
        )
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK))
    return PdfFont(FALLBACK, None)
