#!/usr/bin/env bash
# bench/run.sh — StackHub's load benchmark on SQLite and (when available) PostgreSQL. See bench/README.md.
#
# Usage:   bash bench/run.sh            (from anywhere inside the repository)
# Knobs:   BENCH_DURATION   measured time per endpoint (default 10s)
#          BENCH_WARMUP     unrecorded warm-up per endpoint (default 2s)
#          BENCH_CLIENTS    concurrent clients (default 50)
#          BENCH_FLAGS      more hubload flags, e.g. "-retries 0 -quiet-wait 0s" (see bench/README.md)
#          BENCH_REV        benchmark a git revision (e.g. HEAD) instead of the working tree: it is extracted
#                           to a temp dir with `git archive`, and this bench/ is copied over it
#          STACKHUB_TEST_POSTGRES  postgres:// DSN of a role with CREATEDB; read from /tmp/stackhub-testenv.env
#                           when that file exists. Unset: SQLite only.
# Output:  bench/results/hub-<UTC date-time>.md (git-ignored), also printed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_prepare hub

DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
CLIENTS=${BENCH_CLIENTS:-50}
PG_DB=""
PG_ADMIN=""
cleanup() {
  if [[ -n $PG_DB ]]; then
    psql "$PG_ADMIN" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null ||
      echo "run.sh: could not drop database $PG_DB" >&2
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT # replaces bench_prepare's: it also drops the throw-away database

echo "building bench/hubload" >&2
go build -o "$WORK/hubload" ./bench/hubload
ARGS=(-duration "$DURATION" -warmup "$WARMUP" -clients "$CLIENTS")
# shellcheck disable=SC2206 # word splitting wanted: a list of flags
ARGS+=(${BENCH_FLAGS:-})

{
  echo "# StackHub hub load benchmark — $STAMP"
  echo
  echo "- source: $BENCH_SOURCE"
  echo "- $(go version)"
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//') × $(nproc) — **only $(nproc) cores: the load generator, the server, the baseline and PostgreSQL all share them**, so every process steals CPU from the others. Read the ratios to the baseline, not the absolute req/s."
  echo "- memory: $(free -m 2>/dev/null | awk '/^Mem:/ {print $2 " MiB"}')"
  echo "- command: bash bench/run.sh (hubload ${ARGS[*]})"
  echo
} >"$OUT"

echo "== SQLite ==" >&2
mkdir -p "$WORK/sqlite"
"$WORK/hubload" "${ARGS[@]}" -database "$WORK/sqlite/stackhub.db" -out "$WORK/sqlite.md" >/dev/null
cat "$WORK/sqlite.md" >>"$OUT"

pg_skip() {
  echo "PostgreSQL skipped: $1" >&2
  printf '## PostgreSQL\n\nSkipped: %s.\n' "$1" >>"$OUT"
}
PG_NAME="stackhub_bench_${STAMP//-/_}_$$"
if [[ -z ${STACKHUB_TEST_POSTGRES:-} ]]; then
  pg_skip "STACKHUB_TEST_POSTGRES is not set"
elif ! command -v psql >/dev/null; then
  pg_skip "psql (used to create and drop the throw-away database) is not installed"
elif ! psql "$STACKHUB_TEST_POSTGRES" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $PG_NAME" >/dev/null; then
  pg_skip "could not create a database with STACKHUB_TEST_POSTGRES (is PostgreSQL running?)"
else
  echo "== PostgreSQL ==" >&2
  PG_ADMIN=$STACKHUB_TEST_POSTGRES
  PG_DB=$PG_NAME # from here on, cleanup drops it
  # Same server, user and parameters; only the database name changes.
  PG_DSN=$(sed -E "s#^(postgres(ql)?://[^/?]+)/?[^?]*#\1/$PG_DB#" <<<"$PG_ADMIN")
  {
    echo "PostgreSQL server: $(psql "$PG_DSN" -At -c 'SHOW server_version') on $(sed -E 's#^postgres(ql)?://([^@/]*@)?([^/?]*).*#\3#' <<<"$PG_ADMIN"); settings: $(psql "$PG_DSN" -At -F= -c "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('shared_buffers', 'fsync', 'synchronous_commit', 'max_connections', 'work_mem')")."
    echo
  } >"$WORK/postgres-settings.md"
  if "$WORK/hubload" "${ARGS[@]}" -database "$PG_DSN" -out "$WORK/postgres.md" >/dev/null; then
    # The engine's heading first, then the server's settings, then the rest of the report.
    { head -n 2 "$WORK/postgres.md"; cat "$WORK/postgres-settings.md"; tail -n +3 "$WORK/postgres.md"; } >>"$OUT"
  else
    pg_skip "hubload failed on PostgreSQL (its error is on stderr)"
  fi
fi

echo >&2
cat "$OUT"
echo >&2
echo "results written to $OUT" >&2
