#!/usr/bin/env bash
# Build the Lambda function image the tests run: nozama-test/lambda-python:latest.
#
# It follows the conventions of AWS's Lambda base images (public.ecr.aws/lambda/python),
# so that Nozama runs it as Lambda runs an image function:
#
#   /lambda-entrypoint.sh      AWS's entrypoint: exports _HANDLER=$1, then execs
#                              /var/runtime/bootstrap (or the RIE without a Runtime API)
#   /var/runtime/bootstrap     `python3 -m awslambdaric "$_HANDLER"`
#   /var/runtime/              awslambdaric, simplejson and the runtime_client module
#   /var/task/app.py           the handler (app.handler)
#   ENTRYPOINT ["/lambda-entrypoint.sh"], CMD ["app.handler"], WORKDIR /var/task,
#   LAMBDA_TASK_ROOT=/var/task, LAMBDA_RUNTIME_DIR=/var/runtime
#
# No registry is reachable, so the image is `docker import`ed from a root filesystem
# assembled here: Debian's busybox-static, Debian's python3.11 (its standard library
# less tests, idlelib, tkinter, ensurepip and lib2to3) with the libraries `ldd` lists,
# and awslambdaric from the Python that runs Nozama's own workers ($PYTHON, the venv's).
#
# app.handler answers what the tests check (LAMBDA_TASK_ROOT, cwd, the function's
# name, RELEASE from the environment), sleeps for event["sleep"] seconds and touches
# event["allocate_mb"] MB of memory when asked.
#
# Idempotent: does nothing when the image exists (FORCE=1 rebuilds).
set -euo pipefail

IMAGE="${NOZAMA_TEST_LAMBDA_IMAGE:-nozama-test/lambda-python:latest}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-$HERE/../.venv/bin/python}"
[[ -x "$PYTHON" ]] || PYTHON=python3

say() { echo "build-test-lambda-image: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

if [[ -z "${FORCE:-}" ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
apt_install() {
    if [[ -z "${NOZAMA_APT_UPDATED:-}" ]]; then
        apt-get update -qq >/dev/null || die "apt-get update failed"
        export NOZAMA_APT_UPDATED=1
    fi
    apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}

is_static() { [[ -x "$1" ]] && ! ldd "$1" >/dev/null 2>&1; }
BUSYBOX=""
for candidate in /bin/busybox /usr/bin/busybox; do
    if is_static "$candidate"; then BUSYBOX=$candidate; break; fi
done
[[ -n "$BUSYBOX" ]] || { apt_install busybox-static; BUSYBOX=/bin/busybox; }
is_static "$BUSYBOX" || die "no statically linked busybox"
[[ -x /usr/bin/python3.11 ]] || apt_install python3.11-minimal libpython3.11-stdlib

# awslambdaric and what it loads, from the Python that runs Nozama's process workers.
FIND_SITE='import awslambdaric as r, os; print(os.path.dirname(os.path.dirname(r.__file__)))'
SITE=$("$PYTHON" -c "$FIND_SITE") ||
    die "$PYTHON has no awslambdaric (run make venv)"
RIC_SO=$(ls "$SITE"/runtime_client.cpython-311-*.so 2>/dev/null | head -n1)
[[ -n "$RIC_SO" ]] || die "no runtime_client.cpython-311 module in $SITE"

WORK=$(mktemp -d /tmp/nozama-lambda-image.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
R="$WORK/rootfs"
mkdir -p "$R"/{bin,etc,root,tmp,proc,sys,dev,usr/lib,usr/local/bin,var/runtime,var/task}
chmod 1777 "$R/tmp"
ln -s ../bin/busybox "$R/usr/local/bin/busybox"

# --- busybox ----------------------------------------------------------------
cp "$BUSYBOX" "$R/bin/busybox"
while read -r applet; do
    [[ -n "$applet" && "$applet" != busybox && ! -e "$R/bin/$applet" ]] || continue
    ln -s busybox "$R/bin/$applet"
done < <("$BUSYBOX" --list)
ln -s bin "$R/sbin"
mkdir -p "$R/usr/bin"

# --- python3.11 and the libraries it links -------------------------------------
cp /usr/bin/python3.11 "$R/usr/bin/python3.11"
ln -s python3.11 "$R/usr/bin/python3"
tar -C /usr/lib -cf - --exclude='__pycache__' --exclude='python3.11/test' \
    --exclude='python3.11/idlelib' --exclude='python3.11/tkinter' \
    --exclude='python3.11/ensurepip' --exclude='python3.11/lib2to3' \
    --exclude='python3.11/site-packages' --exclude='python3.11/dist-packages' python3.11 |
    tar -C "$R/usr/lib" -xf -
cp -a "$SITE/awslambdaric" "$SITE/simplejson" "$RIC_SO" "$R/var/runtime/"
find "$R/var/runtime" -name '__pycache__' -prune -exec rm -rf {} +
libraries() {
    ldd "$@" 2>/dev/null | awk '/=>/ && $3 ~ /^\// {print $3} /^\t\/lib/ {print $1}' | sort -u
}
for lib in $(libraries /usr/bin/python3.11 "$RIC_SO" /usr/lib/python3.11/lib-dynload/*.so); do
    mkdir -p "$R$(dirname "$lib")"
    cp -L "$lib" "$R$lib"
done
# Debian's linker and libraries live under /lib (usr-merged on the host): keep both paths.
[[ -e "$R/lib64/ld-linux-x86-64.so.2" ]] || die "ldd found no dynamic linker"

# --- the Lambda conventions ------------------------------------------------------
cat >"$R/lambda-entrypoint.sh" <<'EOF'
#!/bin/sh
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"

RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  exec /usr/local/bin/aws-lambda-rie $RUNTIME_ENTRYPOINT
else
  exec $RUNTIME_ENTRYPOINT
fi
EOF
cat >"$R/var/runtime/bootstrap" <<'EOF'
#!/bin/sh
export PYTHONPATH=/var/runtime:/var/task${PYTHONPATH:+:$PYTHONPATH}
exec /usr/bin/python3 -m awslambdaric "$_HANDLER"
EOF
chmod 755 "$R/lambda-entrypoint.sh" "$R/var/runtime/bootstrap"
cat >"$R/var/task/app.py" <<'EOF'
import os
import time


def handler(event, context):
    event = event or {}
    print(f"handling {context.aws_request_id}", flush=True)
    if event.get("sleep"):
        time.sleep(event["sleep"])
    held = [b"\x01" * (1 << 20) for _ in range(event.get("allocate_mb", 0))]
    return {"task_root": os.environ.get("LAMBDA_TASK_ROOT"), "cwd": os.getcwd(),
            "function_name": context.function_name,
            "env_function_name": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "release": os.environ.get("RELEASE", "v1"), "held_mb": len(held),
            "greeting": event.get("greeting")}


def other(event, context):
    return {"handler": "other", "argv_handler": os.environ.get("_HANDLER")}
EOF
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
echo 'root:x:0:' >"$R/etc/group"

OLD_ID=$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
tar --numeric-owner --owner=0 --group=0 -C "$R" -cf - . |
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
        --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
        --change 'WORKDIR /var/task' \
        --change 'ENTRYPOINT ["/lambda-entrypoint.sh"]' \
        --change 'CMD ["app.handler"]' \
        --message "nozama test Lambda image (python3.11, awslambdaric)" \
        - "$IMAGE" >/dev/null ||
    die "docker import failed"

docker run --rm --entrypoint /usr/bin/python3 "$IMAGE" \
    -c 'import sys; sys.path[:0] = ["/var/runtime", "/var/task"]; import awslambdaric.bootstrap' ||
    die "the freshly built $IMAGE cannot import awslambdaric and app"
# A rebuild (FORCE=1) leaves the image it replaced untagged: remove it unless still used.
if [[ -n "$OLD_ID" && "$(docker image inspect --format '{{.RepoTags}}' "$OLD_ID")" == "[]" ]]; then
    docker rmi "$OLD_ID" >/dev/null 2>&1 || true
fi
say "built $IMAGE"
