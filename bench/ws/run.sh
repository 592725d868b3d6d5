#!/usr/bin/env bash
# bench/ws/run.sh — StackHub's WebSocket benchmark. See bench/ws/README.md.
#
# Usage:   bash bench/ws/run.sh [ws flags...]     (from anywhere inside the repository)
#          e.g. bash bench/ws/run.sh -conns 2000 -duration 5s
# Knobs:   BENCH_REV    benchmark a git revision (e.g. HEAD) instead of the working tree: it is extracted to a
#                       temp dir with `git archive`, and this bench/ is copied over it
# Output:  printed, and written to bench/results/ws-<UTC date-time>.md (git-ignored).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# 10,000 connections take 10,000 descriptors in the server and as many in this generator, plus their event-stream
# connections later: raise the soft limit as far as the hard one allows (the server inherits it), and try to raise
# the hard one first (root outside a container can).
ulimit -Hn 65536 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)"
need=10100
if [[ $(ulimit -n) != unlimited && $(ulimit -n) -lt $need ]]; then
  echo "run.sh: the file limit is $(ulimit -n); 10,000 connections need about $need (try -conns N)" >&2
fi

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_prepare ws
echo "building bench/ws; file limit $(ulimit -n)" >&2
go build -o "$WORK/ws" ./bench/ws
"$WORK/ws" -out "$OUT" "$@"
echo "results written to $OUT" >&2
