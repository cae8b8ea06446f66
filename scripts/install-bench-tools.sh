#!/usr/bin/env bash
# The peers bench/lb.py compares against, from Debian's packages: wrk, HAProxy, nginx.
# bench/tasks.py needs the Docker Engine: scripts/setup-test-services.sh starts it.
set -euo pipefail
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v haproxy >/dev/null || missing+=(haproxy)
command -v nginx >/dev/null || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
