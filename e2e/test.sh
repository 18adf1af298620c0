#!/usr/bin/env bash
# End-to-end test: dashboards and alert rules proven against the live system.
#
# Starts, all on 127.0.0.1 and all in a temporary directory: a throwaway PostgreSQL with the
# demo Agent Mitra schema and data, the demo API (agentmitra-demo-api), a small TLS endpoint,
# mitra-exporter (e2e/exporter.yml), Prometheus with the test overlay of alerts/ (short
# `for:` and windows, rendered by tools/render_mixin.py; the committed rules are untouched),
# Alertmanager with deploy/alertmanager/alertmanager.yml pointed at a webhook receiver that
# records every notification. Then e2e/run.py injects failures and checks the alerts, and
# evaluates every dashboard and rule expression. Everything started is stopped on exit.
#
#   e2e/test.sh              run from the repository root, as root, after
#                                    `make deps` and `swift build` (binaries in .build/debug)
#   E2E_BIN_DIR=DIR                  take mitra-exporter and agentmitra-demo-api from DIR
#   E2E_KEEP=1                       keep the temporary directory (logs, TSDB, notifications)
#   E2E_ONLY=TEXT                    run only the failure scenarios whose name contains TEXT
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bin_dir=${E2E_BIN_DIR:-$root/.build/debug}
exporter_bin=$bin_dir/mitra-exporter
demo_bin=$bin_dir/agentmitra-demo-api
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
# Overlay: every `for:` divided by 30 and at most 10s (a 1m cause still fires before a 5m
# symptom it inhibits), recording windows and holds divided by 60 (5m -> 5s, 1h -> 60s).
max_for=${E2E_MAX_FOR:-10s}
for_divisor=${E2E_FOR_DIVISOR:-30}
window_divisor=${E2E_WINDOW_DIVISOR:-60}

fail() { echo "e2e: $*" >&2; exit 1; }
for tool in "$exporter_bin" "$demo_bin"; do
    [ -x "$tool" ] || fail "$tool is missing: run \`swift build\` first (or set E2E_BIN_DIR)"
done
for tool in prometheus promtool prometheus-alertmanager openssl curl python3 "$pg_bin/psql"; do
    command -v "$tool" >/dev/null || fail "$tool is missing: run \`make deps\`"
done
python3 -c 'import yaml' 2>/dev/null || fail "python3-yaml is missing: run \`make deps\`"
[ "$(id -u)" -eq 0 ] || fail "run as root (PostgreSQL is started as the postgres user)"

started_at=$(date +%s)
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
make_work_dir e2e "${E2E_KEEP:-0}"
mkdir -p "$work/logs"
result=1

# On a failure, the last lines of every log (before the work directory goes).
show_logs() {
    [ "$result" -ne 0 ] || return 0
    local log
    for log in "$work"/logs/*.log; do
        [ -s "$log" ] || continue
        echo "--- last lines of $(basename "$log")"
        tail -n 15 "$log" | sed 's/^/    /'
    done
}
on_exit show_logs

# start NAME COMMAND...: runs COMMAND in the background with its output in logs/NAME.log,
# stopped on exit (newest first: Prometheus before the exporter it scrapes, the API before
# its database).
start() {
    local name=$1
    shift
    "$@" >"$work/logs/$name.log" 2>&1 &
    track_pid "$!" "$name"
}

# wait_http NAME URL SECONDS: polls URL until it answers 2xx, or fails the test.
wait_http() {
    wait_for_url "$2" "$3" || fail "$1 did not answer $2 within ${3}s (see logs/$1.log)"
}

secret() { python3 -c 'import secrets; print(secrets.token_hex(12))'; }

read -r pg_port standby_port api_port admin_port tls_port exporter_port prom_port am_port hook_port \
    < <(python3 e2e/servers.py free-ports 9)

echo "== PostgreSQL on 127.0.0.1:$pg_port"
pg_start "$work/pg" "$pg_port"
eval "$(scripts/pg-test-cluster.sh env "$work/pg" "$pg_port")"
demo_password="demo $(secret)"
api_password=$(secret)
admin_secret=$(secret)
service_token=$(secret)$(secret)
psql_super() {
    PGPASSWORD=$MITRA_TEST_PG_PASSWORD PGOPTIONS='-c client_min_messages=warning' \
        "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U "$MITRA_TEST_PG_USER" "$@"
}
psql_super -d postgres -c 'DROP DATABASE IF EXISTS agentmitra' -c 'CREATE DATABASE agentmitra'
psql_super -d agentmitra -v demo_password="$demo_password" -f demo/sql/schema.sql -f demo/sql/seed.sql >/dev/null
# The API gets only what it needs (agentmitra_writer), the exporter reads (pg_monitor and
# agentmitra_reader). Autovacuum runs often so that vacuum series exist within the run.
psql_super -d agentmitra -v api_pw="$api_password" <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SELECT 'CREATE ROLE e2e_api LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'e2e_api') \gexec
ALTER ROLE e2e_api PASSWORD :'api_pw';
GRANT agentmitra_writer TO e2e_api;
GRANT agentmitra_reader TO mitra_monitor;
ALTER SYSTEM SET autovacuum_naptime = '2s';
ALTER SYSTEM SET autovacuum_vacuum_insert_threshold = 50;
ALTER SYSTEM SET autovacuum_vacuum_insert_scale_factor = 0;
SELECT pg_reload_conf();
SQL

# A streaming standby, so that the primary's pg_stat_replication (and its panels) has a row.
echo "== PostgreSQL standby on 127.0.0.1:$standby_port"
on_exit '[ ! -f "$work/standby/data/postmaster.pid" ] || runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/standby/data" -m immediate -w -t 30 stop >/dev/null 2>&1'
mkdir -p "$work/standby"
chown postgres: "$work/standby"
chmod 700 "$work/standby"
runuser -u postgres -- "$pg_bin/pg_basebackup" -h "$work/pg" -p "$pg_port" -U postgres -D "$work/standby/data" \
    -R -X stream -c fast >"$work/logs/standby.log" 2>&1 || fail "pg_basebackup failed (see logs/standby.log)"
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/standby/data" -l "$work/standby/server.log" -w -t 30 \
    -o "-p $standby_port -k $work/standby -c listen_addresses=127.0.0.1" start >/dev/null \
    || fail "the standby did not start (see $work/standby/server.log)"

echo "== demo API on 127.0.0.1:$api_port (switches on :$admin_port)"
AGENTMITRA_DEMO_DSN="host=127.0.0.1 port=$pg_port dbname=agentmitra user=e2e_api password=$api_password connect_timeout=3" \
AGENTMITRA_DEMO_ADMIN_SECRET=$admin_secret AGENTMITRA_DEMO_SERVICE_TOKEN=$service_token \
    start demo-api "$demo_bin" --listen "127.0.0.1:$api_port" --admin-listen "127.0.0.1:$admin_port" --log-level warning
wait_http demo-api "http://127.0.0.1:$api_port/health" 30

echo "== TLS endpoint on 127.0.0.1:$tls_port, webhook receiver on 127.0.0.1:$hook_port"
openssl req -x509 -newkey rsa:2048 -nodes -days 90 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$work/tls.key" -out "$work/tls.crt" >/dev/null 2>&1 || fail "openssl could not make a certificate"
start tls-endpoint python3 e2e/servers.py tls --port "$tls_port" --cert "$work/tls.crt" --key "$work/tls.key"
start webhook python3 e2e/servers.py webhook --port "$hook_port" --out "$work/notifications.jsonl"
wait_http webhook "http://127.0.0.1:$hook_port/" 10
deadline=$(($(date +%s) + 10))
until curl -fsS -o /dev/null --max-time 2 --cacert "$work/tls.crt" --resolve "localhost:$tls_port:127.0.0.1" "https://localhost:$tls_port/"; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "TLS endpoint did not answer (see logs/tls-endpoint.log)"
    sleep 0.2
done

echo "== mitra-exporter on 127.0.0.1:$exporter_port"
export E2E_API_URL="http://127.0.0.1:$api_port" E2E_TLS_URL="https://127.0.0.1:$tls_port" E2E_TLS_CA="$work/tls.crt"
export E2E_SERVICE_TOKEN=$service_token E2E_DEMO_PASSWORD=$demo_password
export E2E_PG_PORT=$pg_port E2E_PG_MONITOR_PASSWORD=$MITRA_TEST_PG_MONITOR_PASSWORD
"$exporter_bin" --config.check --config.file e2e/exporter.yml >/dev/null || fail "e2e/exporter.yml is invalid"
exporter_started=$(date +%s)
exporter_cmd=("$exporter_bin" --config.file e2e/exporter.yml --web.listen-address "127.0.0.1:$exporter_port" --log.level warn)
start exporter "${exporter_cmd[@]}"
echo "$!" >"$work/exporter.pid"
# The assertions restart the exporter (an outage, then a counter reset): the one running at
# exit is the pid in exporter.pid.
on_exit '[ ! -f "$work/exporter.pid" ] || stop_processes "$(cat "$work/exporter.pid")"'
wait_http exporter "http://127.0.0.1:$exporter_port/-/ready" 30

echo "== rules overlay (--max-for $max_for --for-divisor $for_divisor --window-divisor $window_divisor)"
need_gojsonnet || fail "gojsonnet (PyPI) is needed to render the mixin"
python3 tools/render_mixin.py --out "$work/mixin" --max-for "$max_for" --for-divisor "$for_divisor" --window-divisor "$window_divisor" || fail "the mixin does not render"
mv "$work/mixin/rules" "$work/rules"
promtool check rules "$work"/rules/*.yml >/dev/null || fail "the rules overlay does not pass promtool check rules"
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $work/rules/*.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:$am_port"]
scrape_configs:
  - job_name: mitra-exporter
    static_configs:
      - targets: ["127.0.0.1:$exporter_port"]
EOF
promtool check config "$work/prometheus.yml" >/dev/null || fail "prometheus.yml of the test is invalid"
python3 e2e/servers.py alertmanager-config --example deploy/alertmanager/alertmanager.yml \
    --webhook "http://127.0.0.1:$hook_port" --out "$work/alertmanager.yml"

echo "== Alertmanager on 127.0.0.1:$am_port, Prometheus on 127.0.0.1:$prom_port"
start alertmanager prometheus-alertmanager --config.file "$work/alertmanager.yml" --storage.path "$work/alertmanager" \
    --web.listen-address "127.0.0.1:$am_port" --cluster.listen-address= --log.level warn
start prometheus prometheus --config.file "$work/prometheus.yml" --storage.tsdb.path "$work/prometheus" \
    --web.listen-address "127.0.0.1:$prom_port" --rules.alert.resend-delay 1s --log.level warn
wait_http alertmanager "http://127.0.0.1:$am_port/-/ready" 30
wait_http prometheus "http://127.0.0.1:$prom_port/-/ready" 30

echo "== assertions"
# In the background with `wait`, so that a signal runs the cleanup trap at once instead of
# after the assertions end. Every wait inside is bounded; `timeout` bounds their sum too.
E2E_ADMIN_SECRET=$admin_secret timeout --signal=TERM 1200 python3 e2e/run.py --prometheus "http://127.0.0.1:$prom_port" \
    --webhook-log "$work/notifications.jsonl" \
    --admin-url "http://127.0.0.1:$admin_port" \
    --pg-script "$root/scripts/pg-test-cluster.sh" --pg-dir "$work/pg" --pg-port "$pg_port" \
    --psql "$pg_bin/psql" --exporter-pidfile "$work/exporter.pid" --exporter-log "$work/logs/exporter.log" \
    --exporter-url "http://127.0.0.1:$exporter_port" --exporter-cmd "$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "${exporter_cmd[@]}")" \
    --dashboards dashboards --started "$exporter_started" ${E2E_ONLY:+--only "$E2E_ONLY"} &
track_pid "$!" assertions
set +e
wait "$!"
result=$?
set -e

# No secret of the run in any log or on /metrics.
leaks=()
metrics=$(curl -fsS --max-time 5 "http://127.0.0.1:$exporter_port/metrics" || true)
for value in "$api_password" "$demo_password" "$service_token" "$MITRA_TEST_PG_MONITOR_PASSWORD" "$admin_secret"; do
    if grep -rqF -- "$value" "$work/logs" || grep -qF -- "$value" <<<"$metrics"; then
        leaks+=("a secret of length ${#value}")
    fi
done
if [ "${#leaks[@]}" -gt 0 ]; then
    echo "FAIL no secret in any log or on /metrics: ${leaks[*]}"
    result=1
else
    echo "ok   no secret in any log or on /metrics"
fi

echo "e2e: finished in $(($(date +%s) - started_at))s: $([ "$result" -eq 0 ] && echo PASSED || echo FAILED)"
exit "$result"
