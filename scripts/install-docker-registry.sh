#!/usr/bin/env bash
# Debian's docker-registry (Docker Distribution 2.8), the store of ECR's images that
# `nozama registry` runs behind its front and gate. Idempotent: returns at once when it is
# there. The package's own service is not used (nor started: Nozama runs the binary with
# its own config.yml).
set -euo pipefail
[[ -x /usr/bin/docker-registry ]] && exit 0
[[ $EUID -eq 0 ]] || { echo "install-docker-registry: run as root, or apt-get install docker-registry" >&2; exit 1; }
echo "install-docker-registry: installing docker-registry ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
[[ -x /usr/bin/docker-registry ]]
