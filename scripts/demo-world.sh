#!/usr/bin/env bash
# The Agent Mitra demo world: a throwaway PostgreSQL with the lic_schema demo data, the demo
# API (demo/), and steady background traffic, all on 127.0.0.1.
#
#   scripts/demo-world.sh start   DIR            start everything (DIR is created; reused if it exists)
#   scripts/demo-world.sh stop    DIR            stop traffic, API and PostgreSQL (safe to repeat)
#   scripts/demo-world.sh traffic DIR [SECONDS]  run the traffic generator in the foreground
#   scripts/demo-world.sh env     DIR            print `export` lines for the exporter's config
#   scripts/demo-world.sh switch  DIR [JSON|clear]  show, set or clear the API's failure switches
#   scripts/demo-world.sh status  DIR
#
# Switch examples (see demo/README.md):
#   scripts/demo-world.sh switch DIR '{"login_disabled_roles":["role-junior-agent"]}'
#   scripts/demo-world.sh switch DIR '{"failing_routes":["/policies/"],"latency_seconds":{"/analytics/dashboard":2.5}}'
#   scripts/demo-world.sh switch DIR '{"down":"refuse"}'      # or "hang"
#   scripts/demo-world.sh switch DIR clear
#
# Settings (environment): AGENTMITRA_DEMO_PG_PORT (55433), AGENTMITRA_DEMO_API_PORT (8000),
# AGENTMITRA_DEMO_ADMIN_PORT (8001), AGENTMITRA_DEMO_API_BIN (default: built here with
# `swift build -c release`), DEMO_TRAFFIC (1; 0 starts no traffic), DEMO_TRAFFIC_SECONDS
# (3600), DEMO_TRAFFIC_RATE (8 requests/s). PostgreSQL runs as the `postgres` user, so DIR
# must be reachable by it (e.g. under /tmp). Secrets are generated once into DIR/secrets.env.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_PORT=${AGENTMITRA_DEMO_PG_PORT:-55433}
API_PORT=${AGENTMITRA_DEMO_API_PORT:-8000}
ADMIN_PORT=${AGENTMITRA_DEMO_ADMIN_PORT:-8001}
DATABASE=agentmitra
APP_USER=agentmitra_app
EXPORTER_USER=agentmitra_exporter

usage() { echo "usage: $0 start|stop|traffic|env|switch|status DIR [ARG]" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1; dir=$2; shift 2
case "$dir" in /*) ;; *) dir="$(pwd)/$dir";; esac
pg_dir="$dir/pg"

say() { echo "demo-world: $*" >&2; }
die() { say "$*"; exit 1; }

random_secret() { head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

load_secrets() {
    [ -f "$dir/secrets.env" ] || die "$dir/secrets.env missing: run '$0 start $dir' first"
    # shellcheck disable=SC1091
    . "$dir/secrets.env"
}

make_secrets() {
    [ -f "$dir/secrets.env" ] && return
    # Hex secrets: safe inside URLs, JSON and shell words without quoting rules.
    umask 077
    cat >"$dir/secrets.env" <<EOF
AGENTMITRA_PASSWORD=$(random_secret)
AGENTMITRA_DB_PASSWORD=$(random_secret)
AGENTMITRA_PG_PASSWORD=$(random_secret)
AGENTMITRA_SERVICE_TOKEN=$(random_secret)$(random_secret)
AGENTMITRA_DEMO_ADMIN_SECRET=$(random_secret)
EOF
}

psql_super() {
    runuser -u postgres -- env PGOPTIONS='-c client_min_messages=warning' \
        AGENTMITRA_PASSWORD="$AGENTMITRA_PASSWORD" AGENTMITRA_DB_PASSWORD="$AGENTMITRA_DB_PASSWORD" \
        AGENTMITRA_PG_PASSWORD="$AGENTMITRA_PG_PASSWORD" \
        "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$pg_dir" -p "$PG_PORT" -U postgres "$@"
}

alive() { # pidfile, expected command fragment
    local pid
    [ -f "$1" ] || return 1
    pid=$(cat "$1")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$2"
}

stop_process() { # pidfile, expected command fragment, name
    local pid i
    if alive "$1" "$2"; then
        pid=$(cat "$1")
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 100); do alive "$1" "$2" || break; sleep 0.1; done
        if alive "$1" "$2"; then
            say "$3 did not stop within 10 s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        say "stopped $3"
    fi
    rm -f "$1"
}

api_binary() {
    if [ -n "${AGENTMITRA_DEMO_API_BIN:-}" ]; then
        [ -x "$AGENTMITRA_DEMO_API_BIN" ] || die "AGENTMITRA_DEMO_API_BIN=$AGENTMITRA_DEMO_API_BIN is not executable"
        echo "$AGENTMITRA_DEMO_API_BIN"
        return
    fi
    # Same flags as the Makefile's release builds, so the two never rebuild each other.
    local flags
    flags=$(make -s -C "$ROOT" release-flags)
    say "building agentmitra-demo-api (swift build $flags)"
    # shellcheck disable=SC2086 # the flags are words
    (cd "$ROOT" && swift build $flags --product agentmitra-demo-api >&2) || die "build failed"
    # shellcheck disable=SC2086
    echo "$(cd "$ROOT" && swift build $flags --show-bin-path)/agentmitra-demo-api"
}

start_database() {
    bash "$ROOT/scripts/pg-test-cluster.sh" start "$pg_dir" "$PG_PORT" >/dev/null
    psql_super -d postgres <<'SQL'
\getenv app_pw AGENTMITRA_DB_PASSWORD
\getenv exporter_pw AGENTMITRA_PG_PASSWORD
SELECT 'CREATE ROLE agentmitra_app LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'agentmitra_app') \gexec
SELECT 'CREATE ROLE agentmitra_exporter LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'agentmitra_exporter') \gexec
ALTER ROLE agentmitra_app PASSWORD :'app_pw';
ALTER ROLE agentmitra_exporter PASSWORD :'exporter_pw';
GRANT pg_monitor TO agentmitra_exporter;
SELECT 'CREATE DATABASE agentmitra' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'agentmitra') \gexec
SQL
    local seeded
    seeded=$(psql_super -d "$DATABASE" -At -c "SELECT to_regclass('lic_schema.users') IS NOT NULL")
    if [ "$seeded" != t ]; then
        say "loading lic_schema demo data"
        # Through stdin: the postgres user may not be able to read the checkout.
        cat "$ROOT/demo/sql/schema.sql" "$ROOT/demo/sql/seed.sql" |
            psql_super -d "$DATABASE" -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' \
                -c '\getenv demo_password AGENTMITRA_PASSWORD' -f -
    fi
    psql_super -d "$DATABASE" -c "GRANT agentmitra_writer TO $APP_USER" -c "GRANT agentmitra_reader TO $EXPORTER_USER"
}

start_api() {
    if alive "$dir/api.pid" agentmitra-demo-api; then
        say "demo API already running (pid $(cat "$dir/api.pid"))"
        return
    fi
    local binary i
    binary=$(api_binary)
    # The DSN and secrets go through the environment, so they never show in `ps`.
    AGENTMITRA_DEMO_DSN="postgresql://$APP_USER:$AGENTMITRA_DB_PASSWORD@127.0.0.1:$PG_PORT/$DATABASE" \
    AGENTMITRA_DEMO_ADMIN_SECRET="$AGENTMITRA_DEMO_ADMIN_SECRET" \
    AGENTMITRA_DEMO_SERVICE_TOKEN="$AGENTMITRA_SERVICE_TOKEN" \
        setsid nohup "$binary" --listen "127.0.0.1:$API_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" \
        --log-level "${DEMO_API_LOG_LEVEL:-info}" >>"$dir/api.log" 2>&1 </dev/null &
    echo $! >"$dir/api.pid"
    for i in $(seq 1 60); do
        curl -sf -o /dev/null "http://127.0.0.1:$API_PORT/health" && { say "demo API up on 127.0.0.1:$API_PORT (admin 127.0.0.1:$ADMIN_PORT)"; return; }
        # kill -0, not `alive`: until the forked shell has exec'd the API, its command line
        # is still this script's.
        kill -0 "$(cat "$dir/api.pid")" 2>/dev/null || { tail -n 20 "$dir/api.log" >&2; die "demo API exited"; }
        sleep 0.5
    done
    tail -n 20 "$dir/api.log" >&2
    die "demo API did not answer /health within 30 s"
}

start_traffic() {
    [ "${DEMO_TRAFFIC:-1}" = 1 ] || return 0
    if alive "$dir/traffic.pid" traffic.py; then return; fi
    AGENTMITRA_PASSWORD="$AGENTMITRA_PASSWORD" setsid nohup python3 "$ROOT/demo/traffic.py" \
        --api "http://127.0.0.1:$API_PORT" --duration "${DEMO_TRAFFIC_SECONDS:-3600}" \
        --rate "${DEMO_TRAFFIC_RATE:-8}" >>"$dir/traffic.log" 2>&1 </dev/null &
    echo $! >"$dir/traffic.pid"
    say "background traffic: up to ${DEMO_TRAFFIC_RATE:-8} requests/s for ${DEMO_TRAFFIC_SECONDS:-3600} s (log: $dir/traffic.log)"
}

print_env() {
    load_secrets
    cat <<EOF
export AGENTMITRA_API_URL=http://127.0.0.1:$API_PORT
export AGENTMITRA_ADMIN_URL=http://127.0.0.1:$ADMIN_PORT
export AGENTMITRA_PASSWORD=$AGENTMITRA_PASSWORD
export AGENTMITRA_SERVICE_TOKEN=$AGENTMITRA_SERVICE_TOKEN
export AGENTMITRA_DEMO_ADMIN_SECRET=$AGENTMITRA_DEMO_ADMIN_SECRET
export AGENTMITRA_PG_USER=$EXPORTER_USER
export AGENTMITRA_PG_PASSWORD=$AGENTMITRA_PG_PASSWORD
export AGENTMITRA_PG_DSN=postgresql://$EXPORTER_USER:$AGENTMITRA_PG_PASSWORD@127.0.0.1:$PG_PORT/$DATABASE
EOF
}

switches() {
    load_secrets
    local url="http://127.0.0.1:$ADMIN_PORT/switches" header="X-Demo-Admin-Secret: $AGENTMITRA_DEMO_ADMIN_SECRET"
    case "${1:-}" in
        "") curl -sS -H "$header" "$url";;
        clear) curl -sS -H "$header" -X DELETE "$url";;
        *) curl -sS -H "$header" -H 'Content-Type: application/json' -X PUT --data "$1" "$url";;
    esac
    echo
}

case "$cmd" in
    start)
        [ "$(id -u)" = 0 ] || die "run as root (PostgreSQL is started as the postgres user through runuser)"
        command -v curl >/dev/null || die "curl is needed"
        command -v python3 >/dev/null || die "python3 is needed"
        mkdir -p "$dir"
        chmod 755 "$dir"
        make_secrets
        load_secrets
        start_database
        say "PostgreSQL on 127.0.0.1:$PG_PORT, database $DATABASE (logs: $pg_dir/server.log)"
        start_api
        start_traffic
        print_env >"$dir/demo.env"
        chmod 600 "$dir/demo.env"
        say "environment for the exporter: source $dir/demo.env"
        print_env
        ;;
    stop)
        stop_process "$dir/traffic.pid" traffic.py "traffic"
        stop_process "$dir/api.pid" agentmitra-demo-api "demo API"
        if [ -d "$pg_dir/data" ]; then
            bash "$ROOT/scripts/pg-test-cluster.sh" stop "$pg_dir" "$PG_PORT"
            say "stopped PostgreSQL"
        fi
        ;;
    traffic)
        load_secrets
        AGENTMITRA_PASSWORD="$AGENTMITRA_PASSWORD" exec python3 "$ROOT/demo/traffic.py" \
            --api "http://127.0.0.1:$API_PORT" --duration "${1:-60}" --rate "${DEMO_TRAFFIC_RATE:-8}" --report-every 10
        ;;
    env) print_env;;
    switch) switches "${1:-}";;
    status)
        alive "$dir/api.pid" agentmitra-demo-api && echo "api: running (pid $(cat "$dir/api.pid"))" || echo "api: stopped"
        alive "$dir/traffic.pid" traffic.py && echo "traffic: running (pid $(cat "$dir/traffic.pid"))" || echo "traffic: stopped"
        if [ -f "$pg_dir/data/postmaster.pid" ] && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pg_dir/data" status >/dev/null 2>&1; then
            echo "postgresql: running on 127.0.0.1:$PG_PORT"
            load_secrets
            psql_super -d "$DATABASE" -At -F ' ' -c "SELECT 'auth_events:', count(*) FROM lic_schema.auth_events" \
                -c "SELECT 'api_request_log:', count(*) FROM lic_schema.api_request_log"
        else
            echo "postgresql: stopped"
        fi
        ;;
    *) usage;;
esac
