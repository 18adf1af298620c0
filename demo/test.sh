#!/usr/bin/env bash
# End-to-end check of the demo world: starts it on free loopback ports, runs the exporter on
# examples/agentmitra.yml (ports rewritten), and requires every metric family of the default
# config with real values within one minute, every check and scenario passing, a failure
# switch showing up in the metrics, no secret in /metrics, the status page or the logs, and
# the metadata of /metrics (names, types, HELP, label names) equal to demo/golden/.
# The status page is loaded in headless Chromium (Debian's `chromium`, installed here when
# missing) while the world is healthy and during the failure switch: its KPI board must mark
# the broken KPIs failing; screenshots are kept in $MITRA_TEST_ARTIFACTS (default
# /tmp/mitra-test-artifacts). Everything it starts is stopped on exit.
#
#   demo/test.sh            uses .build/debug/{mitra-exporter,agentmitra-demo-api}
#   MITRA_EXPORTER_BIN=... AGENTMITRA_DEMO_API_BIN=... demo/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
exporter=${MITRA_EXPORTER_BIN:-$root/.build/debug/mitra-exporter}
export AGENTMITRA_DEMO_API_BIN=${AGENTMITRA_DEMO_API_BIN:-$root/.build/debug/agentmitra-demo-api}
[ -x "$exporter" ] || { echo "demo/test.sh: $exporter not built" >&2; exit 1; }
[ -x "$AGENTMITRA_DEMO_API_BIN" ] || { echo "demo/test.sh: $AGENTMITRA_DEMO_API_BIN not built" >&2; exit 1; }

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
fail() { echo "demo/test.sh: FAIL: $*" >&2; exit 1; }
make_work_dir demo-test
on_exit 'bash scripts/demo-world.sh stop "$work/world" >/dev/null 2>&1'

# The metadata comparison at the end is only as good as its own table tests.
PYTHONPATH="$root/tools" python3 -m unittest -q mitratest.test_metadata 2>"$work/metadata-tests.log" ||
    { cat "$work/metadata-tests.log" >&2; fail "tools/mitratest/test_metadata.py"; }

artifacts=${MITRA_TEST_ARTIFACTS:-/tmp/mitra-test-artifacts}
if ! command -v chromium >/dev/null 2>&1; then
    echo "== installing chromium (Debian package) for the status page check"
    need_apt chromium || fail "chromium is missing: install the Debian package chromium"
fi

export AGENTMITRA_DEMO_PG_PORT=$(free_port) AGENTMITRA_DEMO_API_PORT=$(free_port) AGENTMITRA_DEMO_ADMIN_PORT=$(free_port)
export DEMO_TRAFFIC_RATE=20 DEMO_TRAFFIC_SECONDS=300
web_port=$(free_port)

echo "== demo world (PostgreSQL $AGENTMITRA_DEMO_PG_PORT, API $AGENTMITRA_DEMO_API_PORT)"
bash scripts/demo-world.sh start "$work/world" >/dev/null
# shellcheck disable=SC1091
. "$work/world/demo.env"
secrets=("$AGENTMITRA_PASSWORD" "$AGENTMITRA_SERVICE_TOKEN" "$AGENTMITRA_PG_PASSWORD" "$AGENTMITRA_DEMO_ADMIN_SECRET")

sed -e "s#127.0.0.1:8000#127.0.0.1:$AGENTMITRA_DEMO_API_PORT#g" -e "s#127.0.0.1:55433#127.0.0.1:$AGENTMITRA_DEMO_PG_PORT#g" \
    examples/agentmitra.yml >"$work/agentmitra.yml"
"$exporter" --config.file "$work/agentmitra.yml" --config.check >/dev/null || fail "config check"
"$exporter" --config.file "$work/agentmitra.yml" --web.listen-address "127.0.0.1:$web_port" >"$work/exporter.log" 2>&1 &
track_pid "$!" exporter

# The families the default config defines, and what every sampler must report.
families=(agentmitra_login_attempts_total agentmitra_login_duration_seconds_bucket agentmitra_api_requests_total
          agentmitra_api_request_duration_seconds_bucket agentmitra_policies agentmitra_users agentmitra_leads
          probe_success mitra_scenario_success pg_up pg_stat_database_xact_commit pg_stat_user_tables_seq_scan)
started=$(date +%s)
metrics=""
# Every page scraped is kept for the metadata comparison at the end.
mkdir -p "$work/scrapes"
scrape() {
    metrics=$(curl -sf "http://127.0.0.1:$web_port/metrics" || true)
    printf '%s\n' "$metrics" >"$work/scrapes/$(date +%s%N).txt"
}
while :; do
    elapsed=$(( $(date +%s) - started ))
    scrape
    missing=()
    for family in "${families[@]}"; do
        grep -qE "^${family}(\{| )" <<<"$metrics" || missing+=("$family")
    done
    # Counters must have counted something, and every check and scenario must pass.
    grep -qE '^agentmitra_login_attempts_total\{.*outcome="success"\} [1-9]' <<<"$metrics" || missing+=("login successes")
    grep -qE '^agentmitra_api_requests_total\{.*\} [1-9]' <<<"$metrics" || missing+=("api requests")
    [ "$(grep -cE '^probe_success\{check=.*\} 1$' <<<"$metrics")" = 11 ] || missing+=("11 passing checks")
    [ "$(grep -cE '^mitra_scenario_success\{.*\} 1$' <<<"$metrics")" = 7 ] || missing+=("7 passing scenarios")
    [ ${#missing[@]} = 0 ] && break
    [ "$elapsed" -lt 60 ] || { grep -E '^(probe_success|mitra_scenario_success)' <<<"$metrics" >&2 || true; fail "after 60 s still missing: ${missing[*]}"; }
    sleep 2
done
echo "== every family of the default config with real values after ${elapsed} s"

# Every le/quantile literal in the rules and dashboards must be a value this exporter emits
# (the float form Prometheus 3 stores), or the alert or panel behind it sees nothing.
printf '%s\n' "$metrics" >"$work/metrics.txt"
python3 tools/check_label_floats.py "$work/metrics.txt" || fail "rules or dashboards use le/quantile values the exporter does not emit"

# Healthy: every check passed twice (the board's windows start at the first run), nothing failing.
python3 demo/browser_check.py "http://127.0.0.1:$web_port/" healthy "$artifacts" --timeout 45 \
    --ok api-availability --ok dashboard-latency --ok policy-search-latency --no-failing-collectors ||
    fail "status page in the browser, healthy world"

bash scripts/demo-world.sh switch "$work/world" '{"failing_routes":["/leads/"],"login_disabled_roles":["role-policyholder"]}' >/dev/null
for _ in $(seq 1 30); do
    scrape
    if grep -qE '^probe_success\{check="leads".*\} 0$' <<<"$metrics" &&
       grep -qE '^mitra_scenario_success\{scenario="login-policyholder".*\} 0$' <<<"$metrics" &&
       grep -qE '^agentmitra_login_attempts_total\{.*role="role-policyholder",outcome="error"\} [1-9]' <<<"$metrics"; then
        echo "== failure switches visible in the metrics"
        break
    fi
    sleep 2
done
grep -qE '^probe_success\{check="leads".*\} 0$' <<<"$metrics" || fail "failing /leads/ not visible within 60 s"
grep -qE '^mitra_scenario_success\{scenario="login-policyholder".*\} 0$' <<<"$metrics" || fail "disabled policyholder login not visible"
python3 demo/browser_check.py "http://127.0.0.1:$web_port/" fault "$artifacts" --timeout 45 \
    --failing api-availability --failing login-success:role-policyholder \
    --failing-collector leads --failing-collector login-policyholder ||
    fail "status page in the browser, failing /leads/ and policyholder logins"
bash scripts/demo-world.sh switch "$work/world" clear >/dev/null
scrape

status_page=$(curl -sf "http://127.0.0.1:$web_port/" || true)
[ -n "$status_page" ] || fail "no status page"
for secret in "${secrets[@]}"; do
    for where in metrics status_page; do
        grep -qF -- "$secret" <<<"${!where}" && fail "a secret appears in $where"
    done
    grep -qF -- "$secret" "$work/exporter.log" "$work/world/api.log" && fail "a secret appears in a log"
done
echo "== no secret in /metrics, the status page or the logs"

# The metadata of /metrics (family names, types, HELP, label names) is the golden file's: a
# renamed metric, a changed HELP or an added or removed label fails here. The baseline is the
# page on which every family of the config first had real values; families that appear only
# later (traffic, the failure switch) may be missing on another run. MITRA_UPDATE_GOLDEN=1
# rewrites the golden file from this run.
PYTHONPATH="$root/tools" python3 -m mitratest.metadata --golden demo/golden/metrics-metadata.txt \
    --baseline "$work/metrics.txt" "$work"/scrapes/*.txt || fail "/metrics metadata differs from demo/golden/metrics-metadata.txt"
echo "== demo world test passed"
