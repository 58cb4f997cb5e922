# Every routine task. `just --list` shows them.

# bring up the local stack (migrate, seed, four binaries, fake cluster when none is configured)
stack:
    bash install/local/stack.sh

# run every test against real MariaDB and Redis
test *ARGS:
    bash install/local/test.sh {{ARGS}}

build:
    cargo build --workspace --all-targets

# formatting and lints, as CI wants them
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

fmt:
    cargo fmt --all

# the Kubernetes manifests against the 1.33 schemas, offline and strict
validate-k8s:
    bash install/kubernetes/validate.sh

migrate:
    cargo run --bin dashboard -- migrate

init:
    cargo run --bin dashboard -- init

# the simulated Kubernetes cluster alone
fake-kube:
    cargo run --bin fake-kube -- --listen 127.0.0.1:6443 --kubeconfig .stack/kubeconfig

# benchmarks (figures, not assertions); see install/bench/
bench:
    bash install/bench/run.sh

# the CI entry point
ci:
    bash .ci/run
