#!/usr/bin/env bash
# Side-by-side benchmark: mitra-exporter vs prometheus-postgres-exporter (Debian package) on
# one PostgreSQL 15 with 30 extra databases and ~5,000 pg_stat_statements entries.
#
#   bench/postgres/run.sh            (as root; needs a built .build/release/mitra-exporter)
#
# Measures, for each exporter: /metrics latency over a keep-alive connection, plain and with
# the exact headers Prometheus sends (OpenMetrics first, gzip) (ours renders the last sample;
# theirs queries the server during the scrape), latency under concurrent scrapers, exporter CPU
# seconds per sample, server-side execution time of the exporter's own statements per sample
# (pg_stat_statements, by role), resident memory (VmRSS) and heap (RssAnon), binary size and
# series count. Prints the raw figures and the ratios, writes JSON and an SVG bar chart to
# bench/results/. Everything it starts is stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bin=${MITRA_EXPORTER:-$root/.build/release/mitra-exporter}
pgexp=${POSTGRES_EXPORTER:-/usr/bin/prometheus-postgres-exporter}
samples=${BENCH_SAMPLES:-10}
interval_s=${BENCH_INTERVAL:-3}
[ -x "$bin" ] || { echo "build mitra-exporter first (make build), or set MITRA_EXPORTER" >&2; exit 1; }
[ -x "$pgexp" ] || { echo "install prometheus-postgres-exporter" >&2; exit 1; }

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
make_work_dir bench
pg_port=$(free_port); mitra_port=$(free_port); pgexp_port=$(free_port)
pids=()
pg_stop_on_exit "$work/pg" "$pg_port"
on_exit 'stop_processes "${pids[@]}"'

echo "== PostgreSQL on 127.0.0.1:$pg_port"
scripts/pg-test-cluster.sh start "$work/pg" "$pg_port"
psql_super() { runuser -u postgres -- env PGOPTIONS='-c client_min_messages=warning' /usr/lib/postgresql/15/bin/psql -X -q -v ON_ERROR_STOP=1 -h "$work/pg" -p "$pg_port" -U postgres "$@"; }

echo "== 30 databases, 5,000 distinct statements"
for i in $(seq -w 1 30); do echo "CREATE DATABASE bench_$i;"; done | psql_super -d postgres
{
    echo "CREATE ROLE bench_mitra LOGIN PASSWORD 'bench' IN ROLE pg_monitor;"
    echo "CREATE ROLE bench_pgexp LOGIN PASSWORD 'bench' IN ROLE pg_monitor;"
    for t in $(seq 1 50); do echo "CREATE TABLE lic_schema.bench_$t (id int PRIMARY KEY, a int, b text);"; done
    for t in $(seq 1 50); do echo "INSERT INTO lic_schema.bench_$t SELECT g, g, 'x' FROM generate_series(1, 100) g;"; done
    # 50 tables x 100 expression shapes = 5,000 query ids.
    for t in $(seq 1 50); do
        expr="a"
        for n in $(seq 1 100); do
            echo "SELECT $expr FROM lic_schema.bench_$t LIMIT 1;"
            expr="$expr + a"
        done
    done
} > "$work/setup.sql"
psql_super -d mitra_test -f "$work/setup.sql" >/dev/null
entries=$(psql_super -d mitra_test -Atc "SELECT count(*) FROM pg_stat_statements")
echo "pg_stat_statements entries: $entries"

# Both exporters connect without TLS (sslmode=disable; postgres_exporter's driver would
# otherwise insist on it), so neither pays for a TLS handshake or OpenSSL's set-up.
cat > "$work/mitra.yml" <<YAML
postgres:
  - name: bench
    dsn: "postgresql://bench_mitra:bench@127.0.0.1:$pg_port/mitra_test?sslmode=disable"
    interval: ${interval_s}s
    timeout: $((interval_s - 1))s
    collectors: [database, activity, locks, statements, tables, replication, bgwriter, wal]
    statements: {top: 100}
    tables: {schemas: [lic_schema]}
YAML

server_ms() {  # total execution time of one role's statements so far, in ms
    psql_super -d mitra_test -Atc "SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = '$1'"
}
cpu_seconds() {  # utime + stime of a process, in seconds
    awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# Memory is read twice: right after the scrapes, and at rest, $rest_s seconds later, as a
# Prometheus server scraping every 15 s mostly finds it (both exporters alike: mitra-exporter
# hands freed heap pages back every 5 s, Go's runtime scavenges in the background).
rest_s=6
anon_kib() { awk '/RssAnon/ {print $2}' "/proc/$1/status"; }
keepalive_ms() {  # URL plain|prometheus: p50 and max over 50 keep-alive scrapes, in ms
    python3 bench/postgres/scrape_latency.py "$1" 50 "$2"
}
# measure_scrapes PORT PID ROUNDS_1 ROUNDS_16 BODY_FILE: the same figures for either exporter,
# on one line: keep-alive p50/max plain and with Prometheus' headers, p50/p99 at 1 and 16
# concurrent scrapers, VmRSS and RssAnon (KiB), series and pg_* series in one body.
measure_scrapes() {
    local url="http://127.0.0.1:$1/metrics" pid=$2
    local plain prom c1 c16
    plain=$(keepalive_ms "$url" plain); prom=$(keepalive_ms "$url" prometheus)
    c1=$(python3 bench/postgres/concurrent_scrapes.py "$url" 1 "$3")
    c16=$(python3 bench/postgres/concurrent_scrapes.py "$url" 16 "$4")
    curl -s "$url" > "$5"
    echo "$plain $prom $c1 $c16 $(rss_kib "$pid") $(anon_kib "$pid") $(grep -vc '^#' "$5") $(grep -c '^pg_' "$5")"
}
scrape_ms() {  # median and max /metrics latency over N scrapes, in ms
    local url=$1 n=$2 i
    for i in $(seq 1 "$n"); do curl -s -o /dev/null -w '%{time_total}\n' "$url"; done |
        sort -n | awk '{a[NR]=$1*1000} END {printf "%.2f %.2f\n", a[int((NR+1)/2)], a[NR]}'
}

top_statements() {  # where one role's server time went
    psql_super -d mitra_test -Atc "SELECT round(sum(total_exec_time)::numeric, 1) || ' ms in ' || sum(calls) || ' calls: ' || left(regexp_replace(min(query), '\s+', ' ', 'g'), 90) FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = '$1' GROUP BY queryid ORDER BY sum(total_exec_time) DESC LIMIT 6" | sed 's/^/    /'
}

echo "== mitra-exporter baseline RSS (no instance configured)"
echo "defaults: {interval: 15s}" > "$work/empty.yml"
"$bin" --config.file "$work/empty.yml" --web.listen-address "127.0.0.1:$mitra_port" --log.level warn >"$work/empty.log" 2>&1 &
empty_pid=$!; pids+=("$empty_pid")
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$mitra_port/-/ready" >/dev/null && break; sleep 0.1; done
curl -s -o /dev/null "http://127.0.0.1:$mitra_port/metrics"
echo "    $(( $(rss_kib "$empty_pid") / 1024 )) MiB"
kill "$empty_pid"; wait "$empty_pid" 2>/dev/null || true

echo "== mitra-exporter ($samples samples, every ${interval_s}s)"
"$bin" --config.file "$work/mitra.yml" --web.listen-address "127.0.0.1:$mitra_port" --log.level warn >"$work/mitra.log" 2>&1 &
mitra_pid=$!; pids+=("$mitra_pid")
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$mitra_port/-/ready" >/dev/null && break; sleep 0.1; done
sleep "$interval_s"   # one full interval so the statements baseline exists
m_cpu0=$(cpu_seconds "$mitra_pid"); m_srv0=$(server_ms bench_mitra)
sleep $((samples * interval_s))
m_cpu1=$(cpu_seconds "$mitra_pid"); m_srv1=$(server_ms bench_mitra)
read -r m_p50 m_max m_prom_p50 m_prom_max m_c1_p50 m_c1_p99 m_c16_p50 m_c16_p99 m_rss m_anon m_series m_pg_series \
    < <(measure_scrapes "$mitra_port" "$mitra_pid" 100 20 "$work/mitra.prom")
sleep "$rest_s"; m_rss_rest=$(rss_kib "$mitra_pid"); m_anon_rest=$(anon_kib "$mitra_pid")
kill "$mitra_pid"
echo "  server time by statement:"; top_statements bench_mitra

echo "== prometheus-postgres-exporter ($samples scrapes)"
DATA_SOURCE_NAME="postgresql://bench_pgexp:bench@127.0.0.1:$pg_port/mitra_test?sslmode=disable" \
    "$pgexp" --web.listen-address "127.0.0.1:$pgexp_port" --extend.query-path bench/postgres/queries-postgres-exporter.yaml \
    --log.level warn >"$work/pgexp.log" 2>&1 &
pgexp_pid=$!; pids+=("$pgexp_pid")
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$pgexp_port/metrics" && break; sleep 0.1; done
p_cpu0=$(cpu_seconds "$pgexp_pid"); p_srv0=$(server_ms bench_pgexp)
scrape_ms "http://127.0.0.1:$pgexp_port/metrics" "$samples" >/dev/null  # one sample per scrape
p_cpu1=$(cpu_seconds "$pgexp_pid"); p_srv1=$(server_ms bench_pgexp)
read -r p_p50 p_max p_prom_p50 p_prom_max p_c1_p50 p_c1_p99 p_c16_p50 p_c16_p99 p_rss p_anon p_series p_pg_series \
    < <(measure_scrapes "$pgexp_port" "$pgexp_pid" 20 5 "$work/pgexp.prom")
sleep "$rest_s"; p_rss_rest=$(rss_kib "$pgexp_pid"); p_anon_rest=$(anon_kib "$pgexp_pid")
kill "$pgexp_pid"
echo "  server time by statement:"; top_statements bench_pgexp

mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
export M_PROM_P50=$m_prom_p50 M_PROM_MAX=$m_prom_max P_PROM_P50=$p_prom_p50 P_PROM_MAX=$p_prom_max \
    M_ANON=$m_anon P_ANON=$p_anon M_RSS_REST=$m_rss_rest P_RSS_REST=$p_rss_rest \
    M_ANON_REST=$m_anon_rest P_ANON_REST=$p_anon_rest M_BINARY=$(stat -Lc %s "$bin") P_BINARY=$(stat -Lc %s "$pgexp") \
    CHART="bench/results/postgres-$stamp.svg" REST_S=$rest_s
python3 - "$samples" "$m_p50" "$m_max" "$m_cpu0" "$m_cpu1" "$m_srv0" "$m_srv1" "$m_rss" "$m_series" "$m_pg_series" \
    "$p_p50" "$p_max" "$p_cpu0" "$p_cpu1" "$p_srv0" "$p_srv1" "$p_rss" "$p_series" "$p_pg_series" \
    "$m_c1_p50" "$m_c1_p99" "$m_c16_p50" "$m_c16_p99" "$p_c1_p50" "$p_c1_p99" "$p_c16_p50" "$p_c16_p99" \
    "bench/results/postgres-$stamp.json" "$("$pgexp" --version 2>&1 | head -1)" <<'PY'
import json, os, platform, sys
a = sys.argv[1:]
n = int(a[0])
m = dict(p50=float(a[1]), max=float(a[2]), cpu=(float(a[4]) - float(a[3])) / n, srv=(float(a[6]) - float(a[5])) / n,
         rss=int(a[7]) / 1024, series=int(a[8]), pg=int(a[9]))
p = dict(p50=float(a[10]), max=float(a[11]), cpu=(float(a[13]) - float(a[12])) / n, srv=(float(a[15]) - float(a[14])) / n,
         rss=int(a[16]) / 1024, series=int(a[17]), pg=int(a[18]))
m.update(c1_p50=float(a[19]), c1_p99=float(a[20]), c16_p50=float(a[21]), c16_p99=float(a[22]))
p.update(c1_p50=float(a[23]), c1_p99=float(a[24]), c16_p50=float(a[25]), c16_p99=float(a[26]))
env = os.environ
m.update(prom_p50=float(env["M_PROM_P50"]), prom_max=float(env["M_PROM_MAX"]), anon=int(env["M_ANON"]) / 1024,
         binary=int(env["M_BINARY"]) / 1e6, rss_rest=int(env["M_RSS_REST"]) / 1024, anon_rest=int(env["M_ANON_REST"]) / 1024)
p.update(prom_p50=float(env["P_PROM_P50"]), prom_max=float(env["P_PROM_MAX"]), anon=int(env["P_ANON"]) / 1024,
         binary=int(env["P_BINARY"]) / 1e6, rss_rest=int(env["P_RSS_REST"]) / 1024, anon_rest=int(env["P_ANON_REST"]) / 1024)
rows = [("scrape p50, no gzip (ms)", "p50"), ("scrape max, no gzip (ms)", "max"),
        ("scrape p50, Prometheus headers (ms)", "prom_p50"), ("scrape max, Prometheus headers (ms)", "prom_max"),
        ("1 scraper: p50 (ms)", "c1_p50"), ("1 scraper: p99 (ms)", "c1_p99"),
        ("16 concurrent scrapers: p50 (ms)", "c16_p50"), ("16 concurrent scrapers: p99 (ms)", "c16_p99"),
        ("exporter CPU per sample (s)", "cpu"),
        ("server time per sample (ms)", "srv"), ("exporter VmRSS after scrapes (MiB)", "rss"),
        ("exporter RssAnon after scrapes (MiB)", "anon"), (f"exporter VmRSS at rest, {os.environ['REST_S']} s later (MiB)", "rss_rest"),
        ("exporter RssAnon at rest (MiB)", "anon_rest"),
        ("binary (MB)", "binary"), ("series (all)", "series"), ("series (pg_*)", "pg")]
print(f"{'':38}{'mitra-exporter':>16}{'postgres_exporter':>19}{'theirs/ours':>13}")
for label, key in rows:
    ratio = p[key] / m[key] if m[key] else float("inf")
    print(f"{label:38}{m[key]:>16.3f}{p[key]:>19.3f}{ratio:>13.1f}")
sys.path.insert(0, "bench")
from chart import bar_chart  # noqa: E402
charted = [r for r in rows if r[1] not in ("series", "pg", "max", "prom_max")]
open(env["CHART"], "w").write(bar_chart(
    "mitra-exporter vs postgres_exporter (shorter is better)", ("mitra-exporter", "postgres_exporter"),
    [(label, m[key], p[key]) for label, key in charted]))
print(f"wrote {env['CHART']}")
json.dump({"benchmark": "postgres", "samples": n, "postgres_exporter_version": a[28],
           "machine": {"cpus": os.cpu_count(), "kernel": platform.release()}, "mitra": m, "postgres_exporter": p,
           "ratios_theirs_over_ours": {k: (p[k] / m[k] if m[k] else None) for _, k in rows}}, open(a[27], "w"), indent=2)
print(f"wrote {a[27]}")
PY
