#!/usr/bin/env bash
# bench/install/run.sh — StackHub's install overhead: installApp until status "1" next to `docker run -d` of the
# same container. See bench/README.md ("Install overhead").
#
# Usage:   bash bench/install/run.sh            (from anywhere inside the repository)
# Knobs:   BENCH_FLAGS  more flags for bench/install, e.g. "-runs 20" or "-variants plain" (see -help)
#          BENCH_REV    benchmark a git revision (e.g. HEAD) instead of the working tree: it is extracted to a
#                       temp dir with `git archive`, and this bench/ is copied over it
#          DOCKER_HOST  the Docker Engine; read from /tmp/stackhub-testenv.env when that file exists
# Output:  bench/results/install-<UTC date-time>.md (git-ignored), also printed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_prepare install
go build -o "$WORK/install" ./bench/install
# shellcheck disable=SC2086 # word splitting wanted: a list of flags
"$WORK/install" -out "$OUT" ${BENCH_FLAGS:-}
echo "results written to $OUT" >&2
