#!/usr/bin/env bash
# Record the same exchanges from our dashboard (on its own fresh database) and compare
# them with the original's fixtures; writes COMPARISON.md next to the fixtures.
#
#   CARGO_TARGET_DIR=/var/tmp/target-origref cargo build -p dashboard --bin dashboard
#   DASHBOARD_BIN=/var/tmp/target-origref/debug/dashboard bash install/compare/run-compare.sh
#
# Env: DASHBOARD_BIN (required), OURS_DB (kubeflow_rs_compare; DROPPED and re-created),
#      OURS_ADDR (127.0.0.1:8091), OURS_OUT (/var/tmp/ours-recorded), KEEP_RUNNING=1 to leave
#      the dashboard running, FIXTURES (bins/dashboard/tests/reference/original).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${DASHBOARD_BIN:?set DASHBOARD_BIN to a built dashboard binary}
DB=${OURS_DB:-kubeflow_rs_compare}
ADDR=${OURS_ADDR:-127.0.0.1:8091}
OUT=${OURS_OUT:-/var/tmp/ours-recorded}
FIX=${FIXTURES:-bins/dashboard/tests/reference/original}
MYSQL=${MYSQL:-mysql -h127.0.0.1 -P3306 -uroot}

$MYSQL -e "DROP DATABASE IF EXISTS \`$DB\`; CREATE DATABASE \`$DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
export DATABASE_URL="mysql://root@127.0.0.1:3306/$DB" DASHBOARD_ADDR=$ADDR SECRET_KEY=compare \
       JWT_PASSWORD=compare ADMIN_PASSWORD=admin RUST_LOG=${RUST_LOG:-warn}
"$BIN" init
"$BIN" serve > /var/tmp/ours-compare-serve.log 2>&1 &
PID=$!
trap '[ "${KEEP_RUNNING:-0}" = 1 ] || kill $PID 2>/dev/null || true' EXIT
for i in $(seq 1 60); do curl -fsS "http://$ADDR/health" > /dev/null 2>&1 && break; sleep 1; done
rm -rf "$OUT"; mkdir -p "$OUT"
python3 install/compare/record.py --base "http://$ADDR" --target ours --out "$OUT" --admin-password admin
python3 install/compare/compare.py "$FIX" "$OUT" > "$FIX/COMPARISON.md"
echo "wrote $FIX/COMPARISON.md (ours recorded into $OUT; dashboard pid $PID)" >&2
