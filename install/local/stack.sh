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
export DASHBOARD_ADDR="${DASHBOARD_ADDR:-0.0.0.0:8080}"
export SECRET_KEY="${SECRET_KEY:-local-stack-secret}"

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

"$TARGET/dashboard" migrate
"$TARGET/dashboard" init
for b in dashboard schedule worker watch; do
  "$TARGET/$b" > ".stack/logs/$b.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:${DASHBOARD_ADDR##*:}/health" >/dev/null 2>&1 && break; sleep 0.2; done
echo
echo "cube-studio is up: http://127.0.0.1:${DASHBOARD_ADDR##*:}/  (login admin / ${ADMIN_PASSWORD:-admin})"
echo "health: dashboard :${DASHBOARD_ADDR##*:}, schedule :8081, worker :8082, watch :8083; logs in .stack/logs"
echo "Ctrl-C stops the stack."
wait -n "${pids[@]}" || true
