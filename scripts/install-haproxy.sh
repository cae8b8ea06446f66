#!/usr/bin/env bash
# HAProxy, the load balancers' data plane that `nozama lb` drives, from Debian's packages
# (2.6 on bookworm). Idempotent: returns at once when it is there.
set -euo pipefail
command -v haproxy >/dev/null 2>&1 && exit 0
[[ $EUID -eq 0 ]] || { echo "install-haproxy: run as root, or apt-get install haproxy" >&2; exit 1; }
echo "install-haproxy: installing haproxy ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends haproxy >/dev/null
command -v haproxy >/dev/null 2>&1
