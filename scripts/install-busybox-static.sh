#!/usr/bin/env bash
# Debian's busybox-static: functions of PackageType Image start in their containers through
# the host's statically linked busybox (nozama/functions/container_workers.py), mounted
# read-only, which points their output at the worker's FIFO. Idempotent: returns at once
# when the package is installed. (It replaces Debian's dynamically linked busybox, which
# cannot run inside an image.)
set -euo pipefail
installed() { dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "ok installed"; }
installed && exit 0
[[ $EUID -eq 0 ]] || {
    echo "install-busybox-static: run as root, or apt-get install busybox-static" >&2; exit 1; }
echo "install-busybox-static: installing busybox-static ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends busybox-static >/dev/null
installed && [[ -x /bin/busybox ]]
