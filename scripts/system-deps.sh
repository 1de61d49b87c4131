#!/usr/bin/env bash
# Install the Debian packages the buildsvc stack needs. Idempotent: when everything is
# present it only runs `dpkg -s`/`command -v` checks and exits (no apt-get update).
set -euo pipefail

# package -> why we need it (kept in one place so the message can name the reason)
declare -A WHY=(
    [docker.io]="dockerd, the Docker engine that builds images"
    [docker-registry]="the local image registry (Distribution)"
    [redis-server]="the arq job queue and live log fan-out"
    [apache2-utils]="htpasswd, to create the registry's bcrypt credentials"
    [git]="fetching sources and the demo's git push"
    [busybox-static]="the base image the examples build FROM (no image can be pulled)"
    [chromium]="browser tests of the web console"
    [chromium-driver]="browser tests of the web console"
    [postgresql]="tests and deployments on PostgreSQL (initdb, pg_ctl)"
    [haproxy]="the load balancer of make cluster: active /healthz checks, unbuffered SSE"
    [systemd]="systemd-analyze, which checks the unit files in deploy/systemd"
)
PACKAGES=(docker.io docker-registry redis-server apache2-utils git busybox-static chromium chromium-driver haproxy systemd)

installed() { dpkg -s "$1" >/dev/null 2>&1; }

have_postgres_tools() {
    # Debian keeps initdb/pg_ctl outside PATH, under /usr/lib/postgresql/<version>/bin.
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        return 0
    fi
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null \
        && compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done
have_postgres_tools || missing+=(postgresql)

if [ "${#missing[@]}" -eq 0 ]; then
    echo "system-deps: all Debian packages present"
    exit 0
fi

echo "system-deps: missing Debian packages:"
for pkg in "${missing[@]}"; do
    echo "  - $pkg (${WHY[$pkg]})"
done

if [ "$(id -u)" -ne 0 ]; then
    echo "system-deps: error: installing packages needs root (running as $(id -un))." >&2
    echo "  run: sudo bash $0   or: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: error: apt-get not found; this script supports Debian only." >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# --no-install-recommends keeps the install small; nothing we use comes from recommends.
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "system-deps: installed ${missing[*]}"
