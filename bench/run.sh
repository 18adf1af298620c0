#!/usr/bin/env bash
# `make bench`: every benchmark, one after the other on the same machine, each starting and
# stopping its own servers on 127.0.0.1. Prints the tables and ratios and writes JSON (and
# the text output) to bench/results/.
#
#   bench/run.sh            # full: HTTP vs blackbox_exporter, PostgreSQL vs postgres_exporter
#                           # (when bench/postgres exists), scale, incremental up to 10M rows
#   bench/run.sh --quick    # small sizes, a few minutes
#
# Environment: MITRA_EXPORTER_BIN (default .build/release/mitra-exporter, built when missing);
# SKIP="http postgres scale incremental" skips parts by name.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
quick=0
[ "${1:-}" = "--quick" ] && quick=1
SKIP=${SKIP:-}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/results

if [ -z "${MITRA_EXPORTER_BIN:-}" ]; then
    if [ ! -x .build/release/mitra-exporter ]; then
        echo "== building the release exporter"
        swift build -c release --static-swift-stdlib --product mitra-exporter  # as `make build`
    fi
    export MITRA_EXPORTER_BIN="$root/.build/release/mitra-exporter"
fi

skipped() { case " $SKIP " in *" $1 "*) return 0;; esac; return 1; }
failed=()
run_part() { # NAME SCRIPT [ENV=VALUE ...]
    local name=$1 script=$2; shift 2
    if skipped "$name"; then echo "== $name: skipped"; return; fi
    if [ ! -x "$script" ] && [ ! -f "$script" ]; then echo "== $name: $script not present, skipped"; return; fi
    echo "== $name ($script)"
    if env "$@" bash "$script" 2>&1 | tee "bench/results/$name-$stamp.txt"; then :; else
        echo "== $name FAILED (see bench/results/$name-$stamp.txt)"; failed+=("$name")
    fi
}

if [ $quick = 1 ]; then
    run_part http bench/http/run.sh CHECKS=200 DURATION=30
    run_part postgres bench/postgres/run.sh QUICK=1
    run_part scale bench/scale/run.sh CHECKS="10 100 1000" DATABASES="1 10" DURATION=10
    run_part incremental bench/incremental/run.sh SIZES="100000 1000000" MEASURE_SECONDS=10
else
    run_part http bench/http/run.sh
    run_part postgres bench/postgres/run.sh
    run_part scale bench/scale/run.sh
    run_part incremental bench/incremental/run.sh
fi

# One summary of the JSON written by this run's parts.
python3 - "$stamp" <<'PY'
import glob, json, os, sys
stamp = sys.argv[1]
def newest(prefix):
    files = sorted(f for f in glob.glob(f"bench/results/{prefix}-*.json") if os.path.basename(f)[len(prefix) + 1:] >= stamp)
    return json.load(open(files[-1])) if files else None
summary = {"stamp": stamp}
scale = newest("scale")
if scale:
    summary["scale"] = {k: scale.get(k) for k in ("checks_growth", "postgres_growth", "scrape_rate")}
incremental = newest("incremental")
if incremental:
    stages = incremental["stages"]
    summary["incremental"] = [{"rows": s["label"], "ours_ms": s["ours_ms_per_sample"], "naive_ms": s["naive_ms_per_query"],
                               "ours_over_naive": s["ratio_ours_over_naive"]} for s in stages]
    print("\n== incremental sample vs naive 5-minute count (server-side SQL time)")
    print(f"{'rows':>14} {'ours ms/sample':>15} {'naive ms/query':>15} {'ours/naive':>11}")
    for s in stages:
        print(f"{s['label']:>14} {s['ours_ms_per_sample']:>15} {s['naive_ms_per_query']:>15} {s['ratio_ours_over_naive']!s:>11}")
json.dump(summary, open(f"bench/results/bench-{stamp}.json", "w"), indent=2)
print(f"\nwrote bench/results/bench-{stamp}.json")
PY

if [ ${#failed[@]} -gt 0 ]; then echo "== failed: ${failed[*]}"; exit 1; fi
