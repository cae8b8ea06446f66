#!/usr/bin/env bash
# Make sure a Docker Engine is installed and answering on this machine.
#
#   * installs Debian's docker.io (and busybox-static, which the test image is
#     built from) when `dockerd` is missing;
#   * starts dockerd in the background when `docker info` fails (there is no
#     systemd here), logging to /var/log/nozama-dockerd.log;
#   * waits until `docker info` works (up to DOCKER_WAIT_SECONDS, default 60).
#
# Idempotent and quiet on success; exits non-zero with a message on failure.
# Needs root (apt-get, dockerd). Extra daemon flags: DOCKERD_FLAGS="...".
set -euo pipefail

LOG=/var/log/nozama-dockerd.log
WAIT_SECONDS="${DOCKER_WAIT_SECONDS:-60}"

say() { echo "install-docker: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1

# `apt-get update` at most once per run (shared with the other scripts via the
# environment).
apt_install() {
    if [[ -z "${NOZAMA_APT_UPDATED:-}" ]]; then
        apt-get update -qq >/dev/null || die "apt-get update failed"
        export NOZAMA_APT_UPDATED=1
    fi
    apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}

if [[ $EUID -ne 0 ]]; then
    die "must run as root (needs apt-get and dockerd)"
fi

# dockerd may live in /usr/sbin, which is not always on a non-login PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# --- install ---------------------------------------------------------------
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
if ((${#missing[@]})); then
    # shellcheck disable=SC2207
    pkgs=($(printf '%s\n' "${missing[@]}" | sort -u))
    say "installing ${pkgs[*]} ..."
    apt_install "${pkgs[@]}"
    command -v dockerd >/dev/null 2>&1 || die "dockerd still missing after installing docker.io"
fi

docker_ok() { timeout 10 docker info >/dev/null 2>&1; }

if docker_ok; then
    exit 0
fi

# --- start -----------------------------------------------------------------
LOG_OFFSET=0
# What the last started dockerd wrote to the log.
attempt_log() { tail -c +"$((LOG_OFFSET + 1))" "$LOG" 2>/dev/null; }

# Alive and not a zombie (a killed daemon whose parent is gone can linger as
# one until PID 1 reaps it).
alive() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

dockerd_pid() {
    local pid
    pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    if [[ -n "$pid" ]] && alive "$pid" && grep -qx dockerd "/proc/$pid/comm" 2>/dev/null; then
        echo "$pid"
    fi
}

start_dockerd() {
    # $@: extra flags. Detach fully (own session, no inherited fds) so that a
    # caller capturing our output, or make, does not wait for the daemon.
    echo "===== $(date -Is) starting: dockerd ${DOCKERD_FLAGS:-} $*" >>"$LOG"
    LOG_OFFSET=$(stat -c %s "$LOG")
    # shellcheck disable=SC2086
    setsid nohup dockerd ${DOCKERD_FLAGS:-} "$@" </dev/null >>"$LOG" 2>&1 &
    STARTED_PID=$!
}

wait_ready() {
    # $1: pid of the dockerd we started. Returns 0 when ready, 1 when it died,
    # 2 on timeout.
    local pid=$1 deadline=$((SECONDS + WAIT_SECONDS))
    while ((SECONDS < deadline)); do
        docker_ok && return 0
        if ! alive "$pid"; then
            return 1
        fi
        sleep 0.5
    done
    return 2
}

pid=$(dockerd_pid)
if [[ -n "$pid" ]]; then
    # A daemon is already starting (or hung): give it the usual time.
    say "dockerd (pid $pid) is running but not answering yet; waiting ..."
    rc=0
    wait_ready "$pid" || rc=$?
    if ((rc == 0)); then exit 0; fi
    if ((rc == 2)); then
        die "dockerd (pid $pid) did not answer 'docker info' within ${WAIT_SECONDS}s; see $LOG"
    fi
    say "dockerd (pid $pid) exited; starting a new one"
fi

start_dockerd
rc=0
wait_ready "$STARTED_PID" || rc=$?
if ((rc == 0)); then
    exit 0
fi

if ((rc == 1)) && [[ "${DOCKERD_FLAGS:-}" != *iptables* ]] && attempt_log | grep -qi 'iptables'; then
    # Kernels without netfilter/NAT support: run without iptables rules
    # (published ports still work through docker-proxy on the host).
    say "dockerd failed on iptables; retrying with --iptables=false --ip6tables=false"
    start_dockerd --iptables=false --ip6tables=false
    rc=0
    wait_ready "$STARTED_PID" || rc=$?
    if ((rc == 0)); then exit 0; fi
fi

if ((rc == 1)); then
    say "dockerd exited during start-up; last lines of $LOG:"
    attempt_log | tail -n 20 >&2 || true
    die "could not start dockerd"
fi
die "dockerd did not answer 'docker info' within ${WAIT_SECONDS}s; see $LOG"
