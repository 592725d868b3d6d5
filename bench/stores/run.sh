#!/usr/bin/env bash
# Store page server time at the full size (docs/stores.md, "All stores in one").
#
#   bench/stores/run.sh BINARY DATADIR [STORE_DIR...]
#
# Starts BINARY (`stackhub serve`, SQLite in DATADIR, loopback ports, --log-level debug), imports each STORE_DIR
# with `stackhub catalog import` when given (an empty DATADIR, once), then requests each page N times (after 5
# warm-ups) one at a time and reads the server time of each from the request log (`dur`, matched by
# X-Request-Id). Prints median / p90 / max per page and the load average before and after. The same DATADIR
# can be served again by another binary (a newer one migrates it), to compare two builds on one catalog.
set -euo pipefail
bin=$1 data=$2; shift 2
N=${N:-50}
QUERIES=${QUERIES:-"/ /?q=nextcloud /?q=db /?q=zzzzqqq /?category=1 /?page=10"}
mkdir -p "$data"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ws=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log="$data/serve.log"
export DOGETOK=bench-stores-token
env -u DATABASE_URL -u STACKHUB_DATA_DIR "$bin" serve --listen "127.0.0.1:$port" --ws-listen "127.0.0.1:$ws" \
	--data-dir "$data" --log-level debug --source-sync 0 >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$port/api/v1/health" >/dev/null && break; sleep 0.1; done
export STACKHUB_URL="http://127.0.0.1:$port" STACKHUB_TOKEN=$DOGETOK
if [ $# -gt 0 ]; then
	start=$(date +%s.%N)
	for d in "$@"; do "$bin" catalog import "$d" | tail -1; done
	echo "import: $(python3 -c "print(round($(date +%s.%N)-$start,1))") s"
fi
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for q in $QUERIES; do
	for i in $(seq 1 $((N + 5))); do
		curl -fs -o /dev/null -H "X-Request-Id: bench-$i-$(echo "$q" | md5sum | cut -c1-8)" "http://127.0.0.1:$port$q"
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
sleep 0.5
python3 - "$log" "$N" $QUERIES <<'PY'
import sys, re, hashlib
log, n, qs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
unit = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1, "s": 1000}
def ms(d):
    # Go's Duration text, e.g. 1.5ms, 320µs, 1m2.5s
    total = 0.0
    for v, u in re.findall(r"([0-9.]+)(ns|µs|us|ms|s|m|h)", d):
        total += float(v) * (unit.get(u) or {"m": 60000, "h": 3600000}[u])
    return total
durs = {}
for line in open(log, encoding="utf-8", errors="replace"):
    m = re.search(r"id=bench-(\d+)-(\w{8}) .* dur=(\S+)", line)
    if m:
        durs.setdefault(m.group(2), []).append((int(m.group(1)), ms(m.group(3))))
for q in qs:
    h = hashlib.md5((q + "\n").encode()).hexdigest()[:8]
    d = sorted(v for i, v in durs.get(h, []) if i > 5)
    if not d:
        print(f"{q}: no samples"); continue
    pct = lambda p: d[min(len(d) - 1, max(0, -(-p * len(d) // 100) - 1))]
    print(f"{q:24} n={len(d)} median {pct(50):.1f} ms  p90 {pct(90):.1f} ms  max {d[-1]:.1f} ms")
PY
