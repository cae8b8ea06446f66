#!/usr/bin/env bash
# Build the container image the tests run: nozama-test/busybox:latest.
#
# No registry is reachable, so the image is `docker import`ed from a root
# filesystem assembled here from Debian's busybox-static:
#
#   /bin/busybox + a symlink per applet (sh, httpd, wget, nc, sleep, ...)
#   /sbin, /usr/bin, /usr/sbin -> /bin
#   /etc/passwd, /etc/group (root, nobody, www-data), /etc/hosts, /tmp (1777)
#   /www/index.html, /www/health, /www/cgi-bin/env  (for `httpd -h /www`)
#   /tmp/index.html, /tmp/health                    (for `httpd -h /tmp`)
#
# Default CMD is ["sh"]. Examples:
#   docker run --rm nozama-test/busybox echo hi
#   docker run -d -p 0:8080 nozama-test/busybox httpd -f -p 8080 -h /www
#
# Idempotent: does nothing when the image exists (FORCE=1 rebuilds).
# Expects a running Docker Engine (scripts/install-docker.sh).
set -euo pipefail

IMAGE="${NOZAMA_TEST_IMAGE:-nozama-test/busybox:latest}"

say() { echo "build-test-image: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

if [[ -z "${FORCE:-}" ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    exit 0
fi

# --- a static busybox ------------------------------------------------------
is_static() { [[ -x "$1" ]] && ! ldd "$1" >/dev/null 2>&1; }

BUSYBOX=""
for candidate in /bin/busybox /usr/bin/busybox; do
    if is_static "$candidate"; then BUSYBOX=$candidate; break; fi
done
if [[ -z "$BUSYBOX" ]]; then
    say "installing busybox-static ..."
    export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
    if [[ -z "${NOZAMA_APT_UPDATED:-}" ]]; then
        apt-get update -qq >/dev/null || die "apt-get update failed"
        export NOZAMA_APT_UPDATED=1
    fi
    apt-get install -y -qq busybox-static >/dev/null || die "apt-get install busybox-static failed"
    for candidate in /bin/busybox /usr/bin/busybox; do
        if is_static "$candidate"; then BUSYBOX=$candidate; break; fi
    done
    [[ -n "$BUSYBOX" ]] || die "no statically linked busybox after installing busybox-static"
fi

# --- the root filesystem ---------------------------------------------------
WORK=$(mktemp -d /tmp/nozama-test-image.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
R="$WORK/rootfs"
mkdir -p "$R"/{bin,etc,root,tmp,www/cgi-bin,proc,sys,dev,var/log,var/run,home,usr}
chmod 1777 "$R/tmp"
chmod 700 "$R/root"
ln -s bin "$R/sbin"
ln -s ../bin "$R/usr/bin"
ln -s ../bin "$R/usr/sbin"

cp "$BUSYBOX" "$R/bin/busybox"
chmod 755 "$R/bin/busybox"
while read -r applet; do
    [[ -n "$applet" && "$applet" != busybox && ! -e "$R/bin/$applet" ]] || continue
    ln -s busybox "$R/bin/$applet"
done < <("$BUSYBOX" --list)
[[ -L "$R/bin/sh" && -L "$R/bin/httpd" ]] || die "busybox lacks sh or httpd applets"

cat >"$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/:/bin/false
www-data:x:33:33:www-data:/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$R/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
www-data:x:33:
nogroup:x:65534:
EOF
cat >"$R/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
EOF
: >"$R/etc/resolv.conf"
echo nozama-test >"$R/etc/hostname"
echo 'hosts: files dns' >"$R/etc/nsswitch.conf"

for dir in www tmp; do
    echo '<html><body>nozama test image</body></html>' >"$R/$dir/index.html"
    echo ok >"$R/$dir/health"
done
cat >"$R/www/cgi-bin/env" <<'EOF'
#!/bin/sh
echo "Content-Type: text/plain"
echo
echo "hostname=$(hostname)"
env | sort
EOF
chmod 755 "$R/www/cgi-bin/env"

# --- import ----------------------------------------------------------------
BB_VERSION=$("$BUSYBOX" 2>&1 | awk 'NR==1 {print $2}') || true
tar --numeric-owner --owner=0 --group=0 -C "$R" -cf - . |
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'WORKDIR /' \
        --change 'CMD ["sh"]' \
        --message "nozama test image (busybox ${BB_VERSION:-?})" \
        - "$IMAGE" >/dev/null ||
    die "docker import failed"

docker run --rm "$IMAGE" true || die "the freshly built $IMAGE does not run"
say "built $IMAGE"
