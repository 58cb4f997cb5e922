#!/usr/bin/env bash
# Benchmarks (figures, never assertions): the dashboard's project list under wrk and its
# memory (beside the original back end when CUBE_SRC is set), the Argo compiler, the
# scheduler tick over 10,000 cron pipelines (1 and 7 missed fire times), and the watcher.
# Prints every figure as it comes and all of them in one table at the end.
# Usage: bash install/bench/run.sh   (or `just bench`)
#   CUBE_SRC=<extracted cube-studio tree>  also measure the original's list in the same run
#   BENCH_ONLY="list compile tick watch"   a subset
#   BENCH_KEEP_ORIGINAL=1   leave the original running after its figure (it holds
#                           transactions open: later figures run slower)
set -euo pipefail
cd "$(dirname "$0")/../.."
source install/local/prerequisites.sh
command -v wrk >/dev/null 2>&1 || { SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo; $SUDO apt-get install -y -qq wrk >/dev/null; }
ONLY=${BENCH_ONLY:-list compile tick watch}
want() { [[ " $ONLY " == *" $1 "* ]]; }

cargo build --workspace --release

# A transaction left open on the server (the original back end's idle connections hold
# two from its start until it stops) keeps InnoDB from purging old row versions, and
# every figure after it drifts slower: say so rather than print them as if quiet.
warn_open_transactions() {
  local n
  n=$(mysql -N -uroot -h127.0.0.1 -e "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_started < NOW() - INTERVAL 60 SECOND" 2>/dev/null || echo 0)
  if [ "${n:-0}" -gt 0 ]; then
    echo "WARNING: $n transaction(s) open on MariaDB for over a minute (information_schema.INNODB_TRX; a running original back end holds two): InnoDB cannot purge, the figures below run slower"
  fi
}
warn_open_transactions
TARGET="${CARGO_TARGET_DIR:-target}/release"
declare -a TABLE=()
row() { TABLE+=("$(printf '| %s | %s | %s |' "$1" "$2" "$3")"); }

LIST_QS='form_data=%7B%22page%22%3A0%2C%22page_size%22%3A20%7D'

# wrk 8 connections 10 s after a 3 s warm-up; prints "req/s p50 p99"
wrk_figures() {
  local auth=$1 url=$2
  wrk -t2 -c8 -d3s -H "Authorization: $auth" "$url" >/dev/null
  wrk -t2 -c8 -d10s --latency -H "Authorization: $auth" "$url" |
    awk '/Requests\/sec/ {r=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} END {print r, p50, p99}'
}

if want list; then
  echo "== dashboard: GET /project_modelview/api/ (page_size 20), 8 connections, 10 s"
  export DATABASE_URL="mysql://root@127.0.0.1:3306/bench_dashboard"
  export SECRET_KEY=bench ADMIN_PASSWORD=admin PASSWORD_HASH_ITERATIONS=1000 RUST_LOG=warn
  export DASHBOARD_ADDR=127.0.0.1:18088 DASHBOARD_WORKERS="${DASHBOARD_WORKERS:-2}"
  # as the dashboard's image sets it (install/docker/Dockerfile.dashboard)
  export MIMALLOC_PURGE_DELAY="${MIMALLOC_PURGE_DELAY:-0}"
  mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS bench_dashboard"
  "$TARGET/dashboard" init >/dev/null
  "$TARGET/dashboard" > /tmp/bench-dashboard.log 2>&1 &
  PID=$!
  trap 'kill $PID 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do curl -fs http://127.0.0.1:18088/health >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fs -c /tmp/bench-cookies -H 'Content-Type: application/json' -d '{"username":"admin","password":"admin"}' http://127.0.0.1:18088/login/ >/dev/null
  TOKEN=$(curl -fs -b /tmp/bench-cookies http://127.0.0.1:18088/userinfo/api/current/userinfo | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
  URL="http://127.0.0.1:18088/project_modelview/api/?$LIST_QS"
  RSS0=$(ps -o rss= -p $PID)
  read -r RPS P50 P99 < <(wrk_figures "admin|$TOKEN" "$URL")
  RSS1=$(ps -o rss= -p $PID)
  echo "dashboard list: $RPS req/s, p50 $P50, p99 $P99, RSS $((RSS0 / 1024)) MB at start, $((RSS1 / 1024)) MB after load"
  row "project list, 20 rows (dashboard)" "$RPS req/s, p99 $P99" "RSS $((RSS1 / 1024)) MB after load"
  kill $PID; trap - EXIT
  mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS bench_dashboard"

  if [ -n "${CUBE_SRC:-}" ]; then
    echo "== the original back end, same request, same MariaDB (CUBE_SRC=$CUBE_SRC)"
    PEER_PORT=${PEER_PORT:-8090}
    SHARED="${SHARED_DIR:-$(cd .. && pwd)/shared}"
    CUBE_SRC="$CUBE_SRC" PEER_PORT=$PEER_PORT PEER_ACCESS_LOG=0 setsid bash "$SHARED/original-backend/start.sh" > /tmp/bench-original.log 2>&1 < /dev/null
    # the same page: at least 20 projects in the original's database too
    n=$(mysql -N -uroot -h127.0.0.1 kubeflow -e "SELECT COUNT(*) FROM project")
    for i in $(seq "$n" 22); do
      mysql -uroot -h127.0.0.1 kubeflow -e "INSERT INTO project (name, \`describe\`, type, expand, created_on, changed_on, created_by_fk, changed_by_fk) VALUES ('bench-$i', 'bench', 'org', '{}', NOW(), NOW(), 1, 1)"
    done
    read -r ORPS OP50 OP99 < <(wrk_figures "admin" "http://127.0.0.1:$PEER_PORT/project_modelview/api/?$LIST_QS")
    RATIO=$(python3 -c "print(f'{float(\"$RPS\") / float(\"$ORPS\"):.0f}')")
    echo "original list: $ORPS req/s, p50 $OP50, p99 $OP99; the dashboard answers ${RATIO}x as many"
    row "project list, 20 rows (original)" "$ORPS req/s, p99 $OP99" "dashboard ${RATIO}x"
    [ "${BENCH_KEEP_ORIGINAL:-}" = 1 ] || bash "$SHARED/original-backend/stop.sh" web >/dev/null 2>&1 || true
  fi
fi

want list && warn_open_transactions

if want compile; then
  echo "== argo: compile a 100-task pipeline"
  OUT=$(cargo bench --workspace --bench compile 2>/dev/null | grep -E "compile_" || true)
  echo "$OUT"
  row "Argo compile, 100 tasks" "$(echo "$OUT" | sed -n 's/.*: \([0-9.]* us\/op\).*/\1/p' | head -1)" ""
fi

if want tick; then
  echo "== schedule: ticks over 10,000 cron pipelines, 1 and 7 missed fire times"
  for k in 1 7; do
    OUT=$(BENCH_FIRE_TIMES=$k cargo bench --workspace --bench tick 2>/dev/null | grep -E "schedule_tick" || true)
    echo "$OUT"
    first=$(echo "$OUT" | grep -m1 'new_runs' | sed -n 's/^[^:]*: \([0-9]* ms\).*/\1/p')
    steady=$(echo "$OUT" | grep -m1 'steady' | sed -n 's/^[^:]*: \([0-9]* ms\).*/\1/p')
    row "scheduler, 10,000 pipelines x $k fire time(s)" "first tick $first" "steady tick $steady"
  done
fi

if want watch && ls bins/watch/benches/*.rs >/dev/null 2>&1; then
  echo "== watch: workflow status events"
  OUT=""
  for b in bins/watch/benches/*.rs; do
    OUT+=$(cargo bench --workspace --bench "$(basename "$b" .rs)" 2>/dev/null | grep -vE "^(running|test result|$)" || true)
  done
  echo "$OUT"
  row "watch, workflow status events" "$(echo "$OUT" | sed -n 's/^watch_apply: \([0-9]* workflow status events\/s\).*/\1/p' | head -1)" "$(echo "$OUT" | sed -n 's/^watch_lag: \(.*\) at .*/lag \1/p' | head -1)"
fi

echo
echo "| path | figure | also |"
echo "|---|---|---|"
printf '%s\n' "${TABLE[@]}"
