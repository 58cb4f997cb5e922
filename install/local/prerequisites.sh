#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and test the project, and starts
# MariaDB and Redis when they are not running. Idempotent; sourced by stack.sh and test.sh.
set -euo pipefail

need_pkg() { dpkg -s "$1" >/dev/null 2>&1 || echo "$1"; }

missing="$(need_pkg default-libmysqlclient-dev) $(need_pkg pkg-config) $(need_pkg mariadb-server) $(need_pkg redis-server) $(need_pkg curl)"
missing="$(echo "$missing" | xargs || true)"
if [ -n "$missing" ]; then
  echo "installing: $missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is missing: install Rust with rustup (https://rustup.rs)" >&2
  exit 1
fi

# MariaDB on 127.0.0.1:3306 (root, no password)
if ! mysqladmin -uroot -h127.0.0.1 ping >/dev/null 2>&1; then
  echo "starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql >/dev/null 2>&1 \
    || (mariadbd --user=mysql >/dev/null 2>&1 &)
  for _ in $(seq 1 60); do mysqladmin -uroot -h127.0.0.1 ping >/dev/null 2>&1 && break; sleep 1; done
  mysqladmin -uroot -h127.0.0.1 ping >/dev/null
fi

# Redis on 127.0.0.1:6379
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 1; done
  redis-cli -h 127.0.0.1 ping >/dev/null
fi

# The browser test (bins/dashboard/tests/browser.rs) needs Debian's chromium, Node.js and
# its npm packages (playwright-core drives the system chromium: no browser download).
# test.sh calls this; the stack does not need it.
install_browser_test_deps() {
  local dir missing=""
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/bins/dashboard/tests/browser"
  command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
  command -v node >/dev/null 2>&1 || missing="$missing nodejs"
  command -v npm >/dev/null 2>&1 || missing="$missing npm"
  # a CJK font, so that screenshots of failures are readable
  dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || missing="$missing fonts-wqy-microhei"
  missing="$(echo "$missing" | xargs || true)"
  if [ -n "$missing" ]; then
    echo "installing: $missing"
    local SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
  fi
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "installing the browser test's npm packages"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# openapi-spec-validator (PyPI) in a virtualenv, for the test that validates the
# dashboard's /openapi.json as OpenAPI 3.1 (bins/dashboard/tests/openapi.rs).
OPENAPI_VALIDATOR_VENV="${OPENAPI_VALIDATOR_VENV:-/var/tmp/openapi-spec-validator-0.9.0}"
export OPENAPI_VALIDATOR="$OPENAPI_VALIDATOR_VENV/bin/openapi-spec-validator"
install_openapi_validator() {
  [ -x "$OPENAPI_VALIDATOR" ] && return 0
  local SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -m venv "$OPENAPI_VALIDATOR_VENV" >/dev/null 2>&1; then
    rm -rf "$OPENAPI_VALIDATOR_VENV"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3 python3-venv >/dev/null
    python3 -m venv "$OPENAPI_VALIDATOR_VENV"
  fi
  "$OPENAPI_VALIDATOR_VENV/bin/pip" install -q --disable-pip-version-check "openapi-spec-validator==0.9.0"
}
