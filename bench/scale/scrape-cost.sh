#!/usr/bin/env bash
# What one /metrics scrape costs with many HTTP checks publishing all the time (their runs
# are spread over the interval, so some sampler publishes between almost any two scrapes).
# For each check count: starts the exporter, waits one interval, then scrapes back to back
# for DURATION seconds with Prometheus' request headers (gzip, OpenMetrics first) and then
# without them (plain text), and reports per scrape: wall time (p50, p90) and the exporter's
# CPU beyond what it spends sampling (measured over the same time without scraping).
#
#   bench/scale/scrape-cost.sh
#   CHECKS="1000 5000" INTERVAL=15 DURATION=20 MITRA_EXPORTER_BIN=... bench/scale/scrape-cost.sh
#
# Environment: CHECKS ("1000 5000"), INTERVAL (15, seconds), DURATION (20, seconds per mode),
# SCRAPE_PAUSE (0.1, seconds between scrapes), MITRA_EXPORTER_BIN. Loopback only; everything
# stops on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

CHECKS=${CHECKS:-"1000 5000"}
INTERVAL=${INTERVAL:-15}
DURATION=${DURATION:-20}
SCRAPE_PAUSE=${SCRAPE_PAUSE:-0.1}
# The Accept header Prometheus 3 sends (scrape_protocols' default order).
PROMETHEUS_ACCEPT='application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=underscores;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1'

need_exporter_binary bench/scale
make_work_dir bench-scrape-cost
pids=()
exporter=""
on_exit 'stop_processes "${pids[@]}"'
on_exit '[ -z "$exporter" ] || stop_processes "$exporter"'

clk_tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

token="scrape-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
http_port=$(free_port); blackhole_port=$(free_port)
python3 reliability/tools.py serve "$http_port" "$blackhole_port" "$token" 2>"$work/target.log" &
pids+=($!)

# scrape_loop SECONDS ARGS...: scrapes back to back; prints each scrape's wall time in ms.
scrape_loop() {
    local end=$((SECONDS + $1)); shift
    while [ $SECONDS -lt $end ]; do
        curl -fsS -o /dev/null -w '%{time_total}\n' "$@" "http://127.0.0.1:$port/metrics"
        sleep "$SCRAPE_PAUSE"
    done | awk '{print $1 * 1000}'
}

# measure MODE ARGS...: one line of figures for scrapes made with curl ARGS.
measure() {
    local mode=$1; shift
    local t0 t1 times
    t0=$(cpu_ticks "$exporter")
    times=$(scrape_loop "$DURATION" "$@")
    t1=$(cpu_ticks "$exporter")
    python3 - "$mode" "$count" "$((t1 - t0))" "$idle_ticks" "$clk_tck" "$(rss_kb "$exporter")" $times <<'PY'
import sys
mode, count, ticks, idle, tck, rss, *times = sys.argv[1:]
times = sorted(float(t) for t in times)
n = len(times)
cpu_ms = (int(ticks) - int(idle)) / int(tck) * 1000 / n
print(f"checks={count:<6} {mode:<6} scrapes={n:<5} wall_p50={times[n // 2]:.1f}ms wall_p90={times[int(n * 0.9)]:.1f}ms "
      f"cpu_per_scrape={cpu_ms:.1f}ms rss={int(rss) / 1024:.1f}MiB")
PY
}

for count in $CHECKS; do
    {
        echo "defaults: {interval: ${INTERVAL}s, timeout: 2s}"
        echo "checks:"
        for i in $(seq "$count"); do
            echo "  - name: c$i"
            echo "    url: http://127.0.0.1:$http_port/ok"
            echo "    headers: {Authorization: \"Bearer \${env:SCALE_TOKEN}\"}"
        done
    } >"$work/exporter.yml"
    port=$(free_port)
    SCALE_TOKEN="$token" "$bin" --config.file "$work/exporter.yml" --web.listen-address "127.0.0.1:$port" \
        --log.level warn >"$work/exporter.log" 2>&1 &
    exporter=$!
    wait_for_url "http://127.0.0.1:$port/-/ready" 60 || { echo "scrape-cost: not ready" >&2; tail -5 "$work/exporter.log" >&2; exit 1; }
    sleep "$INTERVAL"   # warm-up: every sampler has run at least once and runs spread out
    i0=$(cpu_ticks "$exporter"); sleep "$DURATION"; i1=$(cpu_ticks "$exporter")
    idle_ticks=$((i1 - i0))
    echo "checks=$count idle: $(awk -v t="$idle_ticks" -v c="$clk_tck" -v d="$DURATION" 'BEGIN {printf "%.1f", 100 * t / c / d}')% of a core sampling," \
        "body $(curl -fsS "http://127.0.0.1:$port/metrics" | wc -c) bytes, gzip $(curl -fsS -H 'Accept-Encoding: gzip' -H "Accept: $PROMETHEUS_ACCEPT" "http://127.0.0.1:$port/metrics" | wc -c) bytes"
    measure gzip -H "Accept: $PROMETHEUS_ACCEPT" -H 'Accept-Encoding: gzip'
    measure plain
    stop_processes "$exporter"; exporter=""
done
