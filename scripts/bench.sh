#!/usr/bin/env bash
# make bench: the pilot replay through the real stack (Kafka + PostgreSQL + four service processes).
#
# The services' consumer groups and topics have fixed names, so a bench on the shared development
# broker races every other stack running against it (e2e tests, `make up`): their consumers join
# the same groups and take partitions. By default the bench therefore runs its own broker (KRaft,
# started with `bureau stack up` under var/bench-stack, port 19092) and stops it afterwards;
# BENCH_BROKER=shared uses the main stack's broker instead. PostgreSQL is the main stack's (each
# service gets a fresh database); it is started if needed and then stopped again.
# Arguments (or BENCH_ARGS) go to `python -m carbon_bureau.bench run`, e.g.
#   BENCH_ARGS='--enterprises 100 --months 12' make bench      # the quick run
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var/log
BUREAU=.venv/bin/bureau
BROKER=${BENCH_BROKER:-private}
PRIVATE=(env CARBON_ROOT="$PWD/var/bench-stack" CARBON_KAFKA_PORT="${BENCH_KAFKA_PORT:-19092}"
         CARBON_KAFKA_CONTROLLER_PORT="${BENCH_KAFKA_CONTROLLER_PORT:-19093}")

running() {  # running <kafka|postgres> [env prefix...]: is it up and answering?
  local what=$1; shift
  "$@" "$BUREAU" stack status 2>/dev/null | grep -E "^│ $what " | grep -q 'ready'
}

started_pg=0; started_kafka=0; started_private=0; ROOT_ENV=()
cleanup() {
  if [ "$started_private" = 1 ]; then "${PRIVATE[@]}" "$BUREAU" stack down --no-postgres || true; fi
  if [ "$started_kafka" = 1 ]; then "$BUREAU" stack down --no-postgres || true; fi
  if [ "$started_pg" = 1 ]; then "$BUREAU" stack down --no-kafka || true; fi
}
trap cleanup EXIT

# the quote load comes from wrk (C) so the client is not the bottleneck; Debian's package, as root
if ! command -v wrk >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get install -y -qq wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null 2>&1 \
    || echo "bench: wrk not installed; the quote load falls back to httpx"
fi

if ! running postgres; then "$BUREAU" stack up --no-kafka; started_pg=1; fi
eval "$("$BUREAU" stack env)"   # PG_URL_BASE (and the shared KAFKA_BOOTSTRAP)
if [ "$BROKER" = shared ]; then
  if ! running kafka; then "$BUREAU" stack up --no-postgres; started_kafka=1; fi
else
  # a fresh broker every run: a kept data folder would hand this run the last run's topics and
  # committed consumer offsets (an interrupted run's unconsumed events would then be replayed into
  # this run's fresh databases)
  if running kafka "${PRIVATE[@]}"; then "${PRIVATE[@]}" "$BUREAU" stack down --no-postgres; fi
  rm -rf "$PWD/var/bench-stack/var/stack/kafka"
  "${PRIVATE[@]}" "$BUREAU" stack up --no-postgres; started_private=1
  KAFKA_BOOTSTRAP=$("${PRIVATE[@]}" "$BUREAU" stack env | sed -n 's/^export KAFKA_BOOTSTRAP=//p')
  export KAFKA_BOOTSTRAP
  # the report reads the broker's version from its stack: CARBON_ROOT for the bench command only —
  # exported, it also pointed the exit trap's `stack down --no-kafka` at the bench stack, which left
  # the main stack's PostgreSQL running (and the next `make test` found its port taken)
  ROOT_ENV=(CARBON_ROOT="$PWD/var/bench-stack")
fi
echo "bench: KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP ($BROKER broker) PG_URL_BASE=$PG_URL_BASE"
# shellcheck disable=SC2086  # BENCH_ARGS is a list of options on purpose
env "${ROOT_ENV[@]}" .venv/bin/python -m carbon_bureau.bench run ${BENCH_ARGS:-} "$@"
