#!/usr/bin/env bash
# Local real stack (Kafka + PostgreSQL as plain processes): up | down | status | env.
#   scripts/stack.sh up && eval "$(scripts/stack.sh env)"
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m carbon_bureau.stack "$@"
