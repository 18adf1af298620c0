#!/usr/bin/env bash
# How the exporter's CPU and memory grow with the number of HTTP checks and PostgreSQL
# instances, and whether scraping more often costs more (it should not: /metrics only renders
# the latest snapshots).
#
#   bench/scale/run.sh
#   CHECKS="10 100" DATABASES="1" DURATION=15 bench/scale/run.sh
#
# Environment: CHECKS ("10 100 1000 5000"), DATABASES ("1 10 30"), INTERVAL (15, seconds),
# DURATION (30, seconds measured after a warm-up), SCRAPE_RATES ("1 10", scrapes per second
# of the largest check config, beside not scraping), MITRA_EXPORTER_BIN.
# PostgreSQL "instances" are entries of the exporter's config, each with its own connection
# and every collector, all pointing at one throwaway server (one database each): the
# exporter's cost per instance is the same whether they are one server or thirty.
# Writes bench/results/scale-<time>.json. Loopback only; everything stops on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

CHECKS=${CHECKS:-"10 100 1000 5000"}
DATABASES=${DATABASES:-"1 10 30"}
SCRAPE_RATES=${SCRAPE_RATES:-"1 10"}
INTERVAL=${INTERVAL:-15}
DURATION=${DURATION:-30}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

need_exporter_binary bench/scale

make_work_dir bench-scale
pids=()
exporter=""
on_exit 'stop_processes "${pids[@]}"'
on_exit '[ -z "$exporter" ] || stop_processes "$exporter"'

clk_tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
metric_sum() { # NAME: sum of every sample of that name on /metrics
    curl -fsS "http://127.0.0.1:$port/metrics" | awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%.0f", s}'
}

token="scale-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
http_port=$(free_port); blackhole_port=$(free_port)
python3 reliability/tools.py serve "$http_port" "$blackhole_port" "$token" 2>"$work/target.log" &
pids+=($!)

run_exporter() { # LABEL KIND COUNT RUNS_METRIC SCRAPES_PER_SECOND
    local label=$1 kind=$2 count=$3 runs_metric=$4 scrape_rate=$5
    port=$(free_port)
    SCALE_TOKEN="$token" SCALE_PG_PASSWORD="${MITRA_TEST_PG_MONITOR_PASSWORD:-}" "$bin" --config.file "$work/exporter.yml" \
        --web.listen-address "127.0.0.1:$port" --log.level warn >"$work/exporter.log" 2>&1 &
    exporter=$!
    local ready=0
    for _ in $(seq 60); do curl -fsS -o /dev/null "http://127.0.0.1:$port/-/ready" 2>/dev/null && { ready=1; break; }; sleep 0.5; done
    if [ $ready = 0 ]; then
        echo "bench/scale: $label: the exporter did not become ready:" >&2
        tail -5 "$work/exporter.log" >&2
        exit 1
    fi
    sleep "$INTERVAL"   # warm-up: every sampler has run at least once
    local scraper=""
    if [ "$scrape_rate" -gt 0 ]; then
        ( end=$((SECONDS + DURATION + 2)); while [ $SECONDS -lt $end ]; do
              curl -fsS -o /dev/null "http://127.0.0.1:$port/metrics" || true; sleep "$(awk -v r="$scrape_rate" 'BEGIN {print 1 / r}')"; done ) &
        scraper=$!
    fi
    local ticks0 runs0 ticks1 runs1 rss scrapes0 scrapes1
    scrapes0=$(metric_sum mitra_exporter_scrapes_total)
    ticks0=$(cpu_ticks "$exporter"); runs0=$(metric_sum "$runs_metric")
    sleep "$DURATION"
    ticks1=$(cpu_ticks "$exporter"); runs1=$(metric_sum "$runs_metric")
    scrapes1=$(metric_sum mitra_exporter_scrapes_total)
    rss=$(rss_kb "$exporter")
    [ -n "$scraper" ] && { kill "$scraper" 2>/dev/null || true; wait "$scraper" 2>/dev/null || true; }
    curl -fsS -o "$work/metrics.txt" "http://127.0.0.1:$port/metrics"
    local bytes series scrape_ms
    bytes=$(wc -c <"$work/metrics.txt")
    series=$(grep -vc '^#' "$work/metrics.txt")
    scrape_ms=$(for _ in $(seq 20); do curl -fsS -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/metrics"; done \
        | sort -n | awk '{a[NR] = $1} END {printf "%.2f", a[int(NR / 2) + 1] * 1000}')
    stop_processes "$exporter"; exporter=""
    python3 - "$label" "$kind" "$count" "$scrape_rate" "$((ticks1 - ticks0))" "$clk_tck" "$DURATION" "$((runs1 - runs0))" \
        "$rss" "$bytes" "$series" "$scrape_ms" "$((scrapes1 - scrapes0 - 2))" >>"$work/results.jsonl" <<'PY'
import json, sys
label, kind, count, rate, ticks, tck, seconds, runs, rss, size, series, scrape_ms, scrapes = sys.argv[1:]
cpu = int(ticks) / int(tck)
runs = int(runs)
entry = {"label": label, "kind": kind, "count": int(count), "scrapes_per_second": int(rate),
         "cpu_seconds": round(cpu, 3), "cpu_percent": round(100 * cpu / float(seconds), 2),
         "runs": runs, "cpu_ms_per_run": round(1000 * cpu / runs, 3) if runs else None,
         "rss_mb": round(int(rss) / 1024, 1), "metrics_bytes": int(size), "series": int(series),
         "scrape_ms_p50": float(scrape_ms), "scrapes": max(0, int(scrapes))}
print(json.dumps(entry))
e = entry
print(f"{label:<22} {e['cpu_percent']:>7}% {runs:>8} {e['cpu_ms_per_run']!s:>10} {e['rss_mb']:>8} {e['series']:>8} "
      f"{e['metrics_bytes']:>10} {e['scrape_ms_p50']:>8}", file=sys.stderr)
PY
}

printf '%-22s %8s %8s %10s %8s %8s %10s %8s\n' run cpu runs ms/run rss_MB series bytes scrape_ms
: >"$work/results.jsonl"

write_checks_config() { # COUNT
    {
        echo "defaults: {interval: ${INTERVAL}s, timeout: 2s}"
        echo "checks:"
        for i in $(seq "$1"); do
            echo "  - name: c$i"
            echo "    url: http://127.0.0.1:$http_port/ok"
            echo "    headers: {Authorization: \"Bearer \${env:SCALE_TOKEN}\"}"
        done
    } >"$work/exporter.yml"
}

largest=0
for count in $CHECKS; do
    write_checks_config "$count"
    run_exporter "checks=$count" checks "$count" mitra_probe_runs_total 0
    largest=$count
done
# Scrape rate should not change the sampling cost: the largest config scraped 1 and 10 times
# a second (each scrape still costs its own rendering and sending; see cpu_ms_per_scrape).
for rate in $SCRAPE_RATES; do
    run_exporter "checks=$largest,scrape=$rate/s" checks "$largest" mitra_probe_runs_total "$rate"
done

if [ -n "$DATABASES" ]; then
    pg_port=$(free_port)
    pg_start "$work/pg" "$pg_port" >/dev/null  # stopped on exit
    eval "$(scripts/pg-test-cluster.sh env "$work/pg" "$pg_port")"
    max_db=0
    for n in $DATABASES; do [ "$n" -gt "$max_db" ] && max_db=$n; done
    for i in $(seq "$max_db"); do
        runuser -u postgres -- "$PG_BIN/psql" -X -q -h "$work/pg" -p "$pg_port" -U postgres -d postgres \
            -c "CREATE DATABASE scale_$i OWNER mitra_super" >/dev/null
        runuser -u postgres -- "$PG_BIN/psql" -X -q -h "$work/pg" -p "$pg_port" -U postgres -d "scale_$i" \
            -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
            -c "CREATE SCHEMA lic_schema" \
            -c "CREATE TABLE lic_schema.t AS SELECT g AS id FROM generate_series(1, 1000) g" \
            -c "GRANT USAGE ON SCHEMA lic_schema TO mitra_monitor" -c "GRANT SELECT ON ALL TABLES IN SCHEMA lic_schema TO mitra_monitor" >/dev/null
    done
    for n in $DATABASES; do
        {
            echo "defaults: {interval: ${INTERVAL}s, timeout: 3s}"
            echo "postgres:"
            for i in $(seq "$n"); do
                echo "  - name: db$i"
                echo "    dsn: \"postgresql://mitra_monitor:\${env:SCALE_PG_PASSWORD}@127.0.0.1:$pg_port/scale_$i?sslmode=disable\""
                echo "    collectors: [database, activity, locks, statements, tables, bgwriter, wal]"
            done
        } >"$work/exporter.yml"
        run_exporter "postgres=$n" postgres "$n" mitra_exporter_collector_runs_total 0
    done
fi

mkdir -p bench/results
out="bench/results/scale-$(date -u +%Y%m%dT%H%M%SZ).json"
python3 - "$work/results.jsonl" "$out" "$INTERVAL" "$DURATION" <<'PY'
import json, os, platform, sys
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
data = {"benchmark": "scale", "interval_seconds": int(sys.argv[3]), "measure_seconds": int(sys.argv[4]),
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release()}, "runs": runs}
checks = [r for r in runs if r["kind"] == "checks" and r["scrapes_per_second"] == 0]
if len(checks) >= 2:
    a, b = checks[0], checks[-1]
    data["checks_growth"] = {"count_ratio": b["count"] / a["count"], "cpu_ratio": round(b["cpu_seconds"] / max(a["cpu_seconds"], 1e-9), 2),
                             "rss_ratio": round(b["rss_mb"] / a["rss_mb"], 2)}
    print(f"checks x{b['count'] / a['count']:.0f}: CPU x{data['checks_growth']['cpu_ratio']}, RSS x{data['checks_growth']['rss_ratio']}")
    # Linear growth shows as a steady cost per check between consecutive sizes.
    steps = []
    for lo, hi in zip(checks, checks[1:]):
        added = hi["count"] - lo["count"]
        steps.append({"from": lo["count"], "to": hi["count"],
                      "rss_kib_per_check": round((hi["rss_mb"] - lo["rss_mb"]) * 1024 / added, 1),
                      "cpu_ms_per_check_per_second": round(1000 * (hi["cpu_seconds"] - lo["cpu_seconds"]) / added / float(sys.argv[4]), 3)})
        print(f"   {lo['count']} -> {hi['count']} checks: {steps[-1]['rss_kib_per_check']} KiB RSS and "
              f"{steps[-1]['cpu_ms_per_check_per_second']} ms CPU per second per added check")
    data["checks_growth"]["steps"] = steps
scraped = [r for r in runs if r["scrapes_per_second"] > 0]
if scraped and checks:
    base = checks[-1]
    data["scrape_rate"] = []
    for r in scraped:
        extra = max(0.0, r["cpu_seconds"] - base["cpu_seconds"])
        entry = {"scrapes_per_second": r["scrapes_per_second"], "scrapes": r["scrapes"],
                 "cpu_ratio": round(r["cpu_seconds"] / max(base["cpu_seconds"], 1e-9), 2),
                 "cpu_ms_per_scrape": round(1000 * extra / r["scrapes"], 2) if r["scrapes"] else None,
                 "sample_runs_ratio": round(r["runs"] / base["runs"], 3) if base["runs"] else None}
        data["scrape_rate"].append(entry)
        print(f"{base['count']} checks scraped {r['scrapes_per_second']}/s ({r['scrapes']} scrapes of {r['metrics_bytes'] // 1024} KiB) vs not scraped: "
              f"CPU x{entry['cpu_ratio']}, {entry['cpu_ms_per_scrape']} ms CPU per scrape, probe runs x{entry['sample_runs_ratio']}")
pg = [r for r in runs if r["kind"] == "postgres"]
if len(pg) >= 2:
    data["postgres_growth"] = {"count_ratio": pg[-1]["count"] / pg[0]["count"],
                               "cpu_ratio": round(pg[-1]["cpu_seconds"] / max(pg[0]["cpu_seconds"], 1e-9), 2),
                               "rss_ratio": round(pg[-1]["rss_mb"] / pg[0]["rss_mb"], 2)}
    print(f"postgres instances x{data['postgres_growth']['count_ratio']:.0f}: CPU x{data['postgres_growth']['cpu_ratio']}, RSS x{data['postgres_growth']['rss_ratio']}")
json.dump(data, open(sys.argv[2], "w"), indent=2)
PY
echo "wrote $out"
