#!/usr/bin/env bash
# bench/footprint/run.sh — StackHub's idle footprint: RSS and CPU of `stackhub serve` with 0 and 20 apps.
# See bench/README.md ("Idle footprint").
#
# Usage:   bash bench/footprint/run.sh            (from anywhere inside the repository)
# Knobs:   BENCH_FLAGS  more flags for bench/footprint, e.g. "-apps 40" or "-window 60s" (see -help)
#          BENCH_REV    benchmark a git revision (e.g. HEAD) instead of the working tree: it is extracted to a
#                       temp dir with `git archive`, and this bench/ is copied over it
#          DOCKER_HOST  the Docker Engine; read from /tmp/stackhub-testenv.env when that file exists
# Output:  bench/results/footprint-<UTC date-time>.md (git-ignored), also printed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_prepare footprint
go build -o "$WORK/footprint" ./bench/footprint
# shellcheck disable=SC2086 # word splitting wanted: a list of flags
"$WORK/footprint" -out "$OUT" ${BENCH_FLAGS:-}
echo "results written to $OUT" >&2
