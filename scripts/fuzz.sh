#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (default 3s; `make fuzz` uses longer).
#
# Targets are found in the sources (func FuzzXxx(f *testing.F) in *_test.go), so a new one is picked up without
# editing this script. `go test -fuzz` takes one target in one package per run, hence the loop. The generated
# corpus lives in Go's cache (go env GOCACHE), not in the repository; a failing input is written to the package's
# testdata/fuzz/FuzzXxx/ by go test, which then fails: a real bug, to fix and commit as a regression case.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-3s}

targets=()
while IFS=: read -r file decl; do
	name=${decl#func }
	targets+=("$(dirname "$file") ${name%%(*}")
done < <(grep -rE --exclude-dir=.git --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . | sort)
if [ "${#targets[@]}" -eq 0 ]; then
	echo "fuzz.sh: no fuzz targets found" >&2
	exit 1
fi

failed=()
for t in "${targets[@]}"; do
	read -r dir name <<<"$t"
	echo "== fuzz $dir $name for $FUZZTIME"
	if ! "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$dir"; then
		failed+=("$dir $name")
	fi
done
if [ "${#failed[@]}" -gt 0 ]; then
	printf 'fuzz.sh: failed: %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets passed"
