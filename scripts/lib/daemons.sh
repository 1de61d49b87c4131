# Helpers for scripts that start and stop daemons by pidfile (services.sh, cluster.sh).
# Sourced, not run: the sourcing script defines `say` (its prefixed message).

pid_alive() { # pidfile -> true when it names a live process
    [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

wait_until() { # seconds, check-command... -> true once the check passes
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.2
    done
}

stop_pidfile() { # name pidfile
    local name=$1 pidfile=$2 pid
    if ! pid_alive "$pidfile"; then
        rm -f "$pidfile"
        say "$name: not running (nothing started by $(basename "$0"))"
        return 0
    fi
    pid="$(cat "$pidfile")"
    kill -TERM "$pid"
    if ! wait_until 20 bash -c "! kill -0 $pid 2>/dev/null"; then
        say "$name: did not stop within 20 s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    say "$name: stopped (pid $pid)"
}

http_status() { # host port path -> prints the HTTP status code; no curl needed
    local status
    exec 3<>"/dev/tcp/$1/$2" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\n\r\n' "$3" "$1" "$2" >&3
    read -r -t 2 _ status _ <&3 || status=""
    exec 3<&- 3>&-
    echo "$status"
}

port_holder() { # port -> pid of the process listening on it (empty if none or unknown)
    # Nothing listening is an empty answer, not a failure (pipefail and set -e are on).
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true
}
