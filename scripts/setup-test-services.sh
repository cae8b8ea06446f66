#!/usr/bin/env bash
# Bring up everything the test suite needs on this machine (as root):
#
#   1. a Docker Engine (scripts/install-docker.sh), HAProxy (scripts/install-haproxy.sh),
#      Docker Distribution (scripts/install-docker-registry.sh, for `nozama registry`),
#      busybox-static (scripts/install-busybox-static.sh, for image functions' containers)
#      and iproute2 (`ip netns`: the tests build their hosts as network namespaces),
#   2. the test image nozama-test/busybox:latest (scripts/build-test-image.sh),
#   3. PostgreSQL listening on 127.0.0.1:5432 with role `nozama` (password
#      `nozama`) owning database `nozama_test`.
#
# Idempotent: a second run only checks and returns quickly. The services it
# starts keep running after it exits. Exits non-zero with a message on failure.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PG_ROLE=nozama
PG_PASSWORD=nozama
PG_DB=nozama_test
PG_PORT=5432
PG_URL="postgresql+psycopg://${PG_ROLE}:${PG_PASSWORD}@127.0.0.1:${PG_PORT}/${PG_DB}"

say() { echo "setup-test-services: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

apt_install() {
    if [[ -z "${NOZAMA_APT_UPDATED:-}" ]]; then
        apt-get update -qq >/dev/null || die "apt-get update failed"
        export NOZAMA_APT_UPDATED=1
    fi
    apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}

[[ $EUID -eq 0 ]] || die "must run as root"

# --- 1. Docker -------------------------------------------------------------
bash "$HERE/install-docker.sh" || die "Docker Engine is not available"

# --- 1b. HAProxy, the load balancers' data plane ------------------------------
bash "$HERE/install-haproxy.sh" || die "HAProxy is not available"

# --- 1b'. Docker Distribution, ECR's image store behind `nozama registry` -------------
bash "$HERE/install-docker-registry.sh" || die "docker-registry is not available"

# --- 1b''. busybox-static, which image functions' containers start through ---------
bash "$HERE/install-busybox-static.sh" || die "busybox-static is not available"

# --- 1c. iproute2: the tests' hosts are network namespaces (tests/support/netns.py) ---
command -v ip >/dev/null 2>&1 || apt_install iproute2

# --- 2. test image ---------------------------------------------------------
bash "$HERE/build-test-image.sh" || die "could not build the test image"
bash "$HERE/build-test-lambda-image.sh" || die "could not build the Lambda test image"

# --- 3. PostgreSQL ---------------------------------------------------------
if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
    say "installing postgresql ..."
    apt_install postgresql
fi

# Newest installed server version that has a cluster config; create `main`
# when the package did not (e.g. create_main_cluster = false).
pg_version() {
    local d v best=""
    for d in /etc/postgresql/*/main; do
        [[ -f "$d/postgresql.conf" ]] || continue
        v=$(basename "$(dirname "$d")")
        if [[ -z "$best" ]] || ((${v%%.*} > ${best%%.*})); then best=$v; fi
    done
    echo "$best"
}
PG_VER=$(pg_version)
if [[ -z "$PG_VER" ]]; then
    PG_VER=$(basename "$(ls -d /usr/lib/postgresql/*/ | sort -V | tail -n1)")
    [[ -n "$PG_VER" ]] || die "no PostgreSQL server installed"
    say "creating cluster $PG_VER/main ..."
    pg_createcluster --port "$PG_PORT" "$PG_VER" main >/dev/null || die "pg_createcluster failed"
fi

pg_running() { pg_ctlcluster "$PG_VER" main status >/dev/null 2>&1; }

# The port must be 5432: a machine where another cluster took it first would
# have given `main` a different one.
conf_port=$(pg_conftool "$PG_VER" main show -s port 2>/dev/null || echo "$PG_PORT")
if [[ "$conf_port" != "$PG_PORT" ]]; then
    say "setting port $PG_PORT for cluster $PG_VER/main (was $conf_port)"
    pg_conftool "$PG_VER" main set port "$PG_PORT"
    if pg_running; then pg_ctlcluster "$PG_VER" main restart || die "could not restart PostgreSQL"; fi
fi

if ! pg_running; then
    # A postmaster.pid left behind by a killed server whose pid now belongs to
    # another process would make postgres refuse to start.
    datadir=$(pg_conftool "$PG_VER" main show -s data_directory 2>/dev/null || echo "/var/lib/postgresql/$PG_VER/main")
    if [[ -f "$datadir/postmaster.pid" ]]; then
        oldpid=$(head -n1 "$datadir/postmaster.pid" || true)
        if [[ -z "$oldpid" ]] || ! grep -qs postgres "/proc/$oldpid/comm"; then
            rm -f "$datadir/postmaster.pid"
        fi
    fi
    # The socket directory lives on a tmpfs on some machines.
    install -d -o postgres -g postgres -m 2775 /var/run/postgresql
    pg_ctlcluster "$PG_VER" main start || {
        tail -n 20 "/var/log/postgresql/postgresql-$PG_VER-main.log" >&2 || true
        die "could not start PostgreSQL $PG_VER/main"
    }
fi

psql_admin() {
    runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" "$@"
}

for _ in $(seq 1 30); do
    psql_admin -tAc 'select 1' >/dev/null 2>&1 && break
    sleep 1
done
psql_admin -tAc 'select 1' >/dev/null || die "PostgreSQL does not accept connections"

if [[ "$(psql_admin -tAc "select 1 from pg_roles where rolname = '$PG_ROLE'")" != 1 ]]; then
    psql_admin -c "create role $PG_ROLE login password '$PG_PASSWORD'" || die "could not create role $PG_ROLE"
fi
if [[ "$(psql_admin -tAc "select 1 from pg_database where datname = '$PG_DB'")" != 1 ]]; then
    psql_admin -c "create database $PG_DB owner $PG_ROLE" || die "could not create database $PG_DB"
fi

# Check the way the tests connect: TCP, password, on 127.0.0.1.
PGPASSWORD="$PG_PASSWORD" psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_ROLE" -d "$PG_DB" -tAc 'select 1' >/dev/null 2>&1 || {
    # Role present from an earlier setup with another password: reset it.
    psql_admin -c "alter role $PG_ROLE login password '$PG_PASSWORD'" >/dev/null
    PGPASSWORD="$PG_PASSWORD" psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_ROLE" -d "$PG_DB" -tAc 'select 1' >/dev/null ||
        die "cannot connect to $PG_DB as $PG_ROLE on 127.0.0.1:$PG_PORT"
}

echo "test services ready (docker, nozama-test/busybox:latest, PostgreSQL $PG_VER); tests use:"
echo "export NOZAMA_TEST_POSTGRES_URL=$PG_URL"
