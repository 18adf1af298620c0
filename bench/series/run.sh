#!/usr/bin/env bash
# 25 k series side by side: mitra-exporter vs prometheus-postgres-exporter on one PostgreSQL 15
# whose `lic_schema` holds TABLES tables (default 1,050), each exporter exporting the same
# per-table statistics (23 series per table, ~24 k) on top of its defaults, so both expose
# about 25,000 series.
#
#   bench/series/run.sh        (as root; needs a built .build/release/mitra-exporter)
#
# Fair on both sides: the same database and tables; postgres_exporter runs its defaults plus
# queries-postgres-exporter.yaml (the mitra-exporter `tables` columns, written as its
# extend.query-path query); mitra-exporter runs its default PostgreSQL collectors with
# `tables` and a series budget above the count. Tables have autovacuum off and one manual
# VACUUM ANALYZE, so the same columns are non-NULL on both sides for the whole run.
#
# Measures, for each: /metrics p50/max over 50 keep-alive scrapes, plain and with the exact
# headers Prometheus sends (bench/postgres/scrape_latency.py), VmRSS and RssAnon after the
# scrapes, series count. Prints the figures and ratios, writes JSON and an SVG bar chart to
# bench/results/. Everything it starts is stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${MITRA_EXPORTER:-${MITRA_EXPORTER_BIN:-$(pwd)/.build/release/mitra-exporter}}
pgexp=${POSTGRES_EXPORTER:-/usr/bin/prometheus-postgres-exporter}
tables=${TABLES:-1050}
scrapes=${SCRAPES:-50}
[ -x "$bin" ] || { echo "build mitra-exporter first (make build), or set MITRA_EXPORTER" >&2; exit 1; }
[ -x "$pgexp" ] || { echo "install prometheus-postgres-exporter" >&2; exit 1; }

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
make_work_dir bench-series
pg_port=$(free_port); mitra_port=$(free_port); pgexp_port=$(free_port)
pids=()
on_exit 'stop_processes "${pids[@]}"'

echo "== PostgreSQL on 127.0.0.1:$pg_port"
pg_start "$work/pg" "$pg_port"  # stopped on exit
psql_super() { runuser -u postgres -- env PGOPTIONS='-c client_min_messages=warning' /usr/lib/postgresql/15/bin/psql -X -q -v ON_ERROR_STOP=1 -h "$work/pg" -p "$pg_port" -U postgres "$@"; }

echo "== $tables tables in lic_schema"
{
    echo "CREATE ROLE bench_mitra LOGIN PASSWORD 'bench' IN ROLE pg_monitor;"
    echo "CREATE ROLE bench_pgexp LOGIN PASSWORD 'bench' IN ROLE pg_monitor;"
    for t in $(seq 1 "$tables"); do
        echo "CREATE TABLE lic_schema.series_$t (id int PRIMARY KEY, a int, b text) WITH (autovacuum_enabled = false);"
        echo "INSERT INTO lic_schema.series_$t SELECT g, g, 'x' FROM generate_series(1, 20) g;"
    done
} > "$work/setup.sql"
psql_super -d mitra_test -f "$work/setup.sql" >/dev/null
psql_super -d mitra_test -c "VACUUM ANALYZE"

# Memory is read right after the scrapes and again at rest, $rest_s s later (as in
# bench/postgres/run.sh, which says why).
rest_s=6
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
anon_kib() { awk '/RssAnon/ {print $2}' "/proc/$1/status"; }
series_count() { curl -s "$1" | grep -vc '^#'; }

# Both exporters connect without TLS (sslmode=disable; postgres_exporter's driver would
# otherwise insist on it), so neither pays for a TLS handshake or OpenSSL's set-up.
cat > "$work/mitra.yml" <<YAML
postgres:
  - name: bench
    dsn: "postgresql://bench_mitra:bench@127.0.0.1:$pg_port/mitra_test?sslmode=disable"
    interval: 15s
    collectors: [database, activity, locks, tables, replication, bgwriter, wal]
    tables: {schemas: [lic_schema]}
    series_budget: 100000
YAML

echo "== mitra-exporter"
"$bin" --config.file "$work/mitra.yml" --web.listen-address "127.0.0.1:$mitra_port" --log.level warn >"$work/mitra.log" 2>&1 &
mitra_pid=$!; pids+=("$mitra_pid")
url="http://127.0.0.1:$mitra_port/metrics"
for _ in $(seq 1 300); do  # the first sample lands within seconds; bounded at 30 s
    [ "$(curl -s "$url" | grep -c '^pg_stat_user_tables_seq_scan{')" -ge "$tables" ] && break
    sleep 0.1
done
m_series=$(series_count "$url")
read -r m_p50 m_max < <(python3 bench/postgres/scrape_latency.py "$url" "$scrapes" plain)
read -r m_prom_p50 m_prom_max < <(python3 bench/postgres/scrape_latency.py "$url" "$scrapes" prometheus)
m_rss=$(rss_kib "$mitra_pid"); m_anon=$(anon_kib "$mitra_pid")
sleep "$rest_s"; m_rss_rest=$(rss_kib "$mitra_pid"); m_anon_rest=$(anon_kib "$mitra_pid")
kill "$mitra_pid"; wait "$mitra_pid" 2>/dev/null || true

echo "== prometheus-postgres-exporter"
DATA_SOURCE_NAME="postgresql://bench_pgexp:bench@127.0.0.1:$pg_port/mitra_test?sslmode=disable" \
    "$pgexp" --web.listen-address "127.0.0.1:$pgexp_port" --extend.query-path bench/series/queries-postgres-exporter.yaml \
    --log.level warn >"$work/pgexp.log" 2>&1 &
pgexp_pid=$!; pids+=("$pgexp_pid")
url="http://127.0.0.1:$pgexp_port/metrics"
for _ in $(seq 1 100); do curl -sf -o /dev/null "$url" && break; sleep 0.1; done
p_series=$(series_count "$url")
read -r p_p50 p_max < <(python3 bench/postgres/scrape_latency.py "$url" "$scrapes" plain)
read -r p_prom_p50 p_prom_max < <(python3 bench/postgres/scrape_latency.py "$url" "$scrapes" prometheus)
p_rss=$(rss_kib "$pgexp_pid"); p_anon=$(anon_kib "$pgexp_pid")
sleep "$rest_s"; p_rss_rest=$(rss_kib "$pgexp_pid"); p_anon_rest=$(anon_kib "$pgexp_pid")
kill "$pgexp_pid"; wait "$pgexp_pid" 2>/dev/null || true

mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
python3 - "$tables" "$scrapes" "bench/results/series-$stamp.json" "bench/results/series-$stamp.svg" \
    "$m_series" "$m_p50" "$m_max" "$m_prom_p50" "$m_prom_max" "$m_rss" "$m_anon" "$m_rss_rest" "$m_anon_rest" \
    "$p_series" "$p_p50" "$p_max" "$p_prom_p50" "$p_prom_max" "$p_rss" "$p_anon" "$p_rss_rest" "$p_anon_rest" \
    "$("$pgexp" --version 2>&1 | head -1)" <<'PY'
import json, os, platform, sys
a = sys.argv[1:]
tables, scrapes, out_json, out_svg = int(a[0]), int(a[1]), a[2], a[3]
keys = ("series", "p50", "max", "prom_p50", "prom_max", "rss", "anon", "rss_rest", "anon_rest")
def side(values):
    d = dict(zip(keys, map(float, values)))
    d["series"] = int(d["series"])
    for key in ("rss", "anon", "rss_rest", "anon_rest"):
        d[key] /= 1024
    return d
m, p = side(a[4:13]), side(a[13:22])
rows = [("series", "series"), ("scrape p50, no gzip (ms)", "p50"), ("scrape max, no gzip (ms)", "max"),
        ("scrape p50, Prometheus headers (ms)", "prom_p50"), ("scrape max, Prometheus headers (ms)", "prom_max"),
        ("VmRSS after the scrapes (MiB)", "rss"), ("RssAnon after the scrapes (MiB)", "anon"),
        ("VmRSS at rest (MiB)", "rss_rest"), ("RssAnon at rest (MiB)", "anon_rest")]
print(f"\n== {tables} tables, {scrapes} keep-alive scrapes each")
print(f"{'':38}{'mitra-exporter':>16}{'postgres_exporter':>19}{'theirs/ours':>13}")
for label, key in rows:
    ratio = p[key] / m[key] if m[key] else float("inf")
    print(f"{label:38}{m[key]:>16.3f}{p[key]:>19.3f}{ratio:>13.1f}")
sys.path.insert(0, "bench")
from chart import bar_chart  # noqa: E402
open(out_svg, "w").write(bar_chart(
    f"~25 k series: mitra-exporter vs postgres_exporter (shorter is better)", ("mitra-exporter", "postgres_exporter"),
    [(label, m[key], p[key]) for label, key in rows if key in ("p50", "prom_p50", "rss", "anon", "rss_rest", "anon_rest")]))
json.dump({"benchmark": "series", "tables": tables, "scrapes": scrapes, "postgres_exporter_version": a[22],
           "machine": {"cpus": os.cpu_count(), "kernel": platform.release()}, "mitra": m, "postgres_exporter": p,
           "ratios_theirs_over_ours": {k: (p[k] / m[k] if m[k] else None) for _, k in rows}}, open(out_json, "w"), indent=2)
print(f"wrote {out_json} and {out_svg}")
PY
