#!/usr/bin/env bash
# Re-record the original back end's answers into bins/dashboard/tests/reference/original/.
#
#   bash install/compare/record-original.sh            # against a running original (PEER_URL)
#   RESET=1 CUBE_SRC=/var/tmp/cube-src bash install/compare/record-original.sh
#                                                      # first reset the original to a fresh
#                                                      # database (drops database `kubeflow`!)
# The fixtures are meant to be recorded on a fresh database (RESET=1): the setup step
# (files 00_*) creates the users plainuser/victimuser and the org project compare-org only
# when they do not exist yet.
# Env: PEER_URL (http://127.0.0.1:8090), PEER_PORT (8090), PEER_HOME (/tmp/cube-peer),
#      ORIGINAL_BACKEND (/work/shared/original-backend), OUT (the fixture folder).
set -euo pipefail
cd "$(dirname "$0")/../.."
PEER_PORT=${PEER_PORT:-8090}
PEER_URL=${PEER_URL:-http://127.0.0.1:$PEER_PORT}
OB=${ORIGINAL_BACKEND:-/work/shared/original-backend}
OUT=${OUT:-bins/dashboard/tests/reference/original}
MYSQL=${MYSQL:-mysql -h127.0.0.1 -P3306 -uroot}

if [ "${RESET:-0}" = 1 ]; then
  : "${CUBE_SRC:?set CUBE_SRC to the extracted cube-studio tree (install/, myapp/ of b7ed2f08)}"
  bash "$OB/stop.sh" web
  $MYSQL -e 'DROP DATABASE IF EXISTS kubeflow'
  rm -f "${PEER_HOME:-/tmp/cube-peer}/data/.initialized"
  PEER_PORT=$PEER_PORT CUBE_SRC=$CUBE_SRC setsid nohup bash "$OB/start.sh" > /var/tmp/peer-start.log 2>&1 < /dev/null &
  for i in $(seq 1 300); do
    curl -fsS "$PEER_URL/health" > /dev/null 2>&1 && grep -q 'peer is up' /var/tmp/peer-start.log && break
    sleep 2
  done
  curl -fsS "$PEER_URL/health" > /dev/null
fi

mkdir -p "$OUT"
rm -f "$OUT"/[0-9][0-9]_*.json
# the original only accepts a bare user name: no secrets to pass
python3 install/compare/record.py --base "$PEER_URL" --target original --out "$OUT"
# schema (tables + sequences) of the original's database
bash install/compare/dump-original-ddl.sh "$OUT/original-db-ddl.sql"
