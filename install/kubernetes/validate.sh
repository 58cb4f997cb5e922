#!/usr/bin/env bash
# Validates the manifests of install/kubernetes (or the files given) against the
# Kubernetes 1.33 OpenAPI schemas, strictly: an unknown or misspelt field is an error.
# Offline: the validator, kubernetes-validate (PyPI), ships the schemas of each
# Kubernetes version, so nothing is downloaded while validating. It is installed into a
# virtualenv the first time (PyPI). Before the real files, a manifest with a misspelt
# field must fail, so a validator that stopped being strict fails this script too.
#
#   bash install/kubernetes/validate.sh            # every *.yaml / *.yml here
#   bash install/kubernetes/validate.sh my.yaml    # given files
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
k8s_version="${K8S_VERSION:-1.33.0}"
validator_version=1.37.0
venv="${KUBERNETES_VALIDATE_VENV:-/var/tmp/kubernetes-validate-$validator_version}"
validator="$venv/bin/kubernetes-validate"

apt_install() {
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

if [ ! -x "$validator" ]; then
    command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        # Debian's python3 without its venv module
        rm -rf "$venv"
        apt_install python3-venv
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==$validator_version"
fi

validate() {
    "$validator" --strict --quiet --no-warn -k "$k8s_version" "$@"
}

canary="$(mktemp --suffix=.yaml)"
trap 'rm -f "$canary"' EXIT
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: canary, namspace: infra}\n' >"$canary"
if validate "$canary" >/dev/null 2>&1; then
    echo "validate.sh: the validator accepted a misspelt field (metadata.namspace): not strict" >&2
    exit 1
fi

if [ "$#" -gt 0 ]; then
    files=("$@")
else
    shopt -s nullglob
    files=("$here"/*.yaml "$here"/*.yml)
fi
if [ "${#files[@]}" -eq 0 ]; then
    echo "validate.sh: no manifests" >&2
    exit 1
fi
validate "${files[@]}"
echo "validate.sh: ${#files[@]} manifest file(s) valid against Kubernetes $k8s_version (strict)"
