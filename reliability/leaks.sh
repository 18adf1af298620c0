#!/usr/bin/env bash
# Leaks and memory errors: builds the package with AddressSanitizer (LeakSanitizer included)
# into .build-asan, then
#   1. runs every Swift test, unit and integration (a throwaway PostgreSQL, real HTTP servers,
#      the instrumented exporter binary), with leak detection at exit. The suppressions in
#      reliability/lsan.supp cover only test-harness types (Foundation.Process, the in-memory
#      Hummingbird test client); any other leak fails the run;
#   2. runs the instrumented exporter on examples/agentmitra.yml against the demo world
#      (HTTP checks, login scenarios, SQL-defined collectors, every PostgreSQL collector) for
#      LEAK_SECONDS while scraping, reloading and killing its PostgreSQL session, then stops
#      it with SIGTERM: it must exit 0 with no sanitizer report.
#
#   reliability/leaks.sh            (part of `make reliability`; ~10 min with a cold build)
#
# Environment: LEAK_SECONDS (60). Loopback only; everything stops on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
LEAK_SECONDS=${LEAK_SECONDS:-60}
build=.build-asan
export ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0:malloc_context_size=40"
export LSAN_OPTIONS="suppressions=$root/reliability/lsan.supp:print_suppressions=0"

echo "== building with -sanitize=address ($build)"
if ! swift build --build-tests --sanitize=address --build-path "$build" >"/tmp/mitra-asan-build.log" 2>&1; then
    grep -E "error" /tmp/mitra-asan-build.log | head -20
    echo "leaks: the instrumented build failed (/tmp/mitra-asan-build.log)" >&2
    exit 1
fi
grep -E "Build complete" /tmp/mitra-asan-build.log || true
bin="$root/$build/debug/mitra-exporter"

make_work_dir leaks
exporter_pid=""
on_exit 'bash scripts/demo-world.sh stop "$work/world" >/dev/null 2>&1'
on_exit '[ -z "$exporter_pid" ] || kill -9 "$exporter_pid" 2>/dev/null'
failures=0

echo "== 1. every Swift test under LeakSanitizer"
pg_port=$(free_port)
pg_start "$work/pg" "$pg_port" >/dev/null
eval "$(scripts/pg-test-cluster.sh env "$work/pg" "$pg_port")"
export MITRA_TEST_REQUIRE_PG=1
if swift test --sanitize=address --build-path "$build" --skip-build --no-parallel --disable-xctest >"$work/tests.log" 2>&1 \
    && ! grep -q "Sanitizer" "$work/tests.log"; then
    echo "ok:   $(grep -E 'Test run with' "$work/tests.log" | tail -1 | sed 's/^[^A-Za-z]*//'); no leak, no memory error"
else
    failures=$((failures + 1))
    echo "FAIL: tests under the sanitizer:"
    grep -E "✘|ERROR: .*Sanitizer|^(Direct|Indirect) leak|SUMMARY" "$work/tests.log" | head -40
    grep -A25 -m3 -E "^(Direct|Indirect) leak|ERROR: AddressSanitizer" "$work/tests.log" | grep "/work\|Sources\|Tests" | head -30
fi
scripts/pg-test-cluster.sh stop "$work/pg" "$pg_port" >/dev/null 2>&1 || true

echo "== 2. the instrumented exporter on the demo world for ${LEAK_SECONDS}s"
export AGENTMITRA_DEMO_PG_PORT=$(free_port) AGENTMITRA_DEMO_API_PORT=$(free_port) AGENTMITRA_DEMO_ADMIN_PORT=$(free_port)
export AGENTMITRA_DEMO_API_BIN="$root/$build/debug/agentmitra-demo-api" DEMO_TRAFFIC_RATE=10 DEMO_TRAFFIC_SECONDS=$((LEAK_SECONDS + 120))
bash scripts/demo-world.sh start "$work/world" >/dev/null
# shellcheck disable=SC1091
. "$work/world/demo.env"
sed -e "s#127.0.0.1:8000#127.0.0.1:$AGENTMITRA_DEMO_API_PORT#g" -e "s#127.0.0.1:55433#127.0.0.1:$AGENTMITRA_DEMO_PG_PORT#g" \
    examples/agentmitra.yml >"$work/agentmitra.yml"
web_port=$(free_port)
"$bin" --config.file "$work/agentmitra.yml" --web.listen-address "127.0.0.1:$web_port" --web.enable-lifecycle --log.level debug >"$work/exporter.log" 2>&1 &
exporter_pid=$!
ready=0
for _ in $(seq 120); do curl -fsS -o /dev/null "http://127.0.0.1:$web_port/-/ready" 2>/dev/null && { ready=1; break; }; sleep 0.5; done
[ $ready = 1 ] || { tail -20 "$work/exporter.log"; echo "leaks: the instrumented exporter did not become ready" >&2; exit 1; }
end=$((SECONDS + LEAK_SECONDS)); round=0
while [ $SECONDS -lt $end ]; do
    round=$((round + 1))
    for _ in $(seq 10); do curl -fsS -o /dev/null "http://127.0.0.1:$web_port/metrics" || true; sleep 0.1; done
    curl -fsS -o /dev/null "http://127.0.0.1:$web_port/" || true
    curl -fsS -o /dev/null "http://127.0.0.1:$web_port/trace?id=scenario/login-super-admin" 2>/dev/null || true
    case $((round % 5)) in
        0) kill -HUP "$exporter_pid" ;;
        2) curl -fsS -o /dev/null -X POST "http://127.0.0.1:$web_port/-/reload" || true ;;
        4) runuser -u postgres -- "${PG_BIN:-/usr/lib/postgresql/15/bin}/psql" -X -q -h "$work/world/pg" -p "$AGENTMITRA_DEMO_PG_PORT" -U postgres -d postgres \
               -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mitra-exporter'" >/dev/null 2>&1 || true ;;
    esac
done
kill -TERM "$exporter_pid"
status=0
for _ in $(seq 300); do kill -0 "$exporter_pid" 2>/dev/null || break; sleep 0.1; done
wait "$exporter_pid" || status=$?
exporter_pid=""
if [ "$status" = 0 ] && ! grep -q "Sanitizer" "$work/exporter.log"; then
    echo "ok:   $round rounds of scrapes, reloads and session kills; exit 0, no leak, no memory error"
else
    failures=$((failures + 1))
    echo "FAIL: instrumented exporter exited $status:"
    grep -A30 -m3 -E "ERROR: .*Sanitizer|^(Direct|Indirect) leak" "$work/exporter.log" | head -60
fi
[ $failures = 0 ] && echo "== leaks: all passed" || { echo "== leaks: $failures failure(s)"; exit 1; }
