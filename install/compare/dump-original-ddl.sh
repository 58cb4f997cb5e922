#!/usr/bin/env bash
# Write the original back end's schema (database `kubeflow` after its migrations) as one
# SQL file: SHOW CREATE SEQUENCE for every sequence, SHOW CREATE TABLE for every table,
# and the alembic_version row. No other rows.
# Usage: install/compare/dump-original-ddl.sh [out.sql]   (env: DB=kubeflow MYSQL="mysql -h127.0.0.1 -P3306 -uroot")
set -euo pipefail
DB=${DB:-kubeflow}
MYSQL=${MYSQL:-mysql -h127.0.0.1 -P3306 -uroot}
OUT=${1:-bins/dashboard/tests/reference/original/original-db-ddl.sql}
q() { $MYSQL -N -B "$DB" -e "$1"; }
{
  echo "-- Schema of the original cube-studio back end (commit b7ed2f08) after its migrations"
  echo "-- (myapp/create_db.py + 'myapp db upgrade'), on $($MYSQL -N -B -e 'select version()')."
  echo "-- Recorded $(date -u +%Y-%m-%dT%H:%MZ) by install/compare/dump-original-ddl.sh. No rows except alembic_version."
  echo "-- The ab_* ids come from the SEQUENCE objects below: the columns have no DEFAULT and no"
  echo "-- AUTO_INCREMENT; SQLAlchemy (FAB's Sequence('ab_*_id_seq')) inserts nextval() explicitly."
  echo "SET NAMES utf8mb4;"
  echo "SET FOREIGN_KEY_CHECKS = 0;"
  echo
  for s in $(q "SELECT table_name FROM information_schema.tables WHERE table_schema='$DB' AND table_type='SEQUENCE' ORDER BY table_name"); do
    echo "DROP SEQUENCE IF EXISTS \`$s\`;"
    q "SHOW CREATE SEQUENCE \`$s\`" | cut -f2- | sed 's/$/;/'
    echo
  done
  for t in $(q "SELECT table_name FROM information_schema.tables WHERE table_schema='$DB' AND table_type='BASE TABLE' ORDER BY table_name"); do
    echo "DROP TABLE IF EXISTS \`$t\`;"
    # SHOW CREATE TABLE prints literal \n inside the one result cell with -B; -r keeps them raw
    $MYSQL -N -B -r "$DB" -e "SHOW CREATE TABLE \`$t\`" | cut -f2- | sed -e 's/ AUTO_INCREMENT=[0-9]*//' -e '$ s/$/;/'
    echo
  done
  echo "INSERT INTO alembic_version (version_num) VALUES ('$(q 'SELECT version_num FROM alembic_version')');"
  echo "SET FOREIGN_KEY_CHECKS = 1;"
} > "$OUT"
echo "wrote $OUT" >&2
