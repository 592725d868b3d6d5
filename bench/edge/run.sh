#!/usr/bin/env bash
# bench/edge/run.sh — StackHub's edge benchmark: the same app direct, through StackHub's edge and through Caddy.
# See bench/README.md ("bench/edge").
#
# Usage:   bash bench/edge/run.sh [edge flags...]     (from anywhere inside the repository)
#          e.g. bash bench/edge/run.sh -duration 5s -clients 20
# Knobs:   CADDY_VERSION  the Caddy release to build (default v2.11.9)
#          CADDY          a caddy binary to use instead of building one
#          BENCH_REV      benchmark a git revision instead of the working tree (see bench/lib.sh)
# Output:  printed, and written to bench/results/edge-<UTC date-time>.md (git-ignored).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_prepare edge

# Caddy is built here, in a module of its own outside the repository, so it never enters StackHub's go.mod or
# `go list ./...`. The module is kept in the user cache: a second run only relinks.
CADDY_VERSION=${CADDY_VERSION:-v2.11.9}
caddy_note=""
if [[ -z ${CADDY:-} ]]; then
  mod=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/stackhub-bench/caddy-$CADDY_VERSION
  mkdir -p "$mod"
  cat >"$mod/main.go" <<'GO'
// Caddy with its standard modules, as `xcaddy build` makes it without plugins.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() { caddycmd.Main() }
GO
  echo "building Caddy $CADDY_VERSION in $mod" >&2
  if (cd "$mod" && { [[ -f go.mod ]] || go mod init stackhub-bench-caddy; } &&
    go get "github.com/caddyserver/caddy/v2@$CADDY_VERSION" && go mod tidy &&
    CGO_ENABLED=0 go build -o caddy .) >"$WORK/caddy-build.log" 2>&1; then
    CADDY=$mod/caddy
  else
    caddy_note="the Caddy $CADDY_VERSION build failed: $(tail -n 3 "$WORK/caddy-build.log" | tr '\n' ' ')"
    echo "run.sh: $caddy_note; measuring direct and the edge only" >&2
    CADDY=""
  fi
fi

echo "building bench/edge" >&2
go build -o "$WORK/edge" ./bench/edge
"$WORK/edge" -work "$WORK" -caddy "$CADDY" -caddy-note "$caddy_note" -out "$OUT" "$@"
echo "results written to $OUT" >&2
