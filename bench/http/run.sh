#!/usr/bin/env bash
# CPU per 1,000 probes, resident memory and timing accuracy: the mitra-exporter binary
# running CHECKS HTTP checks every INTERVAL seconds against prometheus-blackbox-exporter
# driven through /probe for the same checks at the same rate, both probing one local target
# for DURATION seconds. Prints the figures and the ratios (ours / theirs) and writes JSON.
#
#   bench/http/run.sh                      # 1,000 checks, 15 s interval, 60 s
#   CHECKS=200 DURATION=30 bench/http/run.sh
#
# Environment: CHECKS (1000), INTERVAL (15), DURATION (60), MITRA_EXPORTER_BIN (default
# .build/release/mitra-exporter). Needs python3 and prometheus-blackbox-exporter.
# Writes bench/results/http-<time>.json. Loopback only; everything stops on exit.
set -euo pipefail

CHECKS=${CHECKS:-1000}
INTERVAL=${INTERVAL:-15}
DURATION=${DURATION:-60}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/bench/http"
cd "$ROOT"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
need_exporter_binary bench/http
command -v prometheus-blackbox-exporter >/dev/null || { echo "bench/http: prometheus-blackbox-exporter is required (make deps)" >&2; exit 2; }

make_work_dir bench-http
WORK=$work
PIDS=()
on_exit 'stop_processes "${PIDS[@]}"'

python3 "$HERE/target_server.py" "$WORK/target.port" &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$WORK/target.port" ] && break; sleep 0.1; done
TARGET="http://127.0.0.1:$(cat "$WORK/target.port")/health"
echo "target: $TARGET; $CHECKS checks every ${INTERVAL}s for ${DURATION}s"

# start_exporter CONFIG: starts the exporter and waits until every check has run once; sets
# pid and port.
start_exporter() {
    port=$(free_port)
    "$bin" --config.file "$1" --web.listen-address "127.0.0.1:$port" --log.level warn >>"$WORK/mitra.log" 2>&1 &
    pid=$!
    PIDS+=($pid)
    for _ in $(seq 240); do curl -fsS -o /dev/null "http://127.0.0.1:$port/-/ready" 2>/dev/null && return; sleep 0.25; done
    tail -5 "$WORK/mitra.log" >&2
    echo "bench/http: the exporter did not become ready" >&2
    exit 1
}

echo "--- mitra-exporter ($bin)"
echo "checks: []" >"$WORK/empty.yml"
start_exporter "$WORK/empty.yml"
sleep 3
baseline_rss=$(awk '/^VmRSS/ {print $2 * 1024}' "/proc/$pid/status")
stop_processes "$pid"
{
    echo "defaults: {interval: ${INTERVAL}s, timeout: 5s}"
    echo "checks:"
    for i in $(seq "$CHECKS"); do echo "  - {name: check-$i, url: '$TARGET'}"; done
} >"$WORK/checks.yml"
start_exporter "$WORK/checks.yml"
python3 "$HERE/measure_mitra.py" "http://127.0.0.1:$port/metrics" "$pid" "$INTERVAL" "$DURATION" "$WORK/mitra.json"
stop_processes "$pid"

echo "--- prometheus-blackbox-exporter"
BB_PORT=$(free_port)
prometheus-blackbox-exporter --config.file="$HERE/blackbox.yml" --web.listen-address="127.0.0.1:$BB_PORT" \
    --log.level=error >"$WORK/blackbox.log" 2>&1 &
BB_PID=$!
PIDS+=($BB_PID)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$BB_PORT/-/healthy" >/dev/null && break; sleep 0.1; done
blackbox_version=$(prometheus-blackbox-exporter --version 2>&1 | head -1)
python3 "$HERE/drive_blackbox.py" "http://127.0.0.1:$BB_PORT" "$TARGET" "$CHECKS" "$INTERVAL" "$DURATION" "$BB_PID" "$WORK/blackbox.json"

mkdir -p bench/results
python3 - "$WORK/mitra.json" "$WORK/blackbox.json" "$blackbox_version" "$baseline_rss" "$CHECKS" "$INTERVAL" \
    "bench/results/http-$(date -u +%Y%m%dT%H%M%SZ).json" <<'PY'
import json, os, platform, sys
mitra, blackbox = (json.load(open(p)) for p in sys.argv[1:3])
version, baseline, checks, interval, out = sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
mitra["baseline_rss_bytes"] = baseline
mib = lambda b: b / 2**20
share = lambda v: "-" if v is None else f"{v:.3f}"
print(f"{'':36}{'mitra-exporter':>16}{'blackbox':>16}{'ours/theirs':>13}")
def row(label, ours, theirs, fmt, ratio=True):
    r = f"{ours / theirs:.2f}" if ratio and theirs else ""
    print(f"{label:36}{fmt.format(ours):>16}{fmt.format(theirs):>16}{r:>13}")
row("probes", mitra["probes"], blackbox["probes"], "{:.0f}", False)
row("failed probes", mitra["failures"], blackbox["failures"], "{:.0f}", False)
row("CPU seconds per 1,000 probes", mitra["cpu_seconds_per_1000_probes"], blackbox["cpu_seconds_per_1000_probes"], "{:.3f}")
row("RSS at end (MiB)", mib(mitra["rss_bytes"]), mib(blackbox["rss_bytes"]), "{:.1f}")
row("peak RSS (MiB)", mib(mitra["peak_rss_bytes"]), mib(blackbox["peak_rss_bytes"]), "{:.1f}")
row("RSS with no checks (MiB)", mib(baseline), mib(blackbox["baseline_rss_bytes"]), "{:.1f}")
row("RSS added by the checks (MiB)", mib(mitra["rss_bytes"] - baseline), mib(blackbox["rss_bytes"] - blackbox["baseline_rss_bytes"]), "{:.1f}")
row("  the same, median over the run", mib(mitra["rss_median_bytes"] - baseline), mib(blackbox["rss_median_bytes"] - blackbox["baseline_rss_bytes"]), "{:.1f}")
print(f"{'phase share of duration, median':36}{share(mitra['phase_share_median']):>16}{share(blackbox['phase_share_median']):>16}")
print(f"{'phase share of duration, lowest':36}{share(mitra['phase_share_min']):>16}{share(blackbox['phase_share_min']):>16}")
print(f"{'probes whose phases exceed it':36}{mitra['phase_mismatches']:>16}{blackbox['phase_mismatches']:>16}")
print(f"/metrics with {checks} checks: {mitra['metrics_bytes'] / 1024:.0f} KiB; {version}")
data = {"benchmark": "http", "checks": checks, "interval_seconds": interval, "blackbox_version": version,
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release()}, "mitra": mitra, "blackbox": blackbox,
        "ratios": {"cpu_per_probe": mitra["cpu_seconds_per_1000_probes"] / blackbox["cpu_seconds_per_1000_probes"] if blackbox["cpu_seconds_per_1000_probes"] else None,
                   "rss": mitra["rss_bytes"] / blackbox["rss_bytes"] if blackbox["rss_bytes"] else None,
                   "rss_added_median": (mitra["rss_median_bytes"] - baseline) / (blackbox["rss_median_bytes"] - blackbox["baseline_rss_bytes"])
                   if blackbox["rss_median_bytes"] > blackbox["baseline_rss_bytes"] else None}}
json.dump(data, open(out, "w"), indent=2)
print(f"wrote {out}")
PY
