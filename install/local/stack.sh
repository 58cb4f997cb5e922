#!/usr/bin/env bash
# Brings up the whole local stack: migrations, seed, the four binaries, and — when no
# cluster is configured (no KUBECONFIG / CLUSTERS) — the simulated cluster `fake-kube`.
# Logs go to .stack/logs; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/../.."
source install/local/prerequisites.sh

PROFILE="${PROFILE:-debug}"
if [ "$PROFILE" = release ]; then cargo build --workspace --release; else cargo build --workspace; fi
TARGET="${CARGO_TARGET_DIR:-target}/$PROFILE"

mkdir -p .stack/logs
export DATABASE_URL="${DATABASE_URL:-mysql://root@127.0.0.1:3306/kubeflow}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
# Loopback only unless told otherwise (STACK_BIND=0.0.0.0 exposes the stack to the network).
BIND="${STACK_BIND:-127.0.0.1}"
export DASHBOARD_ADDR="${DASHBOARD_ADDR:-$BIND:8080}"
export SCHEDULE_ADDR="${SCHEDULE_ADDR:-$BIND:8081}"
export WORKER_ADDR="${WORKER_ADDR:-$BIND:8082}"
export WATCH_ADDR="${WATCH_ADDR:-$BIND:8083}"
# No SECRET_KEY / JWT_PASSWORD: `dashboard init` generates both keys and stores them in the
# database, where every binary and replica reads them.

pids=()
cleanup() {
  echo "stopping the stack"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if [ -z "${KUBECONFIG:-}" ] && [ -z "${CLUSTERS:-}" ]; then
  "$TARGET/fake-kube" --listen 127.0.0.1:6443 --kubeconfig .stack/kubeconfig > .stack/logs/fake-kube.log 2>&1 &
  pids+=($!)
  for _ in $(seq 1 50); do [ -s .stack/kubeconfig ] && break; sleep 0.2; done
  export KUBECONFIG="$PWD/.stack/kubeconfig"
  echo "no cluster configured: using the SIMULATED cluster fake-kube (kubeconfig $KUBECONFIG)"
fi

# The web front end: FRONTEND_DIR if given; else the original's published build, fetched
# once into a cache folder (install/local/frontend.sh); else /frontend/ explains how to
# get it.
if [ -n "${FRONTEND_DIR:-}" ]; then
  frontend_note="front end: FRONTEND_DIR=$FRONTEND_DIR"
elif fetched="$(bash install/local/frontend.sh)"; then
  export FRONTEND_DIR="$(printf '%s\n' "$fetched" | sed -n 's/^FRONTEND_DIR=//p')"
  export STATIC_DIR="${STATIC_DIR:-$(printf '%s\n' "$fetched" | sed -n 's/^STATIC_DIR=//p')}"
  frontend_note="front end: the original's published build (cube-studio b7ed2f08), cached in ${FRONTEND_DIR%/bundle}"
else
  frontend_note="front end: NOT available (could not fetch it: no network?); /frontend/ says how to get it"
fi
echo "$frontend_note"

"$TARGET/dashboard" migrate
# On the first init without ADMIN_PASSWORD a random admin password is generated and
# printed once (only its hash is stored).
init_out="$("$TARGET/dashboard" init)"
echo "$init_out"
generated="$(printf '%s\n' "$init_out" | sed -n "s/^generated admin password for user '[^']*': \([^ ]*\).*/\1/p")"
# freed memory back to the system at once, as the images set it (Dockerfile.dashboard)
export MIMALLOC_PURGE_DELAY="${MIMALLOC_PURGE_DELAY:-0}"
for b in dashboard schedule worker watch; do
  "$TARGET/$b" > ".stack/logs/$b.log" 2>&1 &
  pids+=($!)
done
host="${DASHBOARD_ADDR%:*}"; [ "$host" = 0.0.0.0 ] && host=127.0.0.1
for _ in $(seq 1 100); do curl -fs "http://$host:${DASHBOARD_ADDR##*:}/health" >/dev/null 2>&1 && break; sleep 0.2; done
echo
if [ -n "${ADMIN_PASSWORD:-}" ]; then
  login="admin / \$ADMIN_PASSWORD"
elif [ -n "$generated" ]; then
  login="admin / $generated   <- generated now and shown once: note it"
else
  login="admin / the password printed when this database was first initialised"
fi
echo "cube-studio is up: http://$host:${DASHBOARD_ADDR##*:}/  (login $login)"
echo "$frontend_note"
echo "health: dashboard :${DASHBOARD_ADDR##*:}, schedule :8081, worker :8082, watch :8083; logs in .stack/logs"
echo "Ctrl-C stops the stack."
wait -n "${pids[@]}" || true
