#!/usr/bin/env bash
# make bench: the pilot replay through the real stack (Kafka + PostgreSQL + four service processes).
# Starts Kafka/PostgreSQL only if they are not already running and stops only what it started.
# Arguments (or BENCH_ARGS) go to `python -m carbon_bureau.bench run`, e.g.
#   BENCH_ARGS='--enterprises 100 --months 12' make bench      # the quick run
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var/log

status=$(.venv/bin/bureau stack status 2>/dev/null || true)
kafka_running=0; pg_running=0
grep -E '^│ kafka ' <<<"$status" | grep -q 'ready' && kafka_running=1
grep -E '^│ postgres ' <<<"$status" | grep -q 'ready' && pg_running=1

start_args=()
[ "$kafka_running" = 1 ] && start_args+=(--no-kafka)
[ "$pg_running" = 1 ] && start_args+=(--no-postgres)

cleanup() {
  stop_args=()
  [ "$kafka_running" = 1 ] && stop_args+=(--no-kafka)
  [ "$pg_running" = 1 ] && stop_args+=(--no-postgres)
  if [ "${#stop_args[@]}" -lt 2 ]; then .venv/bin/bureau stack down "${stop_args[@]}" || true; fi
}

if [ "${#start_args[@]}" -lt 2 ]; then
  trap cleanup EXIT
  .venv/bin/bureau stack up "${start_args[@]}"
else
  echo "using the running stack (Kafka and PostgreSQL already up; left running afterwards)"
fi
eval "$(.venv/bin/bureau stack env)"
# shellcheck disable=SC2086  # BENCH_ARGS is a list of options on purpose
.venv/bin/python -m carbon_bureau.bench run ${BENCH_ARGS:-} "$@"
