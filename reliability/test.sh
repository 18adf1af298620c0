#!/usr/bin/env bash
# Reliability suite: runs a built exporter against a throwaway PostgreSQL, a fault-injecting
# HTTP server and a port that accepts connections and never answers, then
#   - load: /metrics under wrk (64 connections): no errors, bounded latency, flat RSS, and the
#     samplers keep their schedule;
#   - HTTP targets that hang, reset, drip bytes, send 100 MB, or do not resolve;
#   - SIGHUP storm during scrapes: every scrape succeeds;
#   - malformed requests, huge headers and slowloris against our server;
#   - PostgreSQL killed and restarted repeatedly: pg_up goes 0 then 1, no leaked connections,
#     fd count flat;
#   - basic auth and TLS enforced on every endpoint when configured;
#   - no known test secret in any log line, metric or page produced;
#   - (full mode) an accelerated soak sampling RSS and fds.
#
#   reliability/test.sh [--quick]     (--quick: the subset `make test` runs)
#
# Environment: MITRA_EXPORTER_BIN (default .build/release/mitra-exporter, else .build/debug),
# LOAD_SECONDS (30; quick 10), SOAK_SECONDS (300; quick: no soak), PG_RESTARTS (8; quick 3),
# P99_LIMIT_MS (500), RELIABILITY_KEEP=1 keeps the work directory.
# Everything listens on 127.0.0.1 and is stopped on exit. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

quick=0
[ "${1:-}" = "--quick" ] && quick=1
if [ $quick = 1 ]; then
    LOAD_SECONDS=${LOAD_SECONDS:-10}; SOAK_SECONDS=${SOAK_SECONDS:-0}; PG_RESTARTS=${PG_RESTARTS:-3}; HUP_SCRAPES=300; HUP_SIGNALS=200
else
    LOAD_SECONDS=${LOAD_SECONDS:-30}; SOAK_SECONDS=${SOAK_SECONDS:-300}; PG_RESTARTS=${PG_RESTARTS:-8}; HUP_SCRAPES=2000; HUP_SIGNALS=1000
fi
P99_LIMIT_MS=${P99_LIMIT_MS:-500}

need_exporter_binary reliability
for tool in wrk curl openssl python3; do
    command -v $tool >/dev/null || { echo "reliability: $tool is required" >&2; exit 2; }
done

make_work_dir reliability "${RELIABILITY_KEEP:-0}"
mkdir -p "$work/logs" "$work/pages"
pids=()

failures=()
fail() { failures+=("$1"); echo "FAIL: $1"; }
pass() { echo "ok:   $1"; }
say() { echo "== $*"; }
results=()
record() { results+=("$1=$2"); }

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
tools() { python3 "$root/reliability/tools.py" "$@"; }
value() { tools value "http://127.0.0.1:$port/metrics" "$@"; }
# wait_for SECONDS DESCRIPTION COMMAND...: polls every 0.5 s.
wait_for() {
    local seconds=$1 what=$2; shift 2
    local deadline=$((SECONDS + seconds))
    while [ $SECONDS -lt $deadline ]; do
        "$@" && return 0
        sleep 0.5
    done
    return 1
}
metric_equals() { # WANT NAME LABELS...
    local want=$1; shift
    local got; got=$(value "$@")
    python3 -c "import sys; sys.exit(0 if float('$got') == float('$want') else 1)" 2>/dev/null
}
psql_pg() {
    runuser -u postgres -- /usr/lib/postgresql/15/bin/psql -X -Atq -h "$work/pg" -p "$pg_port" -U postgres -d postgres -c "$1"
}
exporter_connections() { psql_pg "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mitra-exporter'"; }

# --- known test secrets: none may appear in any output -----------------------------------
token="rel-token-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
basic_password='s3cret!'   # bcrypt below (cost 4)
basic_hash='$2b$04$kVDnNTe4ZgbpXmpOA8WLKuTvvdC0EHEmkwBl8MMuBgXIUzq6q69UW'

# --- PostgreSQL, fault server, exporter -----------------------------------------------------
say "starting PostgreSQL, fault servers and the exporter ($bin)"
pg_port=$(free_port)
pg_start "$work/pg" "$pg_port" >/dev/null
# Registered after the cluster's stop, so it runs before it: the exporter goes before its database.
on_exit 'stop_processes "${pids[@]}"'
eval "$(scripts/pg-test-cluster.sh env "$work/pg" "$pg_port")"
pg_password=$MITRA_TEST_PG_MONITOR_PASSWORD
secrets=("$token" "$pg_password" "$MITRA_TEST_PG_PASSWORD" "$basic_password")

http_port=$(free_port); blackhole_port=$(free_port)
python3 reliability/tools.py serve "$http_port" "$blackhole_port" "$token" 2>"$work/logs/faults.log" &
pids+=($!)

port=$(free_port)
cat >"$work/exporter.yml" <<YAML
defaults: {interval: 1s, timeout: 800ms}
checks:
  - name: ok
    url: http://127.0.0.1:$http_port/ok
    headers: {Authorization: "Bearer \${env:RELIABILITY_TOKEN}"}
    expect: {status: [200], json: {"\$.status": ok}}
  - {name: hang, url: "http://127.0.0.1:$http_port/hang"}
  - {name: reset, url: "http://127.0.0.1:$http_port/reset"}
  - {name: drip, url: "http://127.0.0.1:$http_port/drip"}
  - {name: big, url: "http://127.0.0.1:$http_port/big", interval: 2s, timeout: 1500ms}
  - {name: dns, url: "http://no-such-host.invalid/"}
postgres:
  - name: main
    dsn: "postgresql://mitra_monitor:\${env:RELIABILITY_PG_PASSWORD}@127.0.0.1:$pg_port/mitra_test?sslmode=disable"
    interval: 2s
    timeout: 1500ms
    collectors: [database, activity, locks, statements, tables]
  - name: blackhole
    dsn: "postgresql://mitra_monitor:\${env:RELIABILITY_PG_PASSWORD}@127.0.0.1:$blackhole_port/mitra_test?sslmode=disable"
    interval: 3s
    timeout: 2500ms
YAML

start_exporter() { # PORT LOGFILE [extra args]
    local listen=$1 logfile=$2; shift 2
    RELIABILITY_TOKEN="$token" RELIABILITY_PG_PASSWORD="$pg_password" \
        "$bin" --config.file "$work/exporter.yml" --web.listen-address "127.0.0.1:$listen" \
        --log.level debug "$@" >"$logfile" 2>&1 &
    pids+=($!)
    echo $! >"$work/last.pid"
}
RELIABILITY_TOKEN="$token" RELIABILITY_PG_PASSWORD="$pg_password" "$bin" --config.file "$work/exporter.yml" --config.check \
    >"$work/logs/config-check.log" 2>&1 || { cat "$work/logs/config-check.log"; echo "reliability: config rejected" >&2; exit 1; }
start_exporter "$port" "$work/logs/exporter.log"
pid=$(cat "$work/last.pid")
wait_for 30 "exporter ready" curl -fsS -o /dev/null "http://127.0.0.1:$port/-/healthy" 2>/dev/null \
    || { tail -20 "$work/logs/exporter.log"; echo "reliability: exporter did not start" >&2; exit 1; }
wait_for 30 "pg_up 1" metric_equals 1 pg_up instance_name=main || fail "pg_up{instance_name=main} never became 1"
wait_for 20 "check ok" metric_equals 1 probe_success check=ok || fail "probe_success{check=ok} never became 1"
sleep 3

# --- faulty targets --------------------------------------------------------------------------
say "faulty targets: hang, reset, drip, 100 MB body, DNS failure, silent database"
for check in hang reset drip big dns; do
    got=$(value probe_success check=$check)
    if [ "$got" = "0.0" ]; then
        pass "check $check fails cleanly (probe_success 0, reason $(curl -fsS "http://127.0.0.1:$port/metrics" | grep "^mitra_probe_failures_total{check=\"$check\"" | awk '$2 > 0 {print $1}' | sed 's/.*reason="\([a-z]*\)".*/\1/' | tr '\n' ' '))"
    else
        fail "check $check: probe_success is $got, expected 0"
    fi
done
for check in hang drip; do
    duration=$(value mitra_exporter_collector_duration_seconds collector=check/$check)
    python3 -c "import sys; sys.exit(0 if float('$duration') <= 1.0 else 1)" \
        && pass "check $check bounded by its timeout (${duration}s)" || fail "check $check took ${duration}s (timeout 0.8s)"
done
metric_equals 0 pg_up instance_name=blackhole && pass "silent database: pg_up 0" || fail "silent database: pg_up is $(value pg_up instance_name=blackhole)"
bh_duration=$(value mitra_exporter_collector_duration_seconds collector=postgres/blackhole/database)
python3 -c "import sys; sys.exit(0 if float('$bh_duration') <= 3.6 else 1)" 2>/dev/null \
    && pass "silent database: sample duration ${bh_duration}s (timeout 2.5s)" || fail "silent database sample took ${bh_duration}s"
rss_after_big=$(rss_kb "$pid")
record rss_after_faults_kb "$rss_after_big"
[ "$rss_after_big" -lt 300000 ] && pass "RSS after 100 MB responses: $((rss_after_big / 1024)) MB" \
    || fail "RSS after 100 MB responses: $((rss_after_big / 1024)) MB"

# --- /metrics under load ---------------------------------------------------------------------
say "/metrics under wrk load: 64 connections, ${LOAD_SECONDS}s"
wrk -t2 -c64 -d3s "http://127.0.0.1:$port/metrics" >/dev/null 2>&1 || true   # warm-up
rss_before=$(rss_kb "$pid"); fds_before=$(fd_count "$pid")
tools freshness "http://127.0.0.1:$port/metrics" >"$work/fresh-before.json"
wrk -t2 -c64 -d"${LOAD_SECONDS}s" --latency "http://127.0.0.1:$port/metrics" >"$work/wrk.txt" 2>&1 || fail "wrk failed"
tools freshness "http://127.0.0.1:$port/metrics" >"$work/fresh-after.json"
rss_after=$(rss_kb "$pid"); fds_after=$(fd_count "$pid")
cp "$work/wrk.txt" "$work/logs/wrk.txt"
requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.txt"); non2xx=${non2xx:-0}
socket_errors=$(awk -F'[ ,]+' '/Socket errors/ {print $4+$6+$8+$10}' "$work/wrk.txt"); socket_errors=${socket_errors:-0}
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.2f", v/1000; else if (v ~ /ms$/) printf "%.2f", v+0; else if (v ~ /s$/) printf "%.2f", v*1000; else print "nan" }'; }
p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$work/wrk.txt")")
p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")")
record load_requests "$requests"; record load_rps "$rps"; record load_p50_ms "$p50"; record load_p99_ms "$p99"
record load_rss_before_kb "$rss_before"; record load_rss_after_kb "$rss_after"
echo "   $requests requests, $rps req/s, p50 ${p50} ms, p99 ${p99} ms, RSS $((rss_before / 1024)) -> $((rss_after / 1024)) MB, fds $fds_before -> $fds_after"
[ "$non2xx" = 0 ] && [ "$socket_errors" = 0 ] && pass "no errors under load" || fail "load: $non2xx non-2xx responses, $socket_errors socket errors"
python3 -c "import sys; sys.exit(0 if float('$p99') <= $P99_LIMIT_MS else 1)" \
    && pass "p99 ${p99} ms <= ${P99_LIMIT_MS} ms" || fail "load: p99 ${p99} ms > ${P99_LIMIT_MS} ms"
[ "$rss_after" -le $((rss_before * 12 / 10 + 16384)) ] && pass "RSS flat under load" \
    || fail "load: RSS grew $((rss_before / 1024)) -> $((rss_after / 1024)) MB"
[ "$fds_after" -le $((fds_before + 8)) ] && pass "fds flat under load" || fail "load: fds $fds_before -> $fds_after"
python3 - "$work/fresh-before.json" "$work/fresh-after.json" "$LOAD_SECONDS" <<'PY' && pass "samplers kept their schedule under load" || fail "load: samplers fell behind (see above)"
import json, sys, time
before, after = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
seconds = float(sys.argv[3])
bad = 0
for collector in sorted(after):
    if not (collector == "check/ok" or collector.startswith("postgres/main/")):
        continue
    advanced = after[collector] - before.get(collector, 0)
    age = time.time() - after[collector]
    if advanced < seconds / 2 or age > 8:
        print(f"   {collector}: advanced {advanced:.1f}s over {seconds:.0f}s of load, {age:.1f}s old")
        bad += 1
sys.exit(1 if bad or not after else 0)
PY

# --- SIGHUP storm ----------------------------------------------------------------------------
say "SIGHUP storm: $HUP_SIGNALS signals during at least $HUP_SCRAPES scrapes"
tools hupstorm "http://127.0.0.1:$port/metrics" "$pid" "$HUP_SCRAPES" "$HUP_SIGNALS" && pass "every scrape succeeded during the SIGHUP storm" \
    || fail "scrapes failed during the SIGHUP storm"
kill -0 "$pid" 2>/dev/null || { fail "exporter died in the SIGHUP storm"; exit 1; }
wait_for 10 "reload ok" metric_equals 1 mitra_exporter_config_last_reload_successful \
    && pass "config_last_reload_successful 1 after the storm" || fail "config_last_reload_successful is not 1 after the storm"

# --- log destination full, closed or not read ------------------------------------------------
# The exporter logs on whatever thread is working (SIGHUP handling, samplers, request
# handlers); a log write that blocks or kills the process would stop reloads and shutdown.
say "log destination: a full disk (/dev/full), a pipe nobody reads, a closed pipe"
mkfifo "$work/stalled.fifo"
sleep 100000 <>"$work/stalled.fifo" &   # holds the FIFO open and never reads it
pids+=($!)
log_destination_case() { # NAME REDIRECT-TARGET SIGNALS
    local name=$1 target=$2 signals=$3 lport lpid ts0 ts1 dropped
    lport=$(free_port)
    RELIABILITY_TOKEN="$token" RELIABILITY_PG_PASSWORD="$pg_password" \
        "$bin" --config.file "$work/exporter.yml" --web.listen-address "127.0.0.1:$lport" --log.level debug \
        >/dev/null 2>"$target" &
    lpid=$!; pids+=($lpid)
    if ! wait_for 30 "exporter ($name)" curl -fsS -o /dev/null "http://127.0.0.1:$lport/-/healthy" 2>/dev/null; then
        fail "logs to $name: the exporter did not start"; return
    fi
    tools hupstorm "http://127.0.0.1:$lport/metrics" "$lpid" 100 "$signals" >/dev/null \
        || fail "logs to $name: scrapes failed during a SIGHUP storm"
    sleep 1
    ts0=$(tools value "http://127.0.0.1:$lport/metrics" mitra_exporter_config_last_reload_success_timestamp_seconds)
    kill -HUP "$lpid"
    reload_advanced() {
        ts1=$(tools value "http://127.0.0.1:$lport/metrics" mitra_exporter_config_last_reload_success_timestamp_seconds)
        python3 -c "import sys; sys.exit(0 if float('$ts1') > float('$ts0') else 1)" 2>/dev/null
    }
    wait_for 10 "reload after the storm" reload_advanced || fail "logs to $name: reloads stopped (blocked on a log write?)"
    dropped=$(tools value "http://127.0.0.1:$lport/metrics" mitra_exporter_log_lines_dropped_total | sed 's/\.0$//')
    record "log_lines_dropped_$name" "$dropped"
    python3 -c "import sys; sys.exit(0 if float('$dropped') > 0 else 1)" 2>/dev/null \
        || fail "logs to $name: mitra_exporter_log_lines_dropped_total is $dropped, expected > 0"
    kill -TERM "$lpid"
    local stopped=0
    for _ in $(seq 50); do kill -0 "$lpid" 2>/dev/null || { stopped=1; break; }; sleep 0.1; done
    if [ $stopped = 1 ]; then
        pass "logs to $name: scrapes, reloads and SIGTERM unaffected; $dropped lines dropped and counted"
    else
        fail "logs to $name: still running 5 s after SIGTERM"; kill -9 "$lpid" 2>/dev/null || true
    fi
}
log_destination_case full-disk /dev/full 100
# Each reload logs about 200 bytes: 800 reloads overflow the 64 KiB pipe buffer.
log_destination_case unread-pipe "$work/stalled.fifo" 800
# A reader that goes away: the pipe's read end closes after the first lines.
mkfifo "$work/closing.fifo"
( head -c 512 >/dev/null <"$work/closing.fifo" ) &
pids+=($!)
log_destination_case closed-pipe "$work/closing.fifo" 100

# --- malformed requests ----------------------------------------------------------------------
say "malformed requests, huge headers, slowloris"
tools malformed "$port" 2>>"$work/logs/malformed.log" && pass "server stayed up and answered others" || fail "malformed requests (see above)"
kill -0 "$pid" 2>/dev/null || { fail "exporter died on malformed requests"; exit 1; }
grep "slowloris" "$work/logs/malformed.log" | sed 's/^/   /'

# --- PostgreSQL killed and restarted ---------------------------------------------------------
say "PostgreSQL killed and restarted $PG_RESTARTS times"
sleep 2
conn_before=$(exporter_connections); fds_before=$(fd_count "$pid")
for i in $(seq "$PG_RESTARTS"); do
    if [ $((i % 2)) = 0 ]; then
        # Backends killed under the exporter, server stays up.
        psql_pg "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'mitra-exporter'" >/dev/null
        runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$work/pg/data" -m immediate -w -t 20 stop >/dev/null
    else
        # Crash: SIGKILL to this cluster's postmaster and its children (by parent pid).
        postmaster=$(head -1 "$work/pg/data/postmaster.pid")
        pkill -9 -P "$postmaster" || true
        kill -9 "$postmaster"
        for _ in $(seq 50); do { kill -0 "$postmaster" 2>/dev/null || pgrep -P "$postmaster" >/dev/null; } || break; sleep 0.2; done
        rm -f "$work/pg/data/postmaster.pid"
    fi
    wait_for 15 "pg_up 0" metric_equals 0 pg_up instance_name=main || fail "restart $i: pg_up did not go to 0"
    scripts/pg-test-cluster.sh start "$work/pg" "$pg_port" >/dev/null
    wait_for 30 "pg_up 1" metric_equals 1 pg_up instance_name=main || fail "restart $i: pg_up did not come back to 1"
done
sleep 5
conn_after=$(exporter_connections); fds_after=$(fd_count "$pid")
record pg_connections_before "$conn_before"; record pg_connections_after "$conn_after"
echo "   exporter connections $conn_before -> $conn_after, fds $fds_before -> $fds_after"
[ "$conn_after" -le "$conn_before" ] && pass "no leaked PostgreSQL connections" || fail "connections $conn_before -> $conn_after"
[ "$fds_after" -le $((fds_before + 4)) ] && pass "fd count flat across restarts" || fail "fds $fds_before -> $fds_after across restarts"

# --- basic auth and TLS ----------------------------------------------------------------------
say "basic auth and TLS on every endpoint"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/server.key" -out "$work/server.crt" -days 1 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1
cat >"$work/web.yml" <<YAML
tls_server_config:
  cert_file: $work/server.crt
  key_file: $work/server.key
basic_auth_users:
  prometheus: $basic_hash
YAML
tls_port=$(free_port)
start_exporter "$tls_port" "$work/logs/exporter-tls.log" --web.config.file "$work/web.yml" --web.enable-lifecycle
tls_url="https://127.0.0.1:$tls_port"
wait_for 30 "tls exporter" curl -sS -o /dev/null --cacert "$work/server.crt" "$tls_url/-/healthy" 2>/dev/null \
    || { tail -20 "$work/logs/exporter-tls.log"; fail "TLS exporter did not start"; }
# /-/ready answers 503 until every collector has run once; wait so 200 is the expected answer.
wait_for 20 "tls exporter ready" curl -fsS -o /dev/null --cacert "$work/server.crt" -u "prometheus:$basic_password" "$tls_url/-/ready" 2>/dev/null \
    || fail "TLS exporter never became ready"
status() { curl -sS -o "$work/pages/auth-$RANDOM.txt" -w '%{http_code}' --max-time 5 "$@" 2>/dev/null || true; }
auth_ok=1
for path in /metrics / /-/healthy /-/ready; do
    none=$(status --cacert "$work/server.crt" "$tls_url$path")
    wrong=$(status --cacert "$work/server.crt" -u "prometheus:wrong" "$tls_url$path")
    right=$(status --cacert "$work/server.crt" -u "prometheus:$basic_password" "$tls_url$path")
    plain=$(status "http://127.0.0.1:$tls_port$path")
    echo "   GET $path: no auth $none, wrong $wrong, right $right, plain HTTP ${plain:-none}"
    if [ "$none" != 401 ] || [ "$wrong" != 401 ] || [ "$right" != 200 ] || [ "$plain" = 200 ]; then
        fail "auth/TLS not enforced on GET $path"; auth_ok=0
    fi
done
none=$(status -X POST --cacert "$work/server.crt" "$tls_url/-/reload")
right=$(status -X POST --cacert "$work/server.crt" -u "prometheus:$basic_password" "$tls_url/-/reload")
echo "   POST /-/reload: no auth $none, right $right"
if [ "$none" != 401 ] || [ "$right" != 200 ]; then fail "auth not enforced on POST /-/reload"; auth_ok=0; fi
old_tls=$(status --cacert "$work/server.crt" --tls-max 1.1 -u "prometheus:$basic_password" "$tls_url/metrics")
[ "$old_tls" = 200 ] && { fail "TLS 1.1 accepted"; auth_ok=0; }
[ $auth_ok = 1 ] && pass "401 without or with wrong credentials, 200 with them, no plain HTTP, no TLS < 1.2"

# --- accelerated soak (full mode) --------------------------------------------------------------
if [ "$SOAK_SECONDS" -gt 0 ]; then
    say "accelerated soak: ${SOAK_SECONDS}s at 1-3 s intervals, scraping 5/s"
    : >"$work/soak.csv"; : >"$work/soak-errors"
    end=$((SECONDS + SOAK_SECONDS))
    ( while [ $SECONDS -lt $end ]; do curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:$port/metrics" || echo x >>"$work/soak-errors"; sleep 0.2; done ) &
    scraper=$!; pids+=($scraper)
    while [ $SECONDS -lt $end ]; do
        echo "$SECONDS,$(rss_kb "$pid"),$(fd_count "$pid")" >>"$work/soak.csv"
        sleep 10
    done
    wait "$scraper" || true
    cp "$work/soak.csv" "$work/logs/soak.csv"
    soak_errors=$(wc -l <"$work/soak-errors")
    [ "$soak_errors" = 0 ] && pass "no failed scrapes in the soak" || fail "soak: $soak_errors failed scrapes"
    python3 - "$work/soak.csv" <<'PY' && pass "RSS and fds flat over the soak" || fail "soak: growth (see above)"
import sys
rows = [tuple(int(x) for x in line.split(",")) for line in open(sys.argv[1]) if line.strip()]
third = max(1, len(rows) // 3)
first = sorted(r[1] for r in rows[:third])[third // 2]
last = sorted(r[1] for r in rows[-third:])[third // 2]
fds = [r[2] for r in rows]
print(f"   {len(rows)} samples: RSS median {first // 1024} MB (first third) -> {last // 1024} MB (last third); fds {min(fds)}..{max(fds)}")
sys.exit(0 if last <= first * 1.10 + 8192 and max(fds) - min(fds) <= 8 else 1)
PY
fi

# --- secrets in outputs ----------------------------------------------------------------------
say "secrets in logs, metrics and pages"
for path in /metrics / /-/ready /-/healthy; do
    curl -sS --max-time 5 "http://127.0.0.1:$port$path" >"$work/pages/page$(echo "$path" | tr '/' '_').txt" || true
    curl -sS --max-time 5 -H 'Accept: application/openmetrics-text; version=1.0.0' "http://127.0.0.1:$port$path" \
        >"$work/pages/om$(echo "$path" | tr '/' '_').txt" || true
done
leaks=0
for secret in "${secrets[@]}"; do
    if grep -rlF -e "$secret" "$work/logs" "$work/pages" >"$work/leak.txt" 2>/dev/null; then
        fail "a test secret appears in: $(tr '\n' ' ' <"$work/leak.txt")"; leaks=1
    fi
done
lines=$(cat "$work"/logs/exporter*.log | wc -l)
[ $leaks = 0 ] && pass "no secret in $lines log lines and $(ls "$work/pages" | wc -l) pages"

kill -0 "$pid" 2>/dev/null && pass "exporter still running" || fail "exporter is not running at the end"
echo
echo "== results"
printf '   %s\n' "${results[@]}"
if [ ${#failures[@]} -gt 0 ]; then
    echo "== ${#failures[@]} failure(s):"
    printf '   %s\n' "${failures[@]}"
    exit 1
fi
echo "== reliability: all passed"
