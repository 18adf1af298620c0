#!/usr/bin/env bash
# `make bench`: every benchmark, one after the other on the same machine, each starting and
# stopping its own servers on 127.0.0.1. Prints the tables and ratios and writes JSON (and
# the text output) to bench/results/.
#
#   bench/run.sh            # full: HTTP vs blackbox_exporter, PostgreSQL vs postgres_exporter
#                           # (default config, then ~25 k series), scale, incremental up to 10M rows,
#                           # and the floor: what libpq and libcurl weigh alone, in small C programs
#   bench/run.sh --quick    # small sizes, a few minutes
#
# Ends with one summary: a Markdown table of the side-by-side figures (the README's
# "Performance" summary takes it verbatim) and one SVG bar chart of them, written to
# bench/results/bench-<time>.svg and copied to docs/performance.svg (linked from the README).
# When the floor part ran, a second table puts the C libraries' own memory beside the memory
# rows it bounds, and the chart draws it as a grey bar on those rows.
#
# Environment: MITRA_EXPORTER_BIN (default .build/release/mitra-exporter, built when missing);
# SKIP="http postgres series scale incremental floor" skips parts by name; BENCH_SINCE=<stamp>
# makes the summary take the parts' results written since that stamp.
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
        make -s build  # the release flags live in the Makefile only
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
    run_part series bench/series/run.sh TABLES=300 SCRAPES=20
    run_part scale bench/scale/run.sh CHECKS="10 100 1000" DATABASES="1 10" DURATION=10
    run_part incremental bench/incremental/run.sh SIZES="100000 1000000" MEASURE_SECONDS=10
    run_part floor bench/floor/run.sh TRANSFERS=200  # as many as the quick HTTP part's checks
else
    run_part http bench/http/run.sh
    run_part postgres bench/postgres/run.sh
    run_part series bench/series/run.sh
    run_part scale bench/scale/run.sh
    run_part incremental bench/incremental/run.sh
    run_part floor bench/floor/run.sh
fi

# One summary of the JSON written by this run's parts.
python3 - "$stamp" <<'PY'
import glob, json, os, sys
stamp = sys.argv[1]
# Parts written since this run started, or since BENCH_SINCE (a stamp such as 20261201T0900Z:
# summarises parts run one by one, e.g. `BENCH_SINCE=... SKIP="http postgres series scale incremental floor"`).
since = os.environ.get("BENCH_SINCE") or stamp
def newest(prefix):
    files = sorted(f for f in glob.glob(f"bench/results/{prefix}-*.json") if os.path.basename(f)[len(prefix) + 1:] >= since)
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

# The side-by-side figures of this run: one Markdown table, one picture.
rows = []  # (figure, ours, theirs, unit, other exporter, lower is better)
postgres = newest("postgres")
if postgres:
    m, p = postgres["mitra"], postgres["postgres_exporter"]
    for label, key, unit in (("/metrics p50, no gzip", "p50", "ms"), ("/metrics p50, Prometheus' headers", "prom_p50", "ms"),
                             ("exporter CPU per sample", "cpu", "s"), ("server SQL time per sample", "srv", "ms"),
                             ("VmRSS after scrapes", "rss", "MiB"), ("RssAnon after scrapes", "anon", "MiB"),
                             ("VmRSS at rest", "rss_rest", "MiB"), ("RssAnon at rest", "anon_rest", "MiB"),
                             ("binary", "binary", "MB")):
        if key in m and key in p:
            rows.append((f"default config: {label}", m[key], p[key], unit, "postgres_exporter"))
series = newest("series")
if series:
    m, p = series["mitra"], series["postgres_exporter"]
    rows.append((f"~25 k series ({m['series']:,} / {p['series']:,}): /metrics p50, no gzip", m["p50"], p["p50"], "ms", "postgres_exporter"))
    rows.append(("~25 k series: /metrics p50, Prometheus' headers", m["prom_p50"], p["prom_p50"], "ms", "postgres_exporter"))
    rows.append(("~25 k series: VmRSS after scrapes", m["rss"], p["rss"], "MiB", "postgres_exporter"))
    rows.append(("~25 k series: RssAnon after scrapes", m["anon"], p["anon"], "MiB", "postgres_exporter"))
    if "rss_rest" in m and "rss_rest" in p:
        rows.append(("~25 k series: VmRSS at rest", m["rss_rest"], p["rss_rest"], "MiB", "postgres_exporter"))
        rows.append(("~25 k series: RssAnon at rest", m["anon_rest"], p["anon_rest"], "MiB", "postgres_exporter"))
http = newest("http")
if http:
    m, b, checks = http["mitra"], http["blackbox"], http["checks"]
    mib = 2 ** 20
    rows.append((f"{checks:,} HTTP checks: CPU s per 1,000 probes", m["cpu_seconds_per_1000_probes"], b["cpu_seconds_per_1000_probes"], "s", "blackbox_exporter"))
    rows.append(("HTTP: VmRSS with no checks", m["baseline_rss_bytes"] / mib, b["baseline_rss_bytes"] / mib, "MiB", "blackbox_exporter"))
    rows.append((f"HTTP: VmRSS added by {checks:,} checks", (m["rss_bytes"] - m["baseline_rss_bytes"]) / mib,
                 (b["rss_bytes"] - b["baseline_rss_bytes"]) / mib, "MiB", "blackbox_exporter"))

# The floor (bench/floor): what libpq and libcurl weigh in the smallest C programs using them as
# the exporter does, beside the memory rows they bound. Each entry: (figure, floor, what the
# floor is, the side-by-side row it bounds or None when that part did not run).
floors = []
floor = newest("floor")
if floor:
    pq, curl = floor["libpq"], floor["libcurl"]["beside_libpq"]
    by_figure = {r[0]: r for r in rows}
    added = next((r for r in rows if r[0].startswith("HTTP: VmRSS added by ")), None)
    floors = [
        ("default config: VmRSS at rest", pq["vmrss_mib"], "libpq alone: C client idle after one query (SCRAM, sslmode=disable)"),
        ("default config: RssAnon at rest", pq["rssanon_mib"], "the same, RssAnon"),
        ("HTTP: VmRSS with no checks", curl["start"]["vmrss_mib"], "C program linking libpq, nothing done yet"),
        (added[0] if added else "HTTP: VmRSS added by the checks", curl["added_vmrss_mib"],
         f"libcurl beside libpq: dlopen + {curl['transfers']:,} transfers, heap trimmed"),
    ]
    floors = [(figure, value, what, by_figure.get(figure)) for figure, value, what in floors]
    summary["floor"] = {"libpq_vmrss_mib": pq["vmrss_mib"], "libpq_rssanon_mib": pq["rssanon_mib"],
                        "libpq_breakdown_mib": {g["group"]: g["rss_mib"] for g in pq["breakdown"]},
                        "libcurl_transfers": curl["transfers"], "libcurl_linking_libpq_start_mib": curl["start"]["vmrss_mib"],
                        "libcurl_added_vmrss_mib": curl["added_vmrss_mib"],
                        "libcurl_alone_added_vmrss_mib": floor["libcurl"]["alone"]["added_vmrss_mib"]}
floor_of = {row[0]: value for _, value, _, row in floors if row}
if rows:
    summary["side_by_side"] = [dict(figure=r[0], ours=r[1], theirs=r[2], unit=r[3], other=r[4],
                                    **({"floor": floor_of[r[0]]} if r[0] in floor_of else {})) for r in rows]
    print("\n== side by side (README \"Performance\" summary, verbatim)\n")
    print("| figure | mitra-exporter | other exporter | theirs / ours |")
    print("| --- | ---: | ---: | ---: |")
    fmt = lambda v, unit: f"{v:.3g} {unit}" if v < 100 else f"{v:,.0f} {unit}"
    for figure, ours, theirs, unit, other in rows:
        ratio = "-" if not ours else f"{theirs / ours:,.0f}×" if theirs / ours >= 100 else f"{theirs / ours:.2g}×"
        print(f"| {figure} | {fmt(ours, unit)} | {fmt(theirs, unit)} ({other}) | {ratio} |")
    sys.path.insert(0, "bench")
    from chart import bar_chart
    tools = ("mitra-exporter", "postgres_exporter / blackbox_exporter")
    if floor_of:
        tools += ("the C library alone (bench/floor)",)
    svg = bar_chart(f"mitra-exporter vs postgres_exporter / blackbox_exporter, {stamp} (shorter is better)", tools,
                    [(f"{r[0]} ({r[3]})", r[1], r[2], *((floor_of.get(r[0]),) if floor_of else ())) for r in rows])
    open(f"bench/results/bench-{stamp}.svg", "w").write(svg)
    os.makedirs("docs", exist_ok=True)
    open("docs/performance.svg", "w").write(svg)
    print(f"\nwrote bench/results/bench-{stamp}.svg and docs/performance.svg")
if floors:
    print("\n== the floor: the C libraries' own memory (bench/floor), which no change to the exporter removes\n")
    print("| figure | C library alone | mitra-exporter | other exporter | mitra-exporter above the floor |")
    print("| --- | --- | ---: | ---: | ---: |")
    for figure, value, what, row in floors:
        ours, theirs = (f"{row[1]:.3g} MiB", f"{row[2]:.3g} MiB ({row[4]})") if row else ("-", "-")
        above = f"{row[1] - value:.3g} MiB" if row else "-"
        print(f"| {figure} | {value:.3g} MiB: {what} | {ours} | {theirs} | {above} |")
    print("\nlibpq client by library chain (VmRSS MiB): " + ", ".join(
        f"{name.split(' (')[0]} {mib:.1f}" for name, mib in summary["floor"]["libpq_breakdown_mib"].items()))
json.dump(summary, open(f"bench/results/bench-{stamp}.json", "w"), indent=2)
print(f"\nwrote bench/results/bench-{stamp}.json")
PY

if [ ${#failed[@]} -gt 0 ]; then echo "== failed: ${failed[*]}"; exit 1; fi
