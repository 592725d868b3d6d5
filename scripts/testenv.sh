#!/usr/bin/env bash
# scripts/testenv.sh — prepare everything the StackHub test suite needs.
#
# Usage:   bash scripts/testenv.sh        (or: make testenv)
#          . scripts/testenv.sh           (same, and also exports the variables
#                                          into the calling bash shell)
#
# Idempotent: anything already installed / running is reused, so a second run
# takes well under a second. Must run as root (CI runs it as root).
#
# What it sets up:
#   * Docker Engine (Debian's docker.io; dockerd started in the background,
#     log in /tmp/stackhub-dockerd.log). Whenever this script starts dockerd
#     (or the probe image is missing) it smoke-tests it for real: builds a tiny
#     FROM-scratch image, publishes a port on 127.0.0.1, creates a user network
#     and checks container-to-container DNS + a healthcheck.
#   * PostgreSQL 15 throw-away cluster run by the system user stackhub-pg,
#     data in /tmp/stackhub-pg/data, listening on 127.0.0.1:55432 only,
#     socket dir /tmp/stackhub-pg; role stackhub/stackhub (LOGIN CREATEDB)
#     owning database stackhub_test.
#   * Debian's chromium (for UI tests).
#   * A two-node Docker Swarm: two more dockerd in their own network namespaces (scripts/swarm.sh; the main
#     engine is not touched). `bash scripts/swarm.sh down` removes it.
#
# Result: /tmp/stackhub-testenv.env with `export K='V'` lines:
#   STACKHUB_TEST_POSTGRES      postgres://stackhub:stackhub@127.0.0.1:55432/stackhub_test?sslmode=disable
#   STACKHUB_TEST_CHROME        /usr/bin/chromium
#   STACKHUB_TEST_DOCKER        1 (Docker Engine answers)
#   STACKHUB_TEST_PROBE_IMAGE   stackhub-testenv-probe:latest — a local FROM-scratch
#                               image (nothing can be pulled here). Entrypoint
#                               /probe: `[ADDR]` serves HTTP on ADDR (default
#                               :8080) answering "hello from <hostname>";
#                               `get URL` exits 0 on a 2xx/3xx (usable as an
#                               exec-form healthcheck: ["/probe","get","http://127.0.0.1:8080/"]).
#   DOCKER_HOST                 the daemon socket in use
#   STACKHUB_TEST_SWARM*        the two-node test Swarm (scripts/swarm.sh up; see there)
#
# Knobs (environment):
#   STACKHUB_DOCKERD_FLAGS      override the dockerd flags (space separated)
#   STACKHUB_TESTENV_SMOKE=1    force the Docker smoke test even if nothing started
#   STACKHUB_PG_BINDIR          PostgreSQL bin dir (default /usr/lib/postgresql/15/bin)

_stackhub_testenv_main() (
  set -euo pipefail

  export PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  export DEBIAN_FRONTEND=noninteractive

  local ENV_FILE=/tmp/stackhub-testenv.env
  local DOCKERD_LOG=/tmp/stackhub-dockerd.log
  local PG_USER=stackhub-pg
  local PG_ROOT=/tmp/stackhub-pg
  local PG_DATA=$PG_ROOT/data
  local PG_PORT=55432
  local PG_LOG=$PG_ROOT/postgres.log
  local PG_URL="postgres://stackhub:stackhub@127.0.0.1:${PG_PORT}/stackhub_test?sslmode=disable"
  local CHROME=/usr/bin/chromium
  local PROBE_IMAGE=stackhub-testenv-probe:latest
  local DOCKER_SOCK_DEFAULT=unix:///var/run/docker.sock

  # dockerd flags that work on this machine kind (kernel has overlayfs, bridge,
  # veth and nf_tables; Debian's iptables uses the nft backend). Defaults are
  # fine except the address pool: the product creates one Compose network per
  # stack, and Docker's stock pools run out after ~30 networks, so hand out
  # /24s instead (1024 of them).
  local -a DOCKERD_FLAGS=(
    --host="$DOCKER_SOCK_DEFAULT"
    --storage-driver=overlay2
    --default-address-pool=base=172.20.0.0/14,size=24
  )
  # Fallback if overlay2 cannot be used (e.g. /var/lib/docker on a filesystem
  # overlayfs refuses): vfs (slower, more disk; images here are tiny).
  # iptables stays ON: with --iptables=false the user-network embedded DNS
  # (service names) does not work, and after any earlier iptables=true run the
  # FORWARD policy is DROP with br_netfilter on, so new bridges cannot talk.
  local -a DOCKERD_FALLBACK_FLAGS=(
    --host="$DOCKER_SOCK_DEFAULT"
    --storage-driver=vfs
    --default-address-pool=base=172.20.0.0/14,size=24
  )
  if [[ -n "${STACKHUB_DOCKERD_FLAGS:-}" ]]; then
    read -r -a DOCKERD_FLAGS <<<"$STACKHUB_DOCKERD_FLAGS"
    DOCKERD_FALLBACK_FLAGS=()
  fi

  log() { printf '[testenv] %s\n' "$*" >&2; }
  die() { printf '[testenv] ERROR: %s\n' "$*" >&2; exit 1; }

  [[ $(id -u) -eq 0 ]] || die "must run as root (installs packages, starts dockerd)"

  # One run at a time (make -j, two shells...).
  # Daemons started below get `9>&-` so they do not inherit (and hold) the lock.
  exec 9>/tmp/stackhub-testenv.lock
  if ! flock -n 9; then
    log "another testenv.sh is running; waiting for /tmp/stackhub-testenv.lock"
    flock -w 300 9 || die "could not get /tmp/stackhub-testenv.lock"
  fi

  local APT_UPDATED=0
  apt_install() {
    if [[ $APT_UPDATED -eq 0 ]]; then
      log "apt-get update"
      apt-get -q -o DPkg::Lock::Timeout=300 update </dev/null >&2 || die "apt-get update failed"
      APT_UPDATED=1
    fi
    log "apt-get install $*"
    apt-get -y -q --no-install-recommends \
      -o DPkg::Lock::Timeout=300 \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
      install "$@" </dev/null >&2 || die "apt-get install $* failed"
  }

  # ------------------------------------------------------------------ docker
  local DOCKER_HOST_VAL=${DOCKER_HOST:-$DOCKER_SOCK_DEFAULT}

  docker_ok() { timeout 20 docker info >/dev/null 2>&1; }

  dockerd_pid() {
    local pid
    pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null \
       && [[ "$(cat /proc/"$pid"/comm 2>/dev/null)" == dockerd ]]; then
      echo "$pid"
    fi
  }

  wait_docker() { # $1 = seconds; fails early if dockerd died
    local deadline=$((SECONDS + $1)) pid
    pid=$(dockerd_pid)
    while ((SECONDS < deadline)); do
      docker_ok && return 0
      if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
      [[ -z "$pid" ]] && pid=$(dockerd_pid)
      sleep 0.5
    done
    return 1
  }

  stop_dockerd() {
    local pid
    pid=$(dockerd_pid)
    [[ -n "$pid" ]] || return 0
    log "stopping dockerd (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    sleep 1
  }

  start_dockerd() { # args: flags
    log "starting dockerd $* (log: $DOCKERD_LOG)"
    printf '\n==== %s dockerd %s\n' "$(date -Is)" "$*" >>"$DOCKERD_LOG"
    # A pid file left by a killed dockerd makes a new one refuse to start if
    # the pid got reused; dockerd_pid() already said no dockerd owns it.
    [[ -n "$(dockerd_pid)" ]] || rm -f /var/run/docker.pid
    # setsid: own session, so it outlives make / the CI step's process group.
    setsid /usr/sbin/dockerd "$@" </dev/null >>"$DOCKERD_LOG" 2>&1 9>&- &
    disown || true
    if wait_docker 60; then
      log "dockerd is up"
      return 0
    fi
    log "dockerd did not come up; last log lines:"
    tail -n 25 "$DOCKERD_LOG" >&2 || true
    stop_dockerd
    return 1
  }

  docker_smoke() {
    local dir=/tmp/stackhub-testenv-probe net=stackhub-testenv-smoke
    local srv=stackhub-testenv-smoke-srv
    log "docker smoke test (image, 127.0.0.1 port publishing, user network, healthcheck)"
    mkdir -p "$dir"
    cat >"$dir/main.go" <<'EOF'
// Probe server for the StackHub test environment (not product code).
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "get" {
		c := http.Client{Timeout: 3 * time.Second}
		r, err := c.Get(os.Args[2])
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		r.Body.Close()
		fmt.Println(r.Status)
		if r.StatusCode >= 400 {
			os.Exit(1)
		}
		return
	}
	addr := ":8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", host)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "listening on", ln.Addr())
	_ = http.Serve(ln, nil)
}
EOF
    printf 'module stackhub-testenv-probe\n\ngo 1.22\n' >"$dir/go.mod"
    cat >"$dir/Dockerfile" <<'EOF'
FROM scratch
COPY probe /probe
EXPOSE 8080
HEALTHCHECK --interval=1s --timeout=3s --retries=3 CMD ["/probe", "get", "http://127.0.0.1:8080/"]
ENTRYPOINT ["/probe"]
EOF
    (cd "$dir" && CGO_ENABLED=0 GOFLAGS= GOWORK=off GOTOOLCHAIN=local go build -o probe .) \
      || die "could not build the probe binary"
    DOCKER_BUILDKIT=0 docker build -q -t "$PROBE_IMAGE" "$dir" >/dev/null 2>"$dir/build.err" \
      || { cat "$dir/build.err" >&2; die "docker build of the probe image failed"; }

    docker rm -f "$srv" >/dev/null 2>&1 || true
    docker network rm "$net" >/dev/null 2>&1 || true
    docker network create "$net" >/dev/null || die "docker network create failed"
    docker run -d --name "$srv" --network "$net" --network-alias probe-alias \
      -p 127.0.0.1::8080 "$PROBE_IMAGE" >/dev/null || die "docker run failed"
    local hostport ok=0
    hostport=$(docker port "$srv" 8080/tcp | head -n1 | sed 's/.*://')
    for _ in $(seq 1 40); do
      if "$dir/probe" get "http://127.0.0.1:${hostport}/" >/dev/null 2>&1; then ok=1; break; fi
      sleep 0.25
    done
    [[ $ok -eq 1 ]] || { docker logs "$srv" >&2 || true; die "published port 127.0.0.1:${hostport} not reachable"; }
    docker run --rm --network "$net" "$PROBE_IMAGE" get "http://${srv}:8080/" >/dev/null \
      || die "container-to-container (by name) on a user network failed"
    docker run --rm --network "$net" "$PROBE_IMAGE" get "http://probe-alias:8080/" >/dev/null \
      || die "container-to-container (by network alias) failed"
    ok=0
    for _ in $(seq 1 40); do
      [[ "$(docker inspect -f '{{.State.Health.Status}}' "$srv")" == healthy ]] && { ok=1; break; }
      sleep 0.25
    done
    [[ $ok -eq 1 ]] || die "healthcheck never became healthy"
    docker rm -f "$srv" >/dev/null
    docker network rm "$net" >/dev/null
    log "docker smoke test passed (published 127.0.0.1:${hostport}, DNS on user network, healthcheck)"
  }

  setup_docker() {
    local started=0
    if ! docker_ok; then
      if [[ ! -x /usr/sbin/dockerd ]] || ! command -v docker >/dev/null 2>&1; then
        apt_install docker.io
      fi
      [[ -x /usr/sbin/dockerd ]] || die "/usr/sbin/dockerd missing after installing docker.io"
      DOCKER_HOST_VAL=$DOCKER_SOCK_DEFAULT
      export DOCKER_HOST=$DOCKER_HOST_VAL
      # A dockerd that is still starting up gets a chance; a wedged one is restarted.
      if [[ -n "$(dockerd_pid)" ]] && ! wait_docker 30; then stop_dockerd; fi
      if ! docker_ok; then
        if ! start_dockerd "${DOCKERD_FLAGS[@]}"; then
          ((${#DOCKERD_FALLBACK_FLAGS[@]})) || die "dockerd failed to start (see $DOCKERD_LOG)"
          log "retrying with fallback flags"
          start_dockerd "${DOCKERD_FALLBACK_FLAGS[@]}" || die "dockerd failed to start (see $DOCKERD_LOG)"
        fi
        started=1
      fi
    fi
    if [[ $started -eq 1 || "${STACKHUB_TESTENV_SMOKE:-0}" == 1 ]] \
       || ! docker image inspect "$PROBE_IMAGE" >/dev/null 2>&1; then
      docker_smoke
    fi
  }

  # -------------------------------------------------------------- postgres
  setup_postgres() {
    local bindir=${STACKHUB_PG_BINDIR:-/usr/lib/postgresql/15/bin}
    if [[ ! -x "$bindir/postgres" ]]; then
      local d
      d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
      if [[ -n "$d" && -x "$d/postgres" ]]; then
        bindir=$d
      else
        apt_install postgresql-15
        bindir=/usr/lib/postgresql/15/bin
      fi
    fi

    if ! id -u "$PG_USER" >/dev/null 2>&1; then
      log "creating system user $PG_USER"
      useradd --system --user-group --no-create-home --home-dir "$PG_ROOT" \
        --shell /usr/sbin/nologin "$PG_USER"
    fi
    mkdir -p "$PG_ROOT"
    chown "$PG_USER:$PG_USER" "$PG_ROOT"
    chmod 0755 "$PG_ROOT"

    pgrun() { (cd / && runuser -u "$PG_USER" -- "$@"); }
    psql_admin() {
      pgrun "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_ROOT" -p "$PG_PORT" \
        -U postgres -d postgres "$@"
    }

    local running=0
    if [[ -f "$PG_DATA/PG_VERSION" ]] && pgrun "$bindir/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
      running=1
    fi

    if [[ $running -eq 0 ]]; then
      if [[ ! -f "$PG_DATA/PG_VERSION" ]] \
         || [[ "$(cat "$PG_DATA/PG_VERSION")" != "$("$bindir/postgres" -V | sed -E 's/^[^0-9]*([0-9]+).*/\1/')" ]]; then
        log "initdb $PG_DATA"
        rm -rf "$PG_DATA"
        pgrun "$bindir/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
          --auth-local=trust --auth-host=scram-sha-256 >"$PG_ROOT/initdb.log" 2>&1 \
          || { cat "$PG_ROOT/initdb.log" >&2; die "initdb failed"; }
        cat >>"$PG_DATA/postgresql.conf" <<EOF

# --- stackhub test cluster (scripts/testenv.sh) ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_ROOT'
max_connections = 300
# throw-away data: trade durability for speed
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
      fi
      if ss -Hltn "sport = :$PG_PORT" 2>/dev/null | grep -q .; then
        die "port 127.0.0.1:$PG_PORT is taken by something else: $(ss -Hltnp "sport = :$PG_PORT" 2>/dev/null)"
      fi
      rm -f "$PG_DATA/postmaster.pid" # stale (pg_ctl status said not running)
      log "starting postgres on 127.0.0.1:$PG_PORT (log: $PG_LOG)"
      # pg_ctl detaches the postmaster into its own session itself.
      pgrun "$bindir/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null 9>&- \
        || { tail -n 20 "$PG_LOG" >&2 || true; die "pg_ctl start failed"; }
    fi

    # Role + database (idempotent).
    psql_admin <<'EOF' >/dev/null
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stackhub') THEN
    CREATE ROLE stackhub LOGIN CREATEDB PASSWORD 'stackhub';
  ELSE
    ALTER ROLE stackhub LOGIN CREATEDB PASSWORD 'stackhub';
  END IF;
END
$$;
-- DROP DATABASE ... WITH (FORCE) in the tests' cleanup must also end a connection still authenticating (no role yet).
GRANT pg_signal_backend TO stackhub;
EOF
    if [[ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = 'stackhub_test'")" != 1 ]]; then
      psql_admin -c "CREATE DATABASE stackhub_test OWNER stackhub" >/dev/null
    fi
    psql_admin -c "ALTER DATABASE stackhub_test OWNER TO stackhub" >/dev/null
    psql_admin -d stackhub_test -c "ALTER SCHEMA public OWNER TO stackhub" >/dev/null

    # Check the exported URL for real (TCP + password).
    PGCONNECT_TIMEOUT=5 "$bindir/psql" -X -q "$PG_URL" -tAc 'SELECT 1' 2>&1 | grep -qx 1 \
      || die "cannot connect to $PG_URL"
    log "postgres ready: $PG_URL"
  }

  # -------------------------------------------------------------- chromium
  setup_chromium() {
    if [[ ! -x "$CHROME" ]]; then
      apt_install chromium fonts-liberation
    fi
    [[ -x "$CHROME" ]] || die "$CHROME missing after install"
    # certutil: the edge's browser test makes Chromium trust its test root in an NSS database of its own.
    if ! command -v certutil >/dev/null; then
      apt_install libnss3-tools
    fi
  }

  # ----------------------------------------------------------------- swarm
  # A two-node Docker Swarm beside the main engine (scripts/swarm.sh), for the Swarm engine's tests; its
  # variables (STACKHUB_TEST_SWARM*) join this env file.
  local SWARM_ENV=/tmp/stackhub-swarm.env
  setup_swarm() {
    bash "$(dirname "${BASH_SOURCE[0]}")/swarm.sh" up 9>&- || die "the test swarm did not start (scripts/swarm.sh up)"
  }

  local t0=$SECONDS
  setup_docker
  setup_postgres
  setup_chromium
  setup_swarm

  local tmp
  tmp=$(mktemp /tmp/stackhub-testenv.env.XXXXXX)
  {
    echo "# written by scripts/testenv.sh on $(date -Is)"
    echo "export STACKHUB_TEST_POSTGRES='$PG_URL'"
    echo "export STACKHUB_TEST_CHROME='$CHROME'"
    echo "export STACKHUB_TEST_DOCKER='1'"
    echo "export STACKHUB_TEST_PROBE_IMAGE='$PROBE_IMAGE'"
    echo "export DOCKER_HOST='$DOCKER_HOST_VAL'"
    grep '^export STACKHUB_TEST_SWARM' "$SWARM_ENV"
  } >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$ENV_FILE"
  log "test environment ready in $((SECONDS - t0))s; $ENV_FILE:"
  grep '^export' "$ENV_FILE"
)

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
  # Sourced: run in a subshell (no set -e leaking into the caller), then export.
  _stackhub_testenv_main && . /tmp/stackhub-testenv.env
  _stackhub_testenv_rc=$?
  unset -f _stackhub_testenv_main
  return $_stackhub_testenv_rc
else
  _stackhub_testenv_main
fi
