#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the integration tests, on 127.0.0.1 only.
#
#   scripts/pg-test-cluster.sh start   DIR PORT   initdb (first time) and start; create roles and databases
#   scripts/pg-test-cluster.sh stop    DIR PORT   stop (does nothing when not running)
#   scripts/pg-test-cluster.sh restart DIR PORT   fast restart (used by the reconnect tests)
#   scripts/pg-test-cluster.sh env     DIR PORT   print `export` lines for the tests
#
# The server runs as the `postgres` system user (initdb refuses root), so DIR must be a
# path that user can reach, e.g. /tmp/mitra-pg. Host connections need a password
# (scram-sha-256); the Unix socket lives in DIR and trusts local users, for this script only.
set -euo pipefail

# The tests start private clusters through this script with the shared cluster's environment.
PG_VERSION=${PG_VERSION:-${MITRA_TEST_PG_VERSION:-15}}
if [ -z "${PG_BIN:-}" ]; then
    if [ "$PG_VERSION" = 15 ]; then
        PG_BIN=/usr/lib/postgresql/15/bin
    else
        PG_BIN=$("$(dirname "$0")/pg-wheel.sh" "$PG_VERSION")
    fi
fi
SUPER_USER=mitra_super
# Deliberately hostile: URL and key/value delimiters, quotes, a backslash and a space.
SUPER_PASSWORD='p@ss w:rd/?#&=%'"'"'"\x'
MONITOR_USER=mitra_monitor
MONITOR_PASSWORD='monitor-only-pw'
DATABASE=mitra_test
NOEXT_DATABASE=mitra_noext

usage() { echo "usage: $0 start|stop|restart|env DIR PORT" >&2; exit 2; }
[ $# -eq 3 ] || usage
cmd=$1; dir=$2; port=$3
case "$port" in ''|*[!0-9]*) echo "$0: PORT must be a number" >&2; exit 2;; esac
data="$dir/data"
script_path="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
statements_library="$("$PG_BIN/pg_config" --pkglibdir)/pg_stat_statements.so"
[ -f "$statements_library" ] || statements_library=""

as_pg() {
    # From /, which the postgres user can always enter (the caller's directory may be root's).
    if [ "$(id -un)" = postgres ]; then "$@"; else (cd / && runuser -u postgres -- "$@"); fi
}

running() {
    [ -f "$data/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1
}

psql_local() {
    as_pg env PGOPTIONS='-c client_min_messages=warning' "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres "$@"
}

start() {
    mkdir -p "$dir"
    chown postgres: "$dir" 2>/dev/null || true
    chmod 700 "$dir"
    if [ ! -f "$data/PG_VERSION" ]; then
        as_pg "$PG_BIN/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
            --no-instructions -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; exit 1; }
        cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
track_io_timing = on
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
CONF
        if [ -n "$statements_library" ]; then
            cat >>"$data/postgresql.conf" <<CONF
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.max = 10000
pg_stat_statements.track = top
CONF
        fi
    fi
    if ! running; then
        as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 30 -o "-p $port" start >/dev/null \
            || { tail -n 20 "$dir/server.log" >&2; exit 1; }
    fi
    # Roles and databases: created once, passwords reset every time so they always match.
    psql_local -d postgres -v super_pw="$SUPER_PASSWORD" -v monitor_pw="$MONITOR_PASSWORD" <<'SQL'
SELECT 'CREATE ROLE mitra_super LOGIN SUPERUSER' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mitra_super') \gexec
SELECT 'CREATE ROLE mitra_monitor LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mitra_monitor') \gexec
ALTER ROLE mitra_super PASSWORD :'super_pw';
ALTER ROLE mitra_monitor PASSWORD :'monitor_pw';
GRANT pg_monitor TO mitra_monitor;
SELECT 'CREATE DATABASE mitra_test OWNER mitra_super' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'mitra_test') \gexec
SELECT 'CREATE DATABASE mitra_noext OWNER mitra_super' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'mitra_noext') \gexec
SQL
    if [ -n "$statements_library" ]; then
        psql_local -d "$DATABASE" -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements'
    fi
    psql_local -d "$DATABASE" -c 'CREATE SCHEMA IF NOT EXISTS lic_schema AUTHORIZATION mitra_super' \
        -c 'GRANT USAGE ON SCHEMA lic_schema TO mitra_monitor'
}

stop() {
    if running; then
        as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null
    fi
}

restart() {
    as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$dir/server.log" -m fast -w -t 30 -o "-p $port" restart >/dev/null
}

print_env() {
    local name value
    for name in HOST PORT USER PASSWORD DATABASE NOEXT_DATABASE MONITOR_USER MONITOR_PASSWORD DATADIR CLUSTER_SCRIPT CLUSTER_DIR VERSION BIN HAS_STATEMENTS; do
        case $name in
            HOST) value=127.0.0.1;; PORT) value=$port;; USER) value=$SUPER_USER;;
            PASSWORD) value=$SUPER_PASSWORD;; DATABASE) value=$DATABASE;; NOEXT_DATABASE) value=$NOEXT_DATABASE;;
            MONITOR_USER) value=$MONITOR_USER;; MONITOR_PASSWORD) value=$MONITOR_PASSWORD;;
            DATADIR) value=$data;; CLUSTER_SCRIPT) value=$script_path;; CLUSTER_DIR) value=$dir;;
            VERSION) value=$PG_VERSION;; BIN) value=$PG_BIN;; HAS_STATEMENTS) value=$([ -n "$statements_library" ] && echo 1 || echo 0);;
        esac
        printf 'export MITRA_TEST_PG_%s=%q\n' "$name" "$value"
    done
}

case "$cmd" in
    start) start;;
    stop) stop;;
    restart) restart;;
    env) print_env;;
    *) usage;;
esac
