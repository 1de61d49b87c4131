#!/usr/bin/env bash
# make cluster: the production topology on one machine (README, "Production").
#
#   haproxy (LB_PORT, TLS on LB_TLS_PORT) -> 2 x buildsvc serve (API_PORTS)
#   2 x buildsvc worker: one on the first engine (/var/run/docker.sock, from
#       scripts/services.sh), one on a second dockerd of its own (own data-root,
#       exec-root, pidfile and socket: a stand-in for a second machine)
#   PostgreSQL 15 (as user postgres), Redis, forgesim (a local GitLab)
#   a registry with buildsvc's token auth (REGISTRY_PORT): realm the load balancer's
#       /v2/token; the signing keys (and events secret) in one directory every buildsvc
#       process reads (BUILDSVC_REGISTRY_KEY_DIR), so either API signs what it trusts
#   the first engine and the base image come from scripts/services.sh.
#
# Everything it starts keeps its state under CLUSTER_DIR (default var/cluster) and
# listens on ports of its own, so it runs beside `make services`. Idempotent: `start`
# leaves running parts alone; `stop` stops only what `start` started.
#
# usage: scripts/cluster.sh start [PART...]|stop|status   (status exits 3 when something is down)
#   start PART...: only those parts (api-1 api-2 worker-1 worker-2 postgresql redis haproxy
#   forgesim registry), as after a crash, with the settings the last full start wrote.
#   CLUSTER_SETTINGS: a file of extra BUILDSVC_* lines every buildsvc process gets.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER_DIR="$(mkdir -p "${CLUSTER_DIR:-$ROOT/var/cluster}" && cd "${CLUSTER_DIR:-$ROOT/var/cluster}" && pwd)"
RUN="$CLUSTER_DIR/run"
LOG="$CLUSTER_DIR/log"
PY="${PY:-$ROOT/.venv/bin/python}"

PG_PORT="${CLUSTER_PG_PORT:-15432}"
REDIS_PORT="${CLUSTER_REDIS_PORT:-16379}"
LB_PORT="${CLUSTER_LB_PORT:-18080}"
LB_TLS_PORT="${CLUSTER_LB_TLS_PORT:-18443}"
API_PORTS=("${CLUSTER_API1_PORT:-18081}" "${CLUSTER_API2_PORT:-18082}")
FORGE_PORT="${CLUSTER_FORGE_PORT:-18929}"
REGISTRY_PORT="${CLUSTER_REGISTRY_PORT:-15000}"
REGISTRY="127.0.0.1:$REGISTRY_PORT"
REGISTRY_KEYS="$CLUSTER_DIR/registry-keys"
ENGINE1="unix:///var/run/docker.sock"
ENGINE2_DIR="$CLUSTER_DIR/docker"
ENGINE2="unix://$ENGINE2_DIR/docker.sock"
ENV_FILE="$CLUSTER_DIR/buildsvc.env"
PUBLIC_URL="http://127.0.0.1:$LB_PORT"
START_TIMEOUT="${CLUSTER_START_TIMEOUT:-60}"

say() { echo "cluster: $*"; }
fail() {
    echo "cluster: error: $*" >&2
    exit 1
}

# pid_alive, wait_until, stop_pidfile, http_status, port_holder
# shellcheck source=scripts/lib/daemons.sh
. "$ROOT/scripts/lib/daemons.sh"

pg_bin() { # name -> path (Debian keeps the server tools outside PATH)
    command -v "$1" 2>/dev/null || compgen -G "/usr/lib/postgresql/15/bin/$1" ||
        fail "postgresql: $1 not found; run scripts/system-deps.sh"
}

as_postgres() { # command... (PostgreSQL refuses to run as root)
    # 9>&-: the server must not inherit (and hold) this script's lock.
    if [ "$(id -u)" -eq 0 ]; then
        su postgres -s /bin/sh -c "$(printf '%q ' "$@")" 9>&-
    else
        "$@" 9>&-
    fi
}

# PostgreSQL's data lives in CLUSTER_DIR unless the postgres user cannot reach it (a
# clone under /root, mode 0700): then in postgres's home, named after CLUSTER_DIR.
if [ "$(id -u)" -eq 0 ] && ! su postgres -s /bin/sh -c "test -x '$CLUSTER_DIR'" 9>&-; then
    PG_DIR="/var/lib/postgresql/buildsvc-cluster-$(printf %s "$CLUSTER_DIR" | md5sum | cut -c1-8)"
else
    PG_DIR="$CLUSTER_DIR/postgres"
fi

require_port_free() { # name port
    local holder
    holder="$(port_holder "$2")"
    [ -z "$holder" ] || fail "$1: port $2 is in use by pid $holder ($(tr '\0' ' ' <"/proc/$holder/cmdline" 2>/dev/null | cut -c1-80))"
}

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# --- PostgreSQL ------------------------------------------------------------------------

pg_ready() { "$(pg_bin pg_isready)" -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; }

start_postgres() {
    if pg_ready; then
        say "postgresql: running (127.0.0.1:$PG_PORT)"
        return 0
    fi
    require_port_free postgresql "$PG_PORT"
    if [ ! -s "$PG_DIR/data/PG_VERSION" ]; then
        mkdir -p "$PG_DIR"
        [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$PG_DIR"
        # Local socket: peer (the postgres user administers); TCP: password (scram).
        as_postgres "$(pg_bin initdb)" -D "$PG_DIR/data" -U postgres -E UTF8 --locale=C \
            --auth-local=peer --auth-host=scram-sha-256 >>"$LOG/postgres-init.log" 2>&1 ||
            fail "postgresql: initdb failed; see $LOG/postgres-init.log"
    fi
    as_postgres "$(pg_bin pg_ctl)" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t "$START_TIMEOUT" \
        -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1" start >/dev/null ||
        fail "postgresql: did not start; see $PG_DIR/server.log"
    if [ ! -s "$CLUSTER_DIR/postgres.password" ]; then
        (umask 077 && random_hex 24 >"$CLUSTER_DIR/postgres.password.new")
        # The password goes through psql's stdin, never a command line.
        printf "\\set pw '%s'\nCREATE ROLE buildsvc LOGIN PASSWORD :'pw';\nCREATE DATABASE buildsvc OWNER buildsvc;\n" \
            "$(cat "$CLUSTER_DIR/postgres.password.new")" |
            as_postgres "$(pg_bin psql)" -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U postgres postgres ||
            fail "postgresql: creating role and database buildsvc failed"
        mv "$CLUSTER_DIR/postgres.password.new" "$CLUSTER_DIR/postgres.password"
    fi
    say "postgresql: started (127.0.0.1:$PG_PORT, database buildsvc, data $PG_DIR/data)"
}

stop_postgres() {
    if [ ! -s "$PG_DIR/data/postmaster.pid" ]; then
        say "postgresql: not running (nothing started by cluster.sh)"
        return 0
    fi
    local pid
    pid="$(head -n1 "$PG_DIR/data/postmaster.pid")"
    as_postgres "$(pg_bin pg_ctl)" -D "$PG_DIR/data" -m fast -w stop >/dev/null
    # pg_ctl returns once the pidfile is gone; the server process may still be exiting.
    wait_until 20 bash -c "! kill -0 $pid 2>/dev/null" || say "postgresql: pid $pid still exiting"
    say "postgresql: stopped (pid $pid)"
}

# --- Redis -----------------------------------------------------------------------------

redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

start_redis() {
    if redis_ready; then
        say "redis: running (127.0.0.1:$REDIS_PORT)"
        return 0
    fi
    require_port_free redis "$REDIS_PORT"
    mkdir -p "$CLUSTER_DIR/redis"
    # No persistence: the queue is rebuilt from the database (the builds' outbox).
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
        --pidfile "$RUN/redis.pid" --dir "$CLUSTER_DIR/redis" --logfile "$LOG/redis.log" \
        --save '' --appendonly no </dev/null >/dev/null 2>&1 9>&- ||
        fail "redis: redis-server refused to start; see $LOG/redis.log"
    wait_until "$START_TIMEOUT" redis_ready || fail "redis: no PONG on 127.0.0.1:$REDIS_PORT"
    say "redis: started (127.0.0.1:$REDIS_PORT)"
}

# --- the second Docker engine ----------------------------------------------------------

engine2_ready() { DOCKER_HOST="$ENGINE2" docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

start_engine2() {
    if engine2_ready; then
        say "dockerd 2: running ($ENGINE2)"
    else
        mkdir -p "$ENGINE2_DIR/data" "$ENGINE2_DIR/exec"
        # Its own data-root, exec-root (with its own containerd), pidfile and socket.
        # bridge/iptables off as for the first engine: no netfilter needed.
        setsid dockerd --data-root "$ENGINE2_DIR/data" --exec-root "$ENGINE2_DIR/exec" \
            --pidfile "$RUN/dockerd2.pid" -H "$ENGINE2" \
            --iptables=false --ip6tables=false --bridge=none \
            </dev/null >>"$LOG/dockerd2.log" 2>&1 9>&- &
        wait_until "$START_TIMEOUT" engine2_ready ||
            fail "dockerd 2: did not answer on $ENGINE2; see $LOG/dockerd2.log"
        say "dockerd 2: started ($ENGINE2, data $ENGINE2_DIR/data)"
    fi
    DOCKER_HOST="$ENGINE2" bash "$ROOT/scripts/services.sh" base-image | sed 's/^services:/cluster: dockerd 2:/'
}

# --- buildsvc --------------------------------------------------------------------------

write_env_file() {
    # One file of settings every buildsvc process shares (as systemd's EnvironmentFile=
    # in deploy/); per-process values (port, data dir, engine) are added at spawn.
    [ -s "$CLUSTER_DIR/secret-keys" ] || (umask 077 && "$PY" -c \
        'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' \
        >"$CLUSTER_DIR/secret-keys")
    (
        umask 077
        cat >"$ENV_FILE.new" <<EOF
# generated by scripts/cluster.sh; edits are overwritten
BUILDSVC_PUBLIC_URL=$PUBLIC_URL
BUILDSVC_DATABASE_URL=postgresql+asyncpg://buildsvc:$(cat "$CLUSTER_DIR/postgres.password")@127.0.0.1:$PG_PORT/buildsvc
BUILDSVC_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
BUILDSVC_SECRET_KEYS=$(cat "$CLUSTER_DIR/secret-keys")
BUILDSVC_REGISTRY=$REGISTRY
BUILDSVC_REGISTRY_KEY_DIR=$REGISTRY_KEYS
BUILDSVC_ALLOWED_SOURCE_NETWORKS='["127.0.0.0/8"]'
BUILDSVC_LOG_LEVEL=INFO
EOF
        [ -z "${CLUSTER_SETTINGS:-}" ] || cat "$CLUSTER_SETTINGS" >>"$ENV_FILE.new"
    )
    mv "$ENV_FILE.new" "$ENV_FILE"
}

spawn_buildsvc() { # name data-dir KEY=VALUE... -- buildsvc-args...
    local name=$1 data=$2
    shift 2
    local extra=()
    while [ "$1" != -- ]; do
        extra+=("$1")
        shift
    done
    shift
    mkdir -p "$data"
    (
        # Only the env file and the values given here: no BUILDSVC_* of the caller.
        while read -r var; do unset "$var"; done < <(compgen -e | grep '^BUILDSVC_' || true)
        set -a
        # shellcheck source=/dev/null
        . "$ENV_FILE"
        set +a
        for assignment in "${extra[@]}"; do export "${assignment?}"; done
        export BUILDSVC_DATA_DIR="$data"
        cd "$data" # no stray .env is read
        exec setsid "$PY" -m buildsvc "$@" </dev/null >>"$LOG/$name.log" 2>&1 9>&-
    ) &
    echo $! >"$RUN/$name.pid"
}

api_ready() { [ "$(http_status 127.0.0.1 "$1" /healthz 2>/dev/null)" = 200 ]; }
api_settled() { api_ready "$1" || ! pid_alive "$RUN/$2.pid"; } # port name

start_api() { # index
    local name="api-$1" port="${API_PORTS[$1 - 1]}"
    if pid_alive "$RUN/$name.pid" && api_ready "$port"; then
        say "$name: running (127.0.0.1:$port)"
        return 0
    fi
    require_port_free "$name" "$port"
    spawn_buildsvc "$name" "$CLUSTER_DIR/$name" BUILDSVC_HOST=127.0.0.1 "BUILDSVC_PORT=$port" -- serve
    wait_until "$START_TIMEOUT" api_settled "$port" "$name" || true
    api_ready "$port" || fail "$name: did not answer on 127.0.0.1:$port/healthz: $(tail -n 1 "$LOG/$name.log")"
    say "$name: started (127.0.0.1:$port, log $LOG/$name.log)"
}

worker_ready() { # name -> the worker logged "ready" since it was started
    pid_alive "$RUN/$1.pid" && grep -q '"worker .* ready' "$LOG/$1.log" 2>/dev/null
}
worker_settled() { worker_ready "$1" || ! pid_alive "$RUN/$1.pid"; }

start_worker() { # index engine-url
    local name="worker-$1"
    if pid_alive "$RUN/$name.pid"; then
        say "$name: running ($2)"
        return 0
    fi
    # "ready" is read from a fresh log; the previous run's is kept as .1
    [ ! -f "$LOG/$name.log" ] || mv "$LOG/$name.log" "$LOG/$name.log.1"
    spawn_buildsvc "$name" "$CLUSTER_DIR/$name" "BUILDSVC_DOCKER_URL=$2" -- worker
    wait_until "$START_TIMEOUT" worker_settled "$name" || true
    worker_ready "$name" || fail "$name: did not become ready: $(tail -n 1 "$LOG/$name.log")"
    say "$name: started (engine $2, log $LOG/$name.log)"
}

migrate() {
    spawn_buildsvc migrate "$CLUSTER_DIR/admin" -- admin migrate
    wait "$(cat "$RUN/migrate.pid")" || fail "migrations failed: $(tail -n 1 "$LOG/migrate.log")"
    rm -f "$RUN/migrate.pid"
}

# --- registry --------------------------------------------------------------------------

registry_ready() { [ "$(http_status 127.0.0.1 "$REGISTRY_PORT" /v2/ 2>/dev/null)" = 401 ]; }

start_registry() {
    if pid_alive "$RUN/registry.pid" && registry_ready; then
        say "registry: running ($REGISTRY)"
        return 0
    fi
    command -v docker-registry >/dev/null || fail "registry: docker-registry not installed; run scripts/system-deps.sh"
    require_port_free registry "$REGISTRY_PORT"
    mkdir -p "$CLUSTER_DIR/registry"
    # The config `buildsvc admin registry-config` prints for the settings every process
    # reads (realm PUBLIC_URL, the keys under REGISTRY_KEYS, created on first use).
    (
        while read -r var; do unset "$var"; done < <(compgen -e | grep '^BUILDSVC_' || true)
        set -a
        # shellcheck source=/dev/null
        . "$ENV_FILE"
        set +a
        mkdir -p "$CLUSTER_DIR/admin" && cd "$CLUSTER_DIR/admin" && umask 077
        BUILDSVC_DATA_DIR="$CLUSTER_DIR/admin" "$PY" -m buildsvc admin registry-config \
            --addr "$REGISTRY" --storage "$CLUSTER_DIR/registry/data" \
            >"$CLUSTER_DIR/registry/config.yml.new" 2>>"$LOG/registry.log" 9>&-
    ) || fail "registry: buildsvc admin registry-config failed; see $LOG/registry.log"
    mv "$CLUSTER_DIR/registry/config.yml.new" "$CLUSTER_DIR/registry/config.yml"
    setsid docker-registry serve "$CLUSTER_DIR/registry/config.yml" </dev/null >>"$LOG/registry.log" 2>&1 9>&- &
    echo $! >"$RUN/registry.pid"
    wait_until "$START_TIMEOUT" registry_ready || fail "registry: no 401 on $REGISTRY/v2/; see $LOG/registry.log"
    say "registry: started ($REGISTRY, token auth against $PUBLIC_URL)"
}

# --- forgesim --------------------------------------------------------------------------

forge_ready() { [ "$(http_status 127.0.0.1 "$FORGE_PORT" /_forgesim/health 2>/dev/null)" = 200 ]; }

start_forgesim() {
    if pid_alive "$RUN/forgesim.pid" && forge_ready; then
        say "forgesim: running (GitLab at http://127.0.0.1:$FORGE_PORT)"
        return 0
    fi
    require_port_free forgesim "$FORGE_PORT"
    mkdir -p "$CLUSTER_DIR/forgesim"
    setsid "$PY" -m forgesim --provider gitlab --host 127.0.0.1 --port "$FORGE_PORT" \
        --data "$CLUSTER_DIR/forgesim" </dev/null >>"$LOG/forgesim.log" 2>&1 9>&- &
    echo $! >"$RUN/forgesim.pid"
    wait_until "$START_TIMEOUT" forge_ready || fail "forgesim: did not answer; see $LOG/forgesim.log"
    say "forgesim: started (GitLab at http://127.0.0.1:$FORGE_PORT)"
}

# --- haproxy ---------------------------------------------------------------------------

write_lb_config() {
    local tls="$CLUSTER_DIR/tls"
    if [ ! -s "$tls/lb.pem" ]; then
        # Self-signed, for the local stand-in only; production uses a real certificate.
        mkdir -p "$tls"
        openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=127.0.0.1 \
            -addext subjectAltName=IP:127.0.0.1 -keyout "$tls/lb.key" -out "$tls/lb.crt" \
            >>"$LOG/openssl.log" 2>&1 || fail "haproxy: openssl could not make a certificate"
        (umask 077 && cat "$tls/lb.crt" "$tls/lb.key" >"$tls/lb.pem")
    fi
    sed -e "s|@LB_BIND@|127.0.0.1:$LB_PORT|" \
        -e "s|@LB_TLS_BIND@|127.0.0.1:$LB_TLS_PORT ssl crt $tls/lb.pem|" \
        -e "s|@API_1@|127.0.0.1:${API_PORTS[0]}|" -e "s|@API_2@|127.0.0.1:${API_PORTS[1]}|" \
        "$ROOT/deploy/haproxy.cfg" >"$CLUSTER_DIR/haproxy.cfg"
    haproxy -c -q -f "$CLUSTER_DIR/haproxy.cfg" || fail "haproxy: $CLUSTER_DIR/haproxy.cfg is invalid"
}

start_haproxy() {
    if pid_alive "$RUN/haproxy.pid" && api_ready "$LB_PORT"; then
        say "haproxy: running ($PUBLIC_URL, https://127.0.0.1:$LB_TLS_PORT)"
        return 0
    fi
    command -v haproxy >/dev/null || fail "haproxy: not installed; run scripts/system-deps.sh"
    require_port_free haproxy "$LB_PORT"
    require_port_free haproxy "$LB_TLS_PORT"
    write_lb_config
    # Master-worker in the foreground (-W -db) so its log goes to our file.
    setsid haproxy -W -db -f "$CLUSTER_DIR/haproxy.cfg" </dev/null >>"$LOG/haproxy.log" 2>&1 9>&- &
    echo $! >"$RUN/haproxy.pid"
    wait_until "$START_TIMEOUT" api_ready "$LB_PORT" || fail "haproxy: $PUBLIC_URL/healthz did not answer; see $LOG/haproxy.log"
    say "haproxy: started ($PUBLIC_URL, https://127.0.0.1:$LB_TLS_PORT)"
}

# --- commands --------------------------------------------------------------------------

cmd_start() {
    [ -x "$PY" ] || fail "$PY is missing; run make install"
    bash "$ROOT/scripts/services.sh" start # the first engine, the registry, the base image
    start_postgres
    start_redis
    start_engine2
    write_env_file
    migrate
    start_registry
    # Side by side: each Python process takes seconds to import and check its dependencies.
    local pids=() failed=0
    start_api 1 & pids+=($!)
    start_api 2 & pids+=($!)
    start_worker 1 "$ENGINE1" & pids+=($!)
    start_worker 2 "$ENGINE2" & pids+=($!)
    start_forgesim & pids+=($!)
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    [ "$failed" -eq 0 ] || fail "not every process started (above); logs in $LOG"
    start_haproxy
    say "ready: API $PUBLIC_URL (TLS https://127.0.0.1:$LB_TLS_PORT), GitLab http://127.0.0.1:$FORGE_PORT"
    say "settings of every process: $ENV_FILE; check them with: set -a; . $ENV_FILE; .venv/bin/buildsvc admin check"
}

cmd_start_parts() { # part...
    [ -s "$ENV_FILE" ] || fail "no $ENV_FILE: run a full start first"
    local part
    for part in "$@"; do
        case "$part" in
        api-1 | api-2) start_api "${part#api-}" ;;
        worker-1) start_worker 1 "$ENGINE1" ;;
        worker-2) start_worker 2 "$ENGINE2" ;;
        postgresql) start_postgres ;;
        redis) start_redis ;;
        haproxy) start_haproxy ;;
        forgesim) start_forgesim ;;
        registry) start_registry ;;
        *) fail "unknown part $part (api-1 api-2 worker-1 worker-2 postgresql redis haproxy forgesim registry)" ;;
        esac
    done
}

cmd_stop() {
    # Front to back; the processes of one tier stop side by side (each takes seconds).
    stop_pidfile haproxy "$RUN/haproxy.pid"
    for name in forgesim worker-1 worker-2 api-1 api-2 registry; do
        stop_pidfile "$name" "$RUN/$name.pid" &
    done
    wait
    stop_pidfile "dockerd 2" "$RUN/dockerd2.pid" &
    stop_pidfile redis "$RUN/redis.pid" &
    stop_postgres &
    wait
}

STATUS_RC=0
status_line() { # name check-command...
    local name=$1
    shift
    if "$@"; then say "$name: running"; else
        say "$name: stopped"
        STATUS_RC=3
    fi
}

cmd_status() {
    status_line "postgresql (127.0.0.1:$PG_PORT)" pg_ready
    status_line "redis (127.0.0.1:$REDIS_PORT)" redis_ready
    status_line "dockerd 2 ($ENGINE2)" engine2_ready
    status_line "api-1 (127.0.0.1:${API_PORTS[0]})" api_ready "${API_PORTS[0]}"
    status_line "api-2 (127.0.0.1:${API_PORTS[1]})" api_ready "${API_PORTS[1]}"
    status_line "worker-1 ($ENGINE1)" pid_alive "$RUN/worker-1.pid"
    status_line "worker-2 ($ENGINE2)" pid_alive "$RUN/worker-2.pid"
    status_line "forgesim (http://127.0.0.1:$FORGE_PORT)" forge_ready
    status_line "registry ($REGISTRY)" registry_ready
    status_line "haproxy ($PUBLIC_URL)" api_ready "$LB_PORT"
    return "$STATUS_RC"
}

lock() {
    mkdir -p "$RUN" "$LOG"
    exec 9>"$RUN/cluster.lock"
    flock -w 300 9 || fail "another cluster.sh did not finish within 300 s"
}

case "${1:-}" in
start)
    shift
    lock
    if [ "$#" -gt 0 ]; then cmd_start_parts "$@"; else cmd_start; fi
    ;;
stop) lock && cmd_stop ;;
status) cmd_status ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
