#!/usr/bin/env bash
# Start, stop or show the local services of the buildsvc stack: dockerd, the registry
# (Distribution on 127.0.0.1:5000), redis-server (127.0.0.1:6379) and the base image
# buildsvc/busybox:latest, and forgesim (a local GitLab on 127.0.0.1:8929 for
# development). Idempotent: `start` leaves running services alone.
# State lives under var/ of the repository: var/run (pidfiles), var/log, var/registry, var/redis.
#
# The registry authenticates against buildsvc's token server: its config is what
# `buildsvc admin registry-config` prints (realm BUILDSVC_PUBLIC_URL/v2/token, default
# http://127.0.0.1:8080, the API `make run` starts; signing keys under var/registry).
# BUILDSVC_SERVICES_REGISTRY_AUTH=htpasswd starts the old htpasswd registry instead (user
# buildsvc, password in var/registry/password): benchmarks' baseline.
# BUILDSVC_SERVICES_PYTHON is the interpreter with buildsvc (default .venv/bin/python).
# A second stack on one machine (another checkout) takes other ports with
# BUILDSVC_SERVICES_REGISTRY_PORT, BUILDSVC_SERVICES_REDIS_PORT and
# BUILDSVC_SERVICES_FORGESIM_PORT; dockerd is shared.
#
# usage: scripts/services.sh start|stop|status|base-image   (status exits 3 when something is down)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="$ROOT/var"
RUN="$VAR/run"
LOG="$VAR/log"
REG_DIR="$VAR/registry"
REDIS_DIR="$VAR/redis"

DOCKER_SOCK=/var/run/docker.sock
REGISTRY_HOST=127.0.0.1
REGISTRY_PORT="${BUILDSVC_SERVICES_REGISTRY_PORT:-5000}"
REGISTRY_AUTH="${BUILDSVC_SERVICES_REGISTRY_AUTH:-token}"
PY="${BUILDSVC_SERVICES_PYTHON:-$ROOT/.venv/bin/python}"
REGISTRY_USER=buildsvc
REDIS_PORT="${BUILDSVC_SERVICES_REDIS_PORT:-6379}"
BASE_IMAGE=buildsvc/busybox:latest
FORGESIM_PORT="${BUILDSVC_SERVICES_FORGESIM_PORT:-8929}"
PY="${PY:-$ROOT/.venv/bin/python}" # a worktree may borrow another checkout's venv

DOCKERD_TIMEOUT="${DOCKERD_TIMEOUT:-60}"
REGISTRY_TIMEOUT="${REGISTRY_TIMEOUT:-20}"
REDIS_TIMEOUT="${REDIS_TIMEOUT:-10}"
FORGESIM_TIMEOUT="${FORGESIM_TIMEOUT:-20}"

BASE_ROOTFS=""
trap '[ -z "$BASE_ROOTFS" ] || rm -rf "$BASE_ROOTFS"' EXIT

say() { echo "services: $*"; }
fail() {
    echo "services: error: $*" >&2
    exit 1
}

# --- helpers ---------------------------------------------------------------------------

# pid_alive, wait_until, stop_pidfile, http_status, port_holder
# shellcheck source=scripts/lib/daemons.sh
. "$ROOT/scripts/lib/daemons.sh"

# --- dockerd ---------------------------------------------------------------------------

docker_ready() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

dockerd_diagnose() { # first-line-of-this-attempt -> explain why dockerd failed
    local log="$VAR/run/dockerd.attempt.log"
    tail -n "+$1" "$LOG/dockerd.log" >"$log" 2>/dev/null || true
    if pid_alive "$RUN/dockerd.pid"; then
        echo "services: error: dockerd (Docker engine) did not become ready within ${DOCKERD_TIMEOUT}s." >&2
    else
        echo "services: error: dockerd (Docker engine) exited during startup." >&2
        rm -f "$RUN/dockerd.pid"
    fi
    if grep -qiE 'operation not permitted|permission denied' "$log" 2>/dev/null; then
        echo "  cause: missing privileges (an unprivileged container cannot run dockerd)" >&2
    fi
    if grep -qiE 'cgroup' "$log" 2>/dev/null || [ ! -d /sys/fs/cgroup ]; then
        echo "  cause: cgroups not usable (no kernel support or /sys/fs/cgroup not mounted)" >&2
    fi
    if grep -qiE 'overlay|storage-driver|graphdriver' "$log" 2>/dev/null; then
        echo "  cause: storage driver problem (overlay: $(grep -c overlay /proc/filesystems) in /proc/filesystems)" >&2
    fi
    if grep -qiE 'address already in use|pid file found' "$log" 2>/dev/null; then
        echo "  cause: another dockerd seems to be running or left stale state in /var/run" >&2
    fi
    echo "  last lines of var/log/dockerd.log:" >&2
    tail -n 20 "$log" 2>/dev/null | sed 's/^/    /' >&2
    rm -f "$log"
    exit 1
}

dockerd_settled() { docker_ready || ! pid_alive "$RUN/dockerd.pid"; }

start_dockerd() {
    if docker_ready; then
        say "dockerd: running ($DOCKER_SOCK)"
        return 0
    fi
    command -v dockerd >/dev/null || fail "dockerd: not installed; run scripts/system-deps.sh"
    if [ "$(id -u)" -ne 0 ]; then
        fail "dockerd: cannot start: the Docker engine needs root (running as $(id -un)); start it as root or give this user access to a running $DOCKER_SOCK"
    fi
    local first_line
    first_line=$(($({ wc -l <"$LOG/dockerd.log"; } 2>/dev/null || echo 0) + 1))
    # bridge/iptables off: no netfilter needed; builds use host or none networking.
    setsid dockerd --iptables=false --ip6tables=false --bridge=none \
        </dev/null >>"$LOG/dockerd.log" 2>&1 9>&- &
    echo $! >"$RUN/dockerd.pid"
    wait_until "$DOCKERD_TIMEOUT" dockerd_settled || true
    docker_ready || dockerd_diagnose "$first_line"
    say "dockerd: started (pid $(cat "$RUN/dockerd.pid"), log var/log/dockerd.log)"
}

# --- registry --------------------------------------------------------------------------

registry_ready() { [ "$(http_status "$REGISTRY_HOST" "$REGISTRY_PORT" /v2/ 2>/dev/null)" = 401 ]; }

write_registry_config() {
    case "$REGISTRY_AUTH" in
    htpasswd) write_htpasswd_config ;;
    token) write_token_config ;;
    *) fail "registry: BUILDSVC_SERVICES_REGISTRY_AUTH must be htpasswd or token, not $REGISTRY_AUTH" ;;
    esac
}

write_token_config() {
    # buildsvc signs the tokens: its data dir (var/) holds the key the bundle trusts.
    mkdir -p "$REG_DIR/data"
    [ -x "$PY" ] || fail "registry: $PY is missing; run make install"
    # From ROOT, so `-m buildsvc` is this checkout's.
    (cd "$ROOT" && umask 077 && BUILDSVC_DATA_DIR="$VAR" "$PY" -m buildsvc admin registry-config \
        --addr "$REGISTRY_HOST:$REGISTRY_PORT" --storage "$REG_DIR/data" >"$REG_DIR/config.yml.new") ||
        fail "registry: buildsvc admin registry-config failed"
    mv "$REG_DIR/config.yml.new" "$REG_DIR/config.yml"
}

write_htpasswd_config() {
    mkdir -p "$REG_DIR/data"
    if [ ! -s "$REG_DIR/password" ]; then
        # Generated once; the service and tests read it from this file.
        (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$REG_DIR/password")
    fi
    chmod 600 "$REG_DIR/password"
    if [ ! -s "$REG_DIR/htpasswd" ] || [ "$REG_DIR/password" -nt "$REG_DIR/htpasswd" ]; then
        command -v htpasswd >/dev/null || fail "registry: htpasswd missing (apache2-utils); run scripts/system-deps.sh"
        # -i reads the password from stdin so it never shows up in a process list.
        htpasswd -niB "$REGISTRY_USER" <"$REG_DIR/password" >"$REG_DIR/htpasswd.new" 2>/dev/null
        chmod 600 "$REG_DIR/htpasswd.new"
        mv "$REG_DIR/htpasswd.new" "$REG_DIR/htpasswd"
    fi
    cat >"$REG_DIR/config.yml" <<EOF
# generated by scripts/services.sh; edits are overwritten
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: $REG_DIR/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: $REGISTRY_HOST:$REGISTRY_PORT
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: buildsvc-registry
    path: $REG_DIR/htpasswd
EOF
}

start_registry() {
    if pid_alive "$RUN/registry.pid"; then
        # Ours is running (perhaps still starting): it only has to answer.
        wait_until "$REGISTRY_TIMEOUT" registry_ready ||
            fail "registry: pid $(cat "$RUN/registry.pid") runs but does not answer on $REGISTRY_HOST:$REGISTRY_PORT; see var/log/registry.log"
        say "registry: running ($REGISTRY_HOST:$REGISTRY_PORT)"
        return 0
    fi
    command -v docker-registry >/dev/null || fail "registry: docker-registry not installed; run scripts/system-deps.sh"
    local holder
    holder="$(port_holder "$REGISTRY_PORT")"
    if [ -n "$holder" ] && tr '\0' ' ' <"/proc/$holder/cmdline" 2>/dev/null | grep -qF "$REG_DIR/config.yml"; then
        # Ours, but its pidfile was lost (e.g. var/run removed): adopt it.
        echo "$holder" >"$RUN/registry.pid"
        say "registry: running ($REGISTRY_HOST:$REGISTRY_PORT, pid $holder adopted)"
        return 0
    fi
    if http_status "$REGISTRY_HOST" "$REGISTRY_PORT" / >/dev/null 2>&1; then
        # On a systemd machine installing docker-registry starts Debian's own instance on
        # :5000 with a different password; ours must own the port.
        if command -v systemctl >/dev/null && systemctl is-active --quiet docker-registry 2>/dev/null; then
            say "registry: stopping Debian's docker-registry.service, which holds port $REGISTRY_PORT"
            systemctl stop docker-registry
        else
            fail "registry: port $REGISTRY_HOST:$REGISTRY_PORT is in use by another process: $(ss -Hltnp "sport = :$REGISTRY_PORT" 2>/dev/null | awk '{print $NF}')"
        fi
    fi
    write_registry_config
    setsid docker-registry serve "$REG_DIR/config.yml" </dev/null >>"$LOG/registry.log" 2>&1 9>&- &
    echo $! >"$RUN/registry.pid"
    if ! wait_until "$REGISTRY_TIMEOUT" registry_ready; then
        echo "services: error: registry did not answer 401 on http://$REGISTRY_HOST:$REGISTRY_PORT/v2/ within ${REGISTRY_TIMEOUT}s" >&2
        tail -n 20 "$LOG/registry.log" | sed 's/^/    /' >&2
        exit 1
    fi
    if [ "$REGISTRY_AUTH" = token ]; then
        say "registry: started (pid $(cat "$RUN/registry.pid"), $REGISTRY_HOST:$REGISTRY_PORT, token auth against buildsvc)"
    else
        say "registry: started (pid $(cat "$RUN/registry.pid"), user $REGISTRY_USER, password in var/registry/password)"
    fi
}

# --- redis -----------------------------------------------------------------------------

redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

start_redis() {
    if redis_ready; then
        say "redis: running (127.0.0.1:$REDIS_PORT)"
        return 0
    fi
    command -v redis-server >/dev/null || fail "redis: redis-server not installed; run scripts/system-deps.sh"
    mkdir -p "$REDIS_DIR"
    # The queue is rebuilt from the database, so no persistence (save/appendonly off).
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
        --pidfile "$RUN/redis.pid" --dir "$REDIS_DIR" --logfile "$LOG/redis.log" \
        --save '' --appendonly no </dev/null >/dev/null 2>&1 9>&- ||
        fail "redis: redis-server refused to start; see var/log/redis.log"
    if ! wait_until "$REDIS_TIMEOUT" redis_ready; then
        echo "services: error: redis did not answer PING on 127.0.0.1:$REDIS_PORT within ${REDIS_TIMEOUT}s" >&2
        tail -n 20 "$LOG/redis.log" | sed 's/^/    /' >&2
        exit 1
    fi
    say "redis: started (pid $(cat "$RUN/redis.pid" 2>/dev/null), 127.0.0.1:$REDIS_PORT)"
}

# --- forgesim -------------------------------------------------------------------------

forgesim_ready() { [ "$(http_status 127.0.0.1 "$FORGESIM_PORT" /_forgesim/health 2>/dev/null)" = 200 ]; }

start_forgesim() {
    if forgesim_ready; then
        say "forgesim: running (GitLab at http://127.0.0.1:$FORGESIM_PORT)"
        return 0
    fi
    [ -x "$PY" ] || fail "forgesim: $PY is missing; run make install"
    mkdir -p "$VAR/forgesim"
    # A local GitLab for development (state kept in var/forgesim across restarts).
    nohup "$PY" -m forgesim --provider gitlab --host 127.0.0.1 \
        --port "$FORGESIM_PORT" --data "$VAR/forgesim" </dev/null >>"$LOG/forgesim.log" 2>&1 9>&- &
    echo $! >"$RUN/forgesim.pid"
    if ! wait_until "$FORGESIM_TIMEOUT" forgesim_ready; then
        echo "services: error: forgesim did not answer on 127.0.0.1:$FORGESIM_PORT within ${FORGESIM_TIMEOUT}s" >&2
        tail -n 20 "$LOG/forgesim.log" | sed 's/^/    /' >&2
        exit 1
    fi
    say "forgesim: started (pid $(cat "$RUN/forgesim.pid"), GitLab at http://127.0.0.1:$FORGESIM_PORT)"
}

# --- base image ------------------------------------------------------------------------

ensure_base_image() {
    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        say "base image: $BASE_IMAGE present"
        return 0
    fi
    local busybox rootfs
    busybox="$(command -v busybox || true)"
    [ -n "$busybox" ] || fail "base image: busybox not found; run scripts/system-deps.sh (busybox-static)"
    # A dynamically linked busybox would need libc inside the image.
    if ldd "$busybox" >/dev/null 2>&1; then
        fail "base image: $busybox is not statically linked; install busybox-static"
    fi
    rootfs="$(mktemp -d)"
    BASE_ROOTFS="$rootfs" # removed by the EXIT trap, also when a step fails
    mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home,proc,sys,dev,var/tmp}
    chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
    cp "$busybox" "$rootfs/bin/busybox"
    for applet in $("$busybox" --list); do
        [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
    tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$rootfs" -c . |
        docker import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'CMD ["/bin/sh"]' \
            --message "busybox $("$busybox" | head -n1 | awk '{print $2}') from Debian busybox-static" \
            - "$BASE_IMAGE" >/dev/null
    say "base image: $BASE_IMAGE created with docker import"
}

# --- commands --------------------------------------------------------------------------

STATUS_RC=0
status_line() { # name check-command...
    local name=$1
    shift
    if "$@"; then
        say "$name: running"
    else
        say "$name: stopped"
        STATUS_RC=3
    fi
}

cmd_start() {
    mkdir -p "$RUN" "$LOG" "$REG_DIR" "$REDIS_DIR"
    start_dockerd
    start_registry
    start_redis
    ensure_base_image
    start_forgesim
}

cmd_stop() {
    stop_pidfile forgesim "$RUN/forgesim.pid"
    stop_pidfile registry "$RUN/registry.pid"
    stop_pidfile redis "$RUN/redis.pid"
    stop_pidfile dockerd "$RUN/dockerd.pid"
}

cmd_status() {
    status_line "dockerd ($DOCKER_SOCK)" docker_ready
    status_line "registry ($REGISTRY_HOST:$REGISTRY_PORT)" registry_ready
    status_line "redis (127.0.0.1:$REDIS_PORT)" redis_ready
    status_line "forgesim (http://127.0.0.1:$FORGESIM_PORT)" forgesim_ready
    if docker_ready && docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        say "base image $BASE_IMAGE: present"
    else
        say "base image $BASE_IMAGE: missing"
        STATUS_RC=3
    fi
    return "$STATUS_RC" # 0 when everything runs, 3 otherwise (like LSB status)
}

lock() {
    # Several sessions (tests, make targets) may run this script at once. Daemons are
    # started with 9>&- so they do not inherit (and hold) the lock.
    mkdir -p "$RUN"
    exec 9>"$RUN/services.lock"
    flock -w 300 9 || fail "another services.sh did not finish within 300 s"
}

case "${1:-}" in
start) lock && cmd_start ;;
stop) lock && cmd_stop ;;
status) cmd_status ;;
# The base image on the engine DOCKER_HOST names (make cluster's second engine).
base-image) ensure_base_image ;;
*)
    echo "usage: $0 start|stop|status|base-image" >&2
    exit 2
    ;;
esac
