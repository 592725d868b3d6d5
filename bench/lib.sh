# bench/lib.sh — what every benchmark script does first. Source it from the repository root, then call
# bench_prepare NAME.
#
# bench_prepare NAME sources /tmp/stackhub-testenv.env when it exists (DOCKER_HOST, STACKHUB_TEST_POSTGRES),
# sets STAMP (UTC date-time), OUT (bench/results/NAME-STAMP.md) and WORK (a temp dir removed on exit; a script
# with more to clean replaces the EXIT trap and removes WORK itself), and exports BENCH_SOURCE, the line that
# says what is benchmarked: the Go programs print it because, under BENCH_REV, they run in an extracted tree
# without .git. With BENCH_REV set, that revision is extracted to WORK/src with `git archive`, this bench/ is
# copied over it, and the script continues from there.

bench_prepare() {
  local name=$1
  if [[ -f /tmp/stackhub-testenv.env ]]; then
    # shellcheck disable=SC1091
    . /tmp/stackhub-testenv.env
  fi
  STAMP=$(date -u +%Y%m%d-%H%M%S)
  mkdir -p bench/results
  OUT=$PWD/bench/results/$name-$STAMP.md
  WORK=$(mktemp -d "/tmp/stackhub-$name-run.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT

  local commit rev
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [[ -n $(git status --porcelain 2>/dev/null) ]]; then commit="$commit (with uncommitted changes)"; fi
  BENCH_SOURCE="working tree at commit $commit"
  if [[ -n ${BENCH_REV:-} ]]; then
    rev=$(git rev-parse --short "$BENCH_REV^{commit}")
    BENCH_SOURCE="git revision $rev (BENCH_REV=$BENCH_REV), with bench/ from the working tree"
    mkdir -p "$WORK/src"
    git archive "$rev" | tar -x -C "$WORK/src"
    rm -rf "$WORK/src/bench"
    tar -cf - --exclude=bench/results bench | tar -x -C "$WORK/src"
    cd "$WORK/src"
  fi
  export BENCH_SOURCE
  echo "benchmarking the $BENCH_SOURCE" >&2
}
