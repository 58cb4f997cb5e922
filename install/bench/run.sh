#!/usr/bin/env bash
# Benchmarks (figures, never assertions): the dashboard under wrk and its memory, the
# Argo compiler, the scheduler tick over 10,000 cron pipelines, and the watcher.
# Usage: bash install/bench/run.sh   (or `just bench`)
set -euo pipefail
cd "$(dirname "$0")/../.."
source install/local/prerequisites.sh
command -v wrk >/dev/null 2>&1 || { SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo; $SUDO apt-get install -y -qq wrk >/dev/null; }

cargo build --workspace --release
TARGET="${CARGO_TARGET_DIR:-target}/release"

echo "== dashboard: GET /project_modelview/api/ (page_size 20), 8 connections, 10 s"
export DATABASE_URL="mysql://root@127.0.0.1:3306/bench_dashboard"
export SECRET_KEY=bench ADMIN_PASSWORD=admin PASSWORD_HASH_ITERATIONS=1000 RUST_LOG=warn
export DASHBOARD_ADDR=127.0.0.1:18088 DASHBOARD_WORKERS="${DASHBOARD_WORKERS:-2}"
mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS bench_dashboard"
"$TARGET/dashboard" init >/dev/null
"$TARGET/dashboard" > /tmp/bench-dashboard.log 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs http://127.0.0.1:18088/health >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs -c /tmp/bench-cookies -H 'Content-Type: application/json' -d '{"username":"admin","password":"admin"}' http://127.0.0.1:18088/login/ >/dev/null
TOKEN=$(curl -fs -b /tmp/bench-cookies http://127.0.0.1:18088/userinfo/api/current/userinfo | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
URL='http://127.0.0.1:18088/project_modelview/api/?form_data=%7B%22page%22%3A0%2C%22page_size%22%3A20%7D'
echo "RSS at start: $(ps -o rss= -p $PID) KiB"
wrk -t2 -c8 -d3s -H "Authorization: admin|$TOKEN" "$URL" >/dev/null
wrk -t2 -c8 -d10s --latency -H "Authorization: admin|$TOKEN" "$URL" | grep -E "Requests/sec|Latency|99%|50%|requests in"
echo "RSS after load: $(ps -o rss= -p $PID) KiB"
kill $PID; trap - EXIT
mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS bench_dashboard"

echo "== argo: compile a 100-task pipeline"
cargo bench --workspace --bench compile 2>/dev/null | grep -E "compile_"
echo "== schedule: one tick over 10,000 cron pipelines"
cargo bench --workspace --bench tick 2>/dev/null | grep -E "schedule_tick"
if ls bins/watch/benches/*.rs >/dev/null 2>&1; then
  echo "== watch: workflow status events"
  for b in bins/watch/benches/*.rs; do cargo bench --workspace --bench "$(basename "$b" .rs)" 2>/dev/null | grep -vE "^(running|test result|$)" || true; done
fi
