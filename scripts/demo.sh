#!/usr/bin/env bash
# make demo: a git push to a GitLab (forgesim) becomes an image in the registry, then runs.
#
# Starts its own forgesim (GitLab, 127.0.0.1:8939), the buildsvc API (127.0.0.1:8080) and a worker
# on a fresh var/demo; creates an account, a forge user/token/group/project, binds GitLab,
# links examples/hello with a rule, pushes it with git, follows the build log live, prints
# the image reference, digest and time per phase, pulls the image back from the registry
# and runs it. Exits non-zero if any step fails; stops what it started on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PY:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"
DEMO="$ROOT/var/demo"
FORGE_PORT="${BUILDSVC_DEMO_FORGE_PORT:-8939}" # its own forge: make services keeps one on 8929
API_PORT="${BUILDSVC_DEMO_API_PORT:-8080}"
REGISTRY="127.0.0.1:${BUILDSVC_SERVICES_REGISTRY_PORT:-5000}"
REDIS_PORT="${BUILDSVC_SERVICES_REDIS_PORT:-6379}"
# token (default): the registry trusts buildsvc's tokens, the worker logs in per build, and
# the pull uses the demo account's own registry password. htpasswd: the worker and the
# pull use the registry's admin login (scripts/services.sh reads the same variable).
REGISTRY_AUTH="${BUILDSVC_SERVICES_REGISTRY_AUTH:-token}"
FORGE="http://127.0.0.1:$FORGE_PORT"
API="http://127.0.0.1:$API_PORT"
REDIS_DB=1 # the demo's own Redis database, flushed at start
PIDS=()

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() {
    echo "demo: error: $*" >&2
    exit 1
}

cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "$status" -ne 0 ]; then
        echo "demo: failed; logs are in var/demo/*.log" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_http() { # url seconds
    local deadline=$((SECONDS + $2))
    until curl -sf -o /dev/null "$1"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

json() { # python expression over `d` (the JSON read from stdin)
    "$PY" -c "import json, sys; d = json.load(sys.stdin); print($1)"
}

api() { # method path [json body]
    local args=(-sS -X "$1" -H "Authorization: Bearer $TOKEN" -w '\n%{http_code}')
    [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data "$3")
    local out code
    out="$(curl "${args[@]}" "$API$2")"
    code="${out##*$'\n'}"
    out="${out%$'\n'*}"
    case "$code" in 2??) printf '%s' "$out" ;; *) fail "$1 $2 answered $code: $out" ;; esac
}

forge_admin() { # path json body
    curl -sSf -X POST -H 'Content-Type: application/json' --data "$2" "$FORGE/_forgesim$1" ||
        fail "forgesim admin $1 failed"
}

step "services (dockerd, registry, Redis, base image)"
BUILDSVC_PUBLIC_URL="$API" bash scripts/services.sh start
REGISTRY_PASSWORD_FILE="$ROOT/var/registry/password"
if [ "$REGISTRY_AUTH" = htpasswd ]; then
    [ -s "$REGISTRY_PASSWORD_FILE" ] || fail "no registry password in var/registry/password"
fi
if [ "$REGISTRY_AUTH" = token ]; then
    # A registry started earlier (make services) may send clients to another API's realm.
    curl -s -o /dev/null -D - "http://$REGISTRY/v2/" | grep -qiF "realm=\"$API/v2/token\"" ||
        fail "the registry on $REGISTRY does not send clients to $API/v2/token; restart it with BUILDSVC_PUBLIC_URL=$API scripts/services.sh stop/start"
fi
for port in "$FORGE_PORT" "$API_PORT"; do
    port_free "$port" || fail "port 127.0.0.1:$port is in use; stop what holds it and retry"
done

rm -rf "$DEMO"
mkdir -p "$DEMO"
redis-cli -p "$REDIS_PORT" -n "$REDIS_DB" flushdb >/dev/null

export BUILDSVC_DATA_DIR="$DEMO"
export BUILDSVC_HOST=127.0.0.1 BUILDSVC_PORT="$API_PORT" BUILDSVC_PUBLIC_URL="$API"
export BUILDSVC_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/$REDIS_DB"
export BUILDSVC_ALLOWED_SOURCE_NETWORKS='["127.0.0.0/8"]'
export BUILDSVC_REGISTRY="$REGISTRY"
if [ "$REGISTRY_AUTH" = token ]; then
    # Sign with the key whose certificate the registry's bundle holds (services.sh made it).
    export BUILDSVC_REGISTRY_KEY_DIR="$ROOT/var/registry"
else
    export BUILDSVC_REGISTRY_USERNAME=buildsvc
    BUILDSVC_REGISTRY_PASSWORD="$(cat "$REGISTRY_PASSWORD_FILE")"
    export BUILDSVC_REGISTRY_PASSWORD
fi
export BUILDSVC_LOG_LEVEL=INFO

step "forgesim (GitLab) on $FORGE"
"$PY" -m forgesim --provider gitlab --host 127.0.0.1 --port "$FORGE_PORT" \
    --data "$DEMO/forgesim" >"$DEMO/forgesim.log" 2>&1 &
PIDS+=($!)
wait_http "$FORGE/_forgesim/health" 30 || fail "forgesim did not start (var/demo/forgesim.log)"

step "buildsvc API on $API and a worker"
"$PY" -m buildsvc admin migrate 2>>"$DEMO/admin.log"
"$PY" -m buildsvc serve >"$DEMO/api.log" 2>&1 &
PIDS+=($!)
"$PY" -m buildsvc worker >"$DEMO/worker.log" 2>&1 &
PIDS+=($!)
wait_http "$API/healthz" 30 || fail "the API did not start (var/demo/api.log)"
for _ in $(seq 1 300); do
    grep -q '"worker .* ready' "$DEMO/worker.log" 2>/dev/null && break
    kill -0 "${PIDS[-1]}" 2>/dev/null || fail "the worker exited (var/demo/worker.log)"
    sleep 0.1
done
grep -q '"worker .* ready' "$DEMO/worker.log" || fail "the worker did not start (var/demo/worker.log)"

step "account, forge user and project"
TOKEN="$("$PY" -m buildsvc admin create-account demo 2>>"$DEMO/admin.log" | tail -n 1)"
forge_admin /users '{"username": "demo", "name": "Demo User"}' >/dev/null
FORGE_TOKEN="$(forge_admin /tokens '{"username": "demo", "scopes": ["api"], "expires_at": null}' | json 'd["token"]')"
forge_admin /namespaces '{"path": "demo-group", "members": {"demo": "maintainer"}}' >/dev/null
CLONE_URL="$(forge_admin /repositories \
    '{"namespace": "demo-group", "name": "hello", "private": true, "default_branch": "main"}' |
    json 'd["clone_url"]')"
echo "project demo-group/hello: $CLONE_URL"

step "bind GitLab, link the image repository"
api POST /api/v1/sources "$(FORGE_TOKEN="$FORGE_TOKEN" "$PY" -c '
import json, os
print(json.dumps({"provider": "gitlab", "url": "'"$FORGE"'", "username": "demo",
                  "token": os.environ["FORGE_TOKEN"]}))')" | json '"bound " + d["username"] + " at " + d["url"]'
REPO_ID="$(api POST /api/v1/repositories '{
    "namespace": "demo", "name": "hello",
    "source": {"provider": "gitlab", "repository": "demo-group/hello"},
    "rules": [{"type": "branch", "pattern": "main", "tag": "latest,{short_sha}"}]
}' | json 'd["id"]')"
echo "image repository $REPO_ID: $BUILDSVC_REGISTRY/demo/hello (main -> latest, {short_sha})"

step "git push examples/hello"
SRC="$DEMO/hello-src"
cp -r examples/hello "$SRC"
# The token reaches git through its environment, never argv or the remote URL.
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="http.$FORGE/.extraHeader"
GIT_CONFIG_VALUE_0="Authorization: Basic $(printf 'demo:%s' "$FORGE_TOKEN" | base64 -w0)"
export GIT_CONFIG_VALUE_0 GIT_TERMINAL_PROMPT=0
git -C "$SRC" init -q -b main
git -C "$SRC" add -A
git -C "$SRC" -c user.name=Demo -c user.email=demo@example.invalid commit -q -m "hello from the demo"
git -C "$SRC" remote add origin "$CLONE_URL"
PUSHED_AT="$(date +%s.%N)"
git -C "$SRC" push -q origin main
SHA="$(git -C "$SRC" rev-parse HEAD)"
unset GIT_CONFIG_COUNT GIT_CONFIG_KEY_0 GIT_CONFIG_VALUE_0
echo "pushed $SHA"

BUILD_ID=""
for _ in $(seq 1 100); do
    BUILD_ID="$(api GET "/api/v1/builds?repository_id=$REPO_ID" | json 'd["items"][0]["id"] if d["items"] else ""')"
    [ -n "$BUILD_ID" ] && break
    sleep 0.1
done
[ -n "$BUILD_ID" ] || fail "the push did not create a build (var/demo/api.log)"

step "build $BUILD_ID: live log"
curl -sSN -H "Authorization: Bearer $TOKEN" "$API/api/v1/builds/$BUILD_ID/logs?follow=true" |
    "$PY" -u -c '
import json, sys
event = None
for raw in sys.stdin:
    raw = raw.rstrip("\n")
    if raw.startswith("event: "):
        event = raw[7:]
    elif raw.startswith("data: "):
        data = json.loads(raw[6:])
        if event == "end":
            print("-- build ended: " + data["status"])
            break
        print("  | " + data["line"])
    elif not raw:
        event = None
'
FINISHED_AT="$(date +%s.%N)"

BUILD="$(api GET "/api/v1/builds/$BUILD_ID")"
STATUS="$(printf '%s' "$BUILD" | json 'd["status"]')"
[ "$STATUS" = succeeded ] || fail "build $BUILD_ID ended $STATUS: $(printf '%s' "$BUILD" | json 'd["error"]')"

step "result"
printf '%s' "$BUILD" | PUSHED_AT="$PUSHED_AT" FINISHED_AT="$FINISHED_AT" "$PY" -c '
import json, os, sys
d = json.load(sys.stdin)
print("image:   ", ", ".join(d["tags"]))
print("digest:  ", d["digest"])
print("commit:  ", d["commit_sha"])
t = d["durations"]
for phase in ("queued", "fetching", "building", "pushing", "total"):
    print((phase + ":").ljust(10) + "%7.2f s" % t[phase])
wall = float(os.environ["FINISHED_AT"]) - float(os.environ["PUSHED_AT"])
print(f"push to image (git push start to build end, as seen here): {wall:.2f} s")
'
IMAGE="$(printf '%s' "$BUILD" | json 'd["tags"][0]')"
DIGEST="$(printf '%s' "$BUILD" | json 'd["digest"]')"
REF="${IMAGE%:*}@$DIGEST"

step "docker pull $REF from the registry and run it"
export DOCKER_CONFIG="$DEMO/docker" # a private login, not the user's ~/.docker
mkdir -p "$DOCKER_CONFIG"
if [ "$REGISTRY_AUTH" = token ]; then
    # The account's own registry password, set through the API; never in argv.
    (umask 077 && od -An -N18 -tx1 /dev/urandom | tr -d ' \n' >"$DEMO/registry-password")
    (umask 077 && "$PY" -c '
import json, sys
json.dump({"password": open(sys.argv[1]).read()}, open(sys.argv[2], "w"))' \
        "$DEMO/registry-password" "$DEMO/registry-password.json")
    # curl reads the body from the file: the password stays out of every argv.
    [ "$(curl -sS -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' --data @"$DEMO/registry-password.json" \
        "$API/api/v1/registry/password")" = 204 ] || fail "setting the registry password failed"
    docker login -u demo --password-stdin "$BUILDSVC_REGISTRY" <"$DEMO/registry-password" >/dev/null 2>&1 ||
        fail "docker login as the demo account failed"
else
    docker login -u buildsvc --password-stdin "$BUILDSVC_REGISTRY" <"$REGISTRY_PASSWORD_FILE" >/dev/null 2>&1
fi
docker image rm "$IMAGE" "${IMAGE%:*}:${SHA:0:7}" >/dev/null 2>&1 || true
docker pull -q "$REF" >/dev/null
OUTPUT="$(docker run --rm "$REF")"
printf '%s\n' "$OUTPUT"
grep -q "Hello from buildsvc!" <<<"$OUTPUT" || fail "the image did not print the greeting"

step "demo complete: git push -> webhook -> build -> $REF"
