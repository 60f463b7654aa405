#!/usr/bin/env bash
# Install the CJK font the carbon credit report embeds (WenQuanYi Micro Hei, Debian's
# fonts-wqy-microhei: TrueType outlines, which reportlab can embed; Noto CJK is CFF and cannot be)
# into ${CARBON_CACHE:-$HOME/.cache/carbon-bureau}/fonts, and print the font's path.
# No root needed: `apt-get download` + `dpkg -x` (the package is verified against the signed
# apt index). Also writes fonts.conf there (system fonts + this directory) for headless chromium
# (FONTCONFIG_FILE). Idempotent: a no-op when the font is already there.
# The rating service finds the font at this path (or RATING_CJK_FONT); the PDF tests fail without it.
set -euo pipefail

CACHE="${CARBON_CACHE:-$HOME/.cache/carbon-bureau}"
DIR="$CACHE/fonts"
FONT="$DIR/wqy-microhei.ttc"
PKG="fonts-wqy-microhei"

write_conf() {
    cat > "$DIR/fonts.conf.tmp" <<CONF
<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<!-- written by scripts/ensure-fonts.sh: the system's fonts plus the project's CJK font -->
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <dir>$DIR</dir>
  <cachedir>$DIR/fc-cache</cachedir>
</fontconfig>
CONF
    mv -f "$DIR/fonts.conf.tmp" "$DIR/fonts.conf"
}

if [[ -s "$FONT" ]]; then
    [[ -s "$DIR/fonts.conf" ]] || write_conf
    echo "$FONT"
    exit 0
fi
for tool in apt-get dpkg; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "ensure-fonts: '$tool' not found; put a TrueType CJK font at $FONT (or set RATING_CJK_FONT)" >&2
        exit 1
    fi
done

mkdir -p "$DIR"
STAGE="$(mktemp -d "$DIR/.stage.XXXXXX")"
chmod 755 "$STAGE"  # apt-get download hands the file to the _apt user
trap 'rm -rf "$STAGE"' EXIT
echo "ensure-fonts: downloading $PKG (Debian package, ~5 MB)" >&2
(cd "$STAGE" && { apt-get download -q "$PKG" >&2 || { echo "ensure-fonts: apt-get download failed; is the apt index stale? (apt-get update)" >&2; exit 1; }; })
dpkg -x "$STAGE"/"$PKG"_*.deb "$STAGE/root"
found="$(find "$STAGE/root" -name 'wqy-microhei.ttc' | head -n1)"
if [[ -z "$found" ]]; then
    echo "ensure-fonts: wqy-microhei.ttc not found in $PKG" >&2
    exit 1
fi
# the licence travels with the font (Apache-2.0 / GPLv3 with font exception)
cp -f "$STAGE/root/usr/share/doc/$PKG/copyright" "$DIR/wqy-microhei.copyright" 2>/dev/null || true
cp -f "$found" "$FONT.tmp"
mv -f "$FONT.tmp" "$FONT"
write_conf
echo "$FONT"
