#!/usr/bin/env bash
# CPU per 1,000 probes and resident memory: mitra-exporter's HTTP checks (libcurl multi
# engine on the real scheduler) against prometheus-blackbox-exporter driven through /probe,
# both probing the same local target with CHECKS checks every INTERVAL seconds for DURATION
# seconds. Prints the figures and the ratios.
#
#   bench/http/run.sh                      # 1,000 checks, 15 s interval, 60 s, release build
#   CHECKS=200 DURATION=30 CONFIG=debug bench/http/run.sh
#
# Needs: python3, prometheus-blackbox-exporter (Debian package).
set -euo pipefail

CHECKS=${CHECKS:-1000}
INTERVAL=${INTERVAL:-15}
DURATION=${DURATION:-60}
CONFIG=${CONFIG:-release}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/bench/http"
WORK=$(mktemp -d)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

python3 "$HERE/target_server.py" "$WORK/target.port" &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$WORK/target.port" ] && break; sleep 0.1; done
TARGET="http://127.0.0.1:$(cat "$WORK/target.port")/health"
echo "target: $TARGET; $CHECKS checks every ${INTERVAL}s for ${DURATION}s"

echo "--- mitra-exporter HTTP checks ($CONFIG build)"
(cd "$ROOT" && swift build -c "$CONFIG" --build-tests >/dev/null)
(cd "$ROOT" && MITRA_HTTP_BENCH_URL="$TARGET" MITRA_HTTP_BENCH_OUT="$WORK/mitra.json" \
    MITRA_HTTP_BENCH_CHECKS="$CHECKS" MITRA_HTTP_BENCH_SECONDS="$DURATION" MITRA_HTTP_BENCH_INTERVAL="${INTERVAL}s" \
    swift test -c "$CONFIG" --skip-build --filter HTTPBenchmark >"$WORK/mitra.log" 2>&1) || { tail -20 "$WORK/mitra.log"; exit 1; }

echo "--- prometheus-blackbox-exporter"
BB_PORT=$(free_port)
prometheus-blackbox-exporter --config.file="$HERE/blackbox.yml" --web.listen-address="127.0.0.1:$BB_PORT" \
    --log.level=error >"$WORK/blackbox.log" 2>&1 &
BB_PID=$!
PIDS+=($BB_PID)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$BB_PORT/-/healthy" >/dev/null && break; sleep 0.1; done
blackbox_version=$(prometheus-blackbox-exporter --version 2>&1 | head -1)
python3 "$HERE/drive_blackbox.py" "http://127.0.0.1:$BB_PORT" "$TARGET" "$CHECKS" "$INTERVAL" "$DURATION" "$BB_PID" "$WORK/blackbox.json"

python3 - "$WORK/mitra.json" "$WORK/blackbox.json" "$blackbox_version" <<'PY'
import json, sys
mitra, blackbox = (json.load(open(p)) for p in sys.argv[1:3])
mib = lambda b: b / 2**20
print(f"{'':34}{'mitra-exporter':>16}{'blackbox':>16}")
rows = [
    ("probes", "probes", "{:.0f}"), ("failed probes", "failures", "{:.0f}"),
    ("CPU seconds", "cpu_seconds", "{:.2f}"), ("CPU seconds per 1,000 probes", "cpu_seconds_per_1000_probes", "{:.3f}"),
]
for label, key, fmt in rows:
    print(f"{label:34}{fmt.format(mitra[key]):>16}{fmt.format(blackbox[key]):>16}")
for label, key in [("RSS at end (MiB)", "rss_bytes"), ("peak RSS (MiB)", "peak_rss_bytes"), ("RSS before the checks (MiB)", "baseline_rss_bytes")]:
    print(f"{label:34}{mib(mitra[key]):>16.1f}{mib(blackbox[key]):>16.1f}")
print(f"mitra RSS: {mib(mitra['baseline_rss_bytes']):.1f} MiB at start, {mib(mitra['rss_after_config_bytes']):.1f} after parsing the config, "
      f"{mib(mitra['rss_after_samplers_bytes']):.1f} with the samplers built, {mib(mitra['rss_bytes']):.1f} after running, "
      f"{mib(mitra['rss_after_trim_bytes']):.1f} once freed heap is returned")
print(f"{'RSS added by the checks (MiB)':34}{mib(mitra['rss_bytes'] - mitra['baseline_rss_bytes']):>16.1f}{mib(blackbox['rss_bytes'] - blackbox['baseline_rss_bytes']):>16.1f}")
print(f"/metrics for {mitra['checks']:.0f} checks: {mitra['metrics_bytes']/1024:.0f} KiB rendered in {mitra['render_seconds']*1000:.1f} ms; "
      f"probes whose phases exceed their duration: {mitra['phase_mismatches']:.0f}")
if mitra["cpu_seconds_per_1000_probes"] > 0:
    print(f"CPU per probe: blackbox / mitra = {blackbox['cpu_seconds_per_1000_probes'] / mitra['cpu_seconds_per_1000_probes']:.2f}x (goal >= 3x)")
print(f"RSS: blackbox / mitra = {blackbox['rss_bytes'] / mitra['rss_bytes']:.2f}x; mitra RSS {mib(mitra['rss_bytes']):.1f} MiB (goal < 30 MiB; "
      f"includes the test runner, {mib(mitra['baseline_rss_bytes']):.1f} MiB before the checks)")
print(sys.argv[3])
PY
