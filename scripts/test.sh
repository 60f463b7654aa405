#!/usr/bin/env bash
# make test: start a real Kafka broker and PostgreSQL server, run every test against them, stop them.
# Integration tests read KAFKA_BOOTSTRAP / PG_URL_BASE and FAIL (never skip) when those are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var/log

started=0
cleanup() {
  if [ "$started" = 1 ]; then .venv/bin/bureau stack down || true; fi
}
trap cleanup EXIT

t0=$(date +%s)
if [ -x scripts/ensure-kustomize.sh ]; then bash scripts/ensure-kustomize.sh; fi
{ bash scripts/ensure-fonts.sh && bash scripts/ensure-chromium.sh; } >/dev/null || echo "rating report tests will fail: see above" >&2  # CJK font, headless chromium
export PATH="${CARBON_CACHE:-$HOME/.cache/carbon-bureau}/bin:$PATH"

started=1  # before `stack up`: a start that fails half-way (Kafka's port taken) still stops PostgreSQL
.venv/bin/bureau stack up
eval "$(.venv/bin/bureau stack env)"
echo "stack ready in $(( $(date +%s) - t0 ))s: KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP PG_URL_BASE=$PG_URL_BASE"

set +e
.venv/bin/pytest -p no:cacheprovider --durations=15 "$@"
rc=$?
set -e
echo "make test finished in $(( $(date +%s) - t0 ))s with exit code $rc"
exit $rc
