#!/usr/bin/env bash
# Runs the whole test suite (real MariaDB and Redis, the fake Kubernetes API server).
set -euo pipefail
cd "$(dirname "$0")/../.."
source install/local/prerequisites.sh
install_browser_test_deps
install_openapi_validator
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast "$@"
