#!/usr/bin/env bash
# `make validate-k8s`: every manifest of deploy/k8s against the Kubernetes
# schemas (the PyPI package kubernetes-validate, installed if missing),
# strictly: an unknown field is an error.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v kubernetes-validate >/dev/null; then
  python3 -m pip install --quiet kubernetes-validate >&2
fi
kubernetes-validate --strict --quiet deploy/k8s/*.yaml
echo "deploy/k8s: every manifest valid"
