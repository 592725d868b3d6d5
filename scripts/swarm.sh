#!/usr/bin/env bash
# scripts/swarm.sh — a two-node Docker Swarm on this one machine, for the Swarm engine's tests.
#
# Usage:   bash scripts/swarm.sh up      start it (or reuse a healthy one); writes the env file
#          bash scripts/swarm.sh down    stop it and remove everything it made
#          bash scripts/swarm.sh env     print the env file (fails when the swarm is not up)
#
# Must run as root. The main Docker Engine (DOCKER_HOST) is not touched.
#
# What `up` builds:
#   * two network namespaces, stackhub-swarm1 and stackhub-swarm2; each node's dockerd runs in its own one
#     (started with `nsenter --net=/run/netns/...`: `ip netns exec` remounts /sys and breaks dockerd's cgroup
#     mounts) and in its own UTS namespace, so the nodes have distinct hostnames (stackhub-swarm1, -swarm2);
#   * point-to-point links, no bridge (so the host's FORWARD policy and br_netfilter never see the traffic):
#     one veth pair between the two nodes, one between the host and each node. Node N answers on
#     10.213.0.1N (node 1: 10.213.0.11, node 2: 10.213.0.12) on both of its links; the host is 10.213.0.1.
#     Host-mode published ports answer at those addresses, from the host and from the main engine's containers
#     (the host routes and masquerades for them);
#   * per node: --data-root /tmp/stackhub-swarm/nodeN, --exec-root /run/stackhub-swarm/nodeN (its own
#     containerd), socket unix:///run/stackhub-swarm/nodeN.sock, its own pid file and empty config file, local
#     networks from 10.214.0.0/16 (not the main engine's 172.20.0.0/14), iptables on;
#   * `docker swarm init` on node 1 (overlay networks from 10.215.0.0/16), `docker swarm join` of node 2 as a
#     worker;
#   * images on each node (nothing can be pulled here): the main engine's stackhub-testenv-probe:latest (saved and
#     loaded; see scripts/testenv.sh) and stackhub-swarm-app:latest, built here: a FROM-scratch static Go server
#     (entrypoint /app) that answers GET / with "hello from <container hostname> on <$NODE or ?>", stores
#     PUT /data/<key> bodies as files under $DATA_DIR (default /data) and serves them back on GET /data/<key>;
#     `/app get URL` exits 0 on a 2xx (for healthchecks).
#
# Result: /tmp/stackhub-swarm.env with `export K='V'` lines:
#   STACKHUB_TEST_SWARM          1 (the swarm answers)
#   STACKHUB_TEST_SWARM_MANAGER  unix:///run/stackhub-swarm/node1.sock (node 1, the manager and leader)
#   STACKHUB_TEST_SWARM_WORKER   unix:///run/stackhub-swarm/node2.sock (node 2, a worker)
#   STACKHUB_TEST_SWARM_ADDRS    10.213.0.11,10.213.0.12 (node 1, node 2)
#   STACKHUB_TEST_SWARM_HOSTNAMES stackhub-swarm1,stackhub-swarm2
#   STACKHUB_TEST_SWARM_IMAGE    stackhub-swarm-app:latest
#
# A node can be stopped and started again by the tests (to see a node go down):
#   bash scripts/swarm.sh stop-node 2     SIGTERM its dockerd, wait until it is gone
#   bash scripts/swarm.sh start-node 2    start it again (it rejoins the swarm by itself)
#
# `up` is idempotent: a swarm whose two nodes answer and are ready is reused (in a second or two). `down`
# leaves no process, namespace, link, mount or directory behind. Each node costs about 140 MB.

set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

ENV_FILE=/tmp/stackhub-swarm.env
DATA=/tmp/stackhub-swarm
RUN=/run/stackhub-swarm
NET_PREFIX=10.213.0
HOST_ADDR=$NET_PREFIX.1
LOCAL_POOL=10.214.0.0/16
SWARM_POOL=10.215.0.0/16
APP_IMAGE=stackhub-swarm-app:latest
PROBE_IMAGE=stackhub-testenv-probe:latest
NODES=(1 2)

log() { printf '[swarm] %s\n' "$*" >&2; }
die() { printf '[swarm] ERROR: %s\n' "$*" >&2; exit 1; }

ns() { echo "stackhub-swarm$1"; }
addr() { echo "$NET_PREFIX.1$1"; }
sock() { echo "unix://$RUN/node$1.sock"; }
pidfile() { echo "$RUN/node$1.pid"; }
dk() { local n=$1; shift; timeout 60 docker -H "$(sock "$n")" "$@"; }

dockerd_pid() { # the node's dockerd pid, if it runs
  local pid
  pid=$(cat "$(pidfile "$1")" 2>/dev/null || true)
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && [[ "$(cat /proc/"$pid"/comm 2>/dev/null)" == dockerd ]]; then
    echo "$pid"
  fi
}

node_ok() { timeout 10 docker -H "$(sock "$1")" version >/dev/null 2>&1; }

swarm_healthy() { # both nodes answer, node 1 manages a swarm in which both nodes are ready
  local n
  for n in "${NODES[@]}"; do node_ok "$n" || return 1; done
  local states
  states=$(timeout 10 docker -H "$(sock 1)" node ls --format '{{.Hostname}} {{.Status}}' 2>/dev/null) || return 1
  for n in "${NODES[@]}"; do
    grep -qx "$(ns "$n") Ready" <<<"$states" || return 1
  done
  local sum
  sum=$(app_source)
  for n in "${NODES[@]}"; do
    dk "$n" image inspect "$PROBE_IMAGE" >/dev/null 2>&1 || return 1
    [[ $(app_sum_on "$n") == "$sum" ]] || return 1
  done
}

# The sum of the test app's source on node n's image ("" when the node lacks the image): an image built from an
# older source is built again.
app_sum_on() {
  dk "$1" image inspect -f '{{index .Config.Labels "io.stackhub.swarm-app.sum"}}' "$APP_IMAGE" 2>/dev/null || true
}

# ------------------------------------------------------------------ network
setup_net() {
  local n other
  for n in "${NODES[@]}"; do
    [[ -e /run/netns/$(ns "$n") ]] || ip netns add "$(ns "$n")"
    ip -n "$(ns "$n")" link set lo up
  done
  # host <-> node N: shsw-hN (host side) / shsw-h (node side)
  for n in "${NODES[@]}"; do
    if ! ip link show "shsw-h$n" >/dev/null 2>&1; then
      ip link add "shsw-h$n" type veth peer name shsw-h netns "$(ns "$n")"
    fi
    ip addr replace "$HOST_ADDR/32" dev "shsw-h$n"
    ip link set "shsw-h$n" up
    ip route replace "$(addr "$n")/32" dev "shsw-h$n" src "$HOST_ADDR"
    ip -n "$(ns "$n")" addr replace "$(addr "$n")/32" dev shsw-h
    ip -n "$(ns "$n")" link set shsw-h up
    ip -n "$(ns "$n")" route replace "$HOST_ADDR/32" dev shsw-h src "$(addr "$n")"
    # Anything else (the main engine's containers, masqueraded to the host address) goes through the host.
    ip -n "$(ns "$n")" route replace default via "$HOST_ADDR" dev shsw-h src "$(addr "$n")" onlink
  done
  # node 1 <-> node 2: shsw-peer on both sides
  if ! ip -n "$(ns 1)" link show shsw-peer >/dev/null 2>&1; then
    ip -n "$(ns 1)" link add shsw-peer type veth peer name shsw-peer netns "$(ns 2)"
  fi
  for n in "${NODES[@]}"; do
    other=$((3 - n))
    ip -n "$(ns "$n")" addr replace "$(addr "$n")/32" dev shsw-peer
    ip -n "$(ns "$n")" link set shsw-peer up
    ip -n "$(ns "$n")" route replace "$(addr "$other")/32" dev shsw-peer src "$(addr "$n")"
  done
}

# ------------------------------------------------------------------ dockerd
start_node() {
  local n=$1
  [[ -n "$(dockerd_pid "$n")" ]] && return 0
  mkdir -p "$DATA/node$n" "$RUN/node$n"
  [[ -f "$RUN/node$n.json" ]] || echo '{}' >"$RUN/node$n.json"
  rm -f "$(pidfile "$n")" "$RUN/node$n.sock"
  log "starting dockerd for node $n in netns $(ns "$n") (log: $DATA/node$n.log)"
  # DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: a task uses the node's image instead of first trying (for tens of
  # seconds, nothing answers here) to pull it. setsid: its own session, so it outlives the caller's process group
  # (make, CI step); 9>&-: do not hold
  # testenv.sh's lock.
  DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 setsid nsenter --net="/run/netns/$(ns "$n")" -- \
    unshare --uts -- sh -c 'hostname "$0" && exec "$@"' "$(ns "$n")" \
    /usr/sbin/dockerd \
    --config-file="$RUN/node$n.json" \
    --host="$(sock "$n")" \
    --data-root="$DATA/node$n" \
    --exec-root="$RUN/node$n" \
    --pidfile="$(pidfile "$n")" \
    --containerd-namespace="stackhub-swarm$n" \
    --containerd-plugins-namespace="stackhub-swarm$n-plugins" \
    --cgroup-parent="/stackhub-swarm$n" \
    --storage-driver=overlay2 \
    --default-address-pool="base=$LOCAL_POOL,size=24" \
    --iptables=true \
    </dev/null >>"$DATA/node$n.log" 2>&1 9>&- &
  disown || true
}

wait_node() {
  local n=$1 deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    node_ok "$n" && return 0
    sleep 0.2
  done
  tail -n 30 "$DATA/node$n.log" >&2 || true
  die "node $n's dockerd did not answer on $(sock "$n") within 60s"
}

stop_node() {
  local n=$1 pid
  pid=$(dockerd_pid "$n")
  [[ -n "$pid" ]] || return 0
  log "stopping node $n's dockerd (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
}

# Processes started for node n (its containerd, shims, docker-proxy...) that outlived their dockerd: their command
# line names the node's exec root or data root.
leftover_pids() {
  local n=$1 p
  for p in /proc/[0-9]*; do
    [[ -r $p/cmdline ]] || continue
    if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qE "($RUN|$DATA)/node$n([/ .]|$)|stackhub-swarm$n( |$)"; then
      echo "${p#/proc/}"
    fi
  done
}

# ------------------------------------------------------------------ images
# app_source writes the test app's source under $DATA/app and prints its sum.
app_source() {
  local dir=$DATA/app
  mkdir -p "$dir"
  cat >"$dir/main.go" <<'EOF'
// Test app for StackHub's Swarm tests (not product code); see scripts/swarm.sh.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"
	"time"
)

var keyRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "get" {
		c := http.Client{Timeout: 3 * time.Second}
		r, err := c.Get(os.Args[2])
		if err != nil || r.StatusCode >= 300 {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		r.Body.Close()
		return
	}
	addr := ":8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	dir := os.Getenv("DATA_DIR")
	if dir == "" {
		dir = "/data"
	}
	node := os.Getenv("NODE")
	if node == "" {
		node = "?"
	}
	// PID 1 in its container: without a handler, SIGTERM would be ignored and every stop would wait for SIGKILL.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; os.Exit(0) }()
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "hello from %s on %s\n", host, node)
	})
	http.HandleFunc("/data/", func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.Path[len("/data/"):]
		if !keyRe.MatchString(key) {
			http.Error(w, "bad key", http.StatusBadRequest)
			return
		}
		path := filepath.Join(dir, key)
		switch r.Method {
		case http.MethodPut:
			b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			b, err := os.ReadFile(path)
			if err != nil {
				http.Error(w, err.Error(), http.StatusNotFound)
				return
			}
			w.Write(b)
		}
	})
	fmt.Fprintln(os.Stderr, "listening on", addr)
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
EOF
  printf 'module stackhub-swarm-app\n\ngo 1.22\n' >"$dir/go.mod"
  local sum
  sum=$(cat "$dir/main.go" "$dir/go.mod" | sha256sum | cut -c1-16)
  cat >"$dir/Dockerfile" <<EOF
FROM scratch
COPY app /app
EXPOSE 8080
LABEL io.stackhub.swarm-app.sum=$sum
ENTRYPOINT ["/app"]
EOF
  echo "$sum"
}

build_app() {
  local dir=$DATA/app
  app_source >/dev/null
  if [[ ! -x $dir/app || $dir/main.go -nt $dir/app ]]; then
    (cd "$dir" && CGO_ENABLED=0 GOFLAGS= GOWORK=off GOTOOLCHAIN=local go build -o app .) \
      || die "could not build the swarm test app"
  fi
}

load_images() {
  local n
  if ! timeout 20 docker image inspect "$PROBE_IMAGE" >/dev/null 2>&1; then
    die "the main engine has no $PROBE_IMAGE (run scripts/testenv.sh first)"
  fi
  build_app
  for n in "${NODES[@]}"; do
    if ! dk "$n" image inspect "$PROBE_IMAGE" >/dev/null 2>&1; then
      timeout 60 docker save "$PROBE_IMAGE" | dk "$n" load -q >/dev/null || die "could not load $PROBE_IMAGE on node $n"
    fi
    if [[ $(app_sum_on "$n") != "$(app_source)" ]]; then
      DOCKER_BUILDKIT=0 dk "$n" build -q -t "$APP_IMAGE" "$DATA/app" >/dev/null \
        || die "could not build $APP_IMAGE on node $n"
    fi
  done
}

# ------------------------------------------------------------------ swarm
setup_swarm() {
  local state
  state=$(dk 1 info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}')
  if [[ $state != "active true" ]]; then
    [[ $state == inactive* ]] || dk 1 swarm leave --force >/dev/null 2>&1 || true
    log "swarm init on node 1 ($(addr 1))"
    dk 1 swarm init --advertise-addr "$(addr 1)" --listen-addr "$(addr 1):2377" \
      --default-addr-pool "$SWARM_POOL" --default-addr-pool-mask-length 24 >/dev/null
  fi
  local token
  token=$(dk 1 swarm join-token -q worker)
  state=$(dk 2 info --format '{{.Swarm.LocalNodeState}}')
  if [[ $state == active ]]; then # a member whose dockerd just started again: give it time to report ready
    local wait_until=$((SECONDS + 30))
    until swarm_has 2 || ((SECONDS >= wait_until)); do sleep 0.5; done
  fi
  if [[ $state != active ]] || ! swarm_has 2; then
    [[ $state == inactive* ]] || dk 2 swarm leave --force >/dev/null 2>&1 || true
    # A node that left is still listed as down; forget it so the list has exactly the two nodes.
    dk 1 node ls --format '{{.ID}} {{.Hostname}} {{.Status}}' | awk -v h="$(ns 2)" '$2==h && $3!="Ready"{print $1}' |
      while read -r id; do dk 1 node rm --force "$id" >/dev/null 2>&1 || true; done
    log "swarm join of node 2 ($(addr 2))"
    dk 2 swarm join --token "$token" --advertise-addr "$(addr 2)" --listen-addr "$(addr 2):2377" \
      "$(addr 1):2377" >/dev/null
  fi
  local deadline=$((SECONDS + 60))
  until swarm_has 2; do
    ((SECONDS < deadline)) || die "node 2 did not become ready in the swarm within 60s"
    sleep 0.2
  done
}

swarm_has() { # node n is listed ready by the manager
  timeout 10 docker -H "$(sock 1)" node ls --format '{{.Hostname}} {{.Status}}' 2>/dev/null | grep -qx "$(ns "$1") Ready"
}

write_env() {
  local tmp
  tmp=$(mktemp "$ENV_FILE.XXXXXX")
  {
    echo "# written by scripts/swarm.sh on $(date -Is)"
    echo "export STACKHUB_TEST_SWARM='1'"
    echo "export STACKHUB_TEST_SWARM_MANAGER='$(sock 1)'"
    echo "export STACKHUB_TEST_SWARM_WORKER='$(sock 2)'"
    echo "export STACKHUB_TEST_SWARM_ADDRS='$(addr 1),$(addr 2)'"
    echo "export STACKHUB_TEST_SWARM_HOSTNAMES='$(ns 1),$(ns 2)'"
    echo "export STACKHUB_TEST_SWARM_IMAGE='$APP_IMAGE'"
  } >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$ENV_FILE"
}

cmd_up() {
  if swarm_healthy; then
    write_env
    log "swarm already up"
    return 0
  fi
  local t0=$SECONDS n
  setup_net
  for n in "${NODES[@]}"; do start_node "$n"; done
  for n in "${NODES[@]}"; do wait_node "$n"; done
  setup_swarm
  load_images
  swarm_healthy || die "the swarm is not healthy after up"
  write_env
  log "swarm up in $((SECONDS - t0))s: manager $(sock 1) ($(addr 1)), worker $(sock 2) ($(addr 2))"
}

cmd_down() {
  local n pid
  rm -f "$ENV_FILE"
  for n in "${NODES[@]}"; do stop_node "$n"; done
  for n in "${NODES[@]}"; do
    for pid in $(leftover_pids "$n"); do
      log "killing leftover process $pid of node $n"
      kill "$pid" 2>/dev/null || true
    done
  done
  sleep 0.5
  for n in "${NODES[@]}"; do
    for pid in $(leftover_pids "$n"); do kill -9 "$pid" 2>/dev/null || true; done
  done
  # Mounts the daemons left (overlay layers, netns bind mounts, shm), deepest first.
  local m
  awk -v a="$DATA/" -v b="$RUN/" 'index($2, a) == 1 || index($2, b) == 1 {print $2}' /proc/self/mounts |
    sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  for n in "${NODES[@]}"; do
    ip link del "shsw-h$n" 2>/dev/null || true
    ip netns del "$(ns "$n")" 2>/dev/null || true
  done
  rm -rf "$DATA" "$RUN"
  log "swarm down"
}

cmd_env() {
  swarm_healthy || die "the swarm is not up (bash scripts/swarm.sh up)"
  cat "$ENV_FILE"
}

[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, dockerd)"
case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env ;;
  stop-node) [[ ${2:-} == [12] ]] || die "usage: $0 stop-node 1|2"; stop_node "$2" ;;
  start-node)
    [[ ${2:-} == [12] ]] || die "usage: $0 start-node 1|2"
    start_node "$2"
    wait_node "$2"
    ;;
  *) die "usage: $0 up|down|env|stop-node N|start-node N" ;;
esac
