#!/usr/bin/env bash
# Install Debian's chromium (headless report test, services/rating/tests/test_report_browser.py) and
# print its path. Idempotent: a no-op when /usr/bin/chromium (or $CHROMIUM) already exists.
# Needs root (apt-get), as on the CI machine; elsewhere install it yourself: `sudo apt-get install chromium`.
# Cold: ~1-2 min (about 100 MB of packages). The browser test fails (never skips) without it.
set -euo pipefail

BIN="${CHROMIUM:-/usr/bin/chromium}"
if [[ -x "$BIN" ]]; then
    echo "$BIN"
    exit 0
fi
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: $BIN missing and cannot install it (needs root and apt-get): install Debian's 'chromium' package" >&2
    exit 1
fi
echo "ensure-chromium: installing Debian's chromium (apt-get, ~1-2 min cold)" >&2
export DEBIAN_FRONTEND=noninteractive
# a stale package index (a fresh container) makes the install fail with 404s: refresh and retry once
apt-get install -y -q --no-install-recommends chromium >&2 || {
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends chromium >&2
}
"$BIN" --version >&2
echo "$BIN"
