#!/usr/bin/env bash
# `make test`: the Swift unit and integration tests (against a throwaway PostgreSQL and HTTP
# servers on loopback), then every area's <area>/test.sh.
# Everything it starts is stopped on exit, whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# The PostgreSQL collector tests run again against these major versions (PyPI wheels, see
# scripts/pg-wheel.sh); the whole suite runs against Debian's 15. Empty skips the matrix.
extra_pg_versions=${MITRA_TEST_PG_EXTRA_VERSIONS-16 18}
declare -A extra_pg_ports=() extra_pg_starts=()

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
make_work_dir test

if [ -x scripts/pg-test-cluster.sh ]; then
  pg_port=$(free_port)
  echo "== PostgreSQL test cluster on 127.0.0.1:$pg_port"
  pg_start "$work/pg" "$pg_port"
  eval "$(scripts/pg-test-cluster.sh env "$work/pg" "$pg_port")"
  export MITRA_TEST_REQUIRE_PG=1
  # Installed (first time) and started while Swift builds.
  for version in $extra_pg_versions; do
    extra_pg_ports[$version]=$(free_port)
    PG_VERSION=$version pg_stop_on_exit "$work/pg$version" "${extra_pg_ports[$version]}"
    echo "== PostgreSQL $version test cluster on 127.0.0.1:${extra_pg_ports[$version]} (starting in the background)"
    PG_VERSION=$version scripts/pg-test-cluster.sh start "$work/pg$version" "${extra_pg_ports[$version]}" \
      >"$work/start-$version.log" 2>&1 &
    extra_pg_starts[$version]=$!
  done
fi

echo "== swift build"
swift build --build-tests

echo "== scripts/no-icu-test.sh"
bash scripts/no-icu-test.sh .build/debug/mitra-exporter
export MITRA_EXPORTER_BIN="$root/.build/debug/mitra-exporter"

echo "== swift test"
swift test --skip-build --no-parallel

# The other versions side by side (each has its own server), only the PostgreSQL collector tests.
if [ ${#extra_pg_ports[@]} -gt 0 ]; then
  echo "== PostgreSQL collector tests on PostgreSQL ${!extra_pg_ports[*]}"
  declare -A matrix_pids=()
  for version in "${!extra_pg_starts[@]}"; do
    wait "${extra_pg_starts[$version]}" || { echo "PostgreSQL $version did not start:"; cat "$work/start-$version.log"; exit 1; }
  done
  for version in "${!extra_pg_ports[@]}"; do
    (
      eval "$(PG_VERSION=$version scripts/pg-test-cluster.sh env "$work/pg$version" "${extra_pg_ports[$version]}")"
      swift test --skip-build --no-parallel --filter PostgresCollectorsTests
    ) >"$work/matrix-$version.log" 2>&1 &
    matrix_pids[$version]=$!
  done
  matrix_failed=""
  for version in "${!matrix_pids[@]}"; do
    if wait "${matrix_pids[$version]}"; then
      echo "PostgreSQL $version: $(grep -E 'Test run with' "$work/matrix-$version.log" | tail -n 1)"
    else
      echo "PostgreSQL $version: FAILED"; grep -E '✘|error:' "$work/matrix-$version.log" | head -n 40
      matrix_failed=1
    fi
  done
  [ -z "$matrix_failed" ] || exit 1
fi

# Every area's tests, one entry point each (<area>/test.sh): the reliability quick subset
# (`make reliability` runs it in full), rules, dashboards, deployment files, the demo world end to
# end, and the alerts end to end (real Prometheus and Alertmanager with failures injected
# through the demo API).
for area in reliability alerts dashboards deploy demo e2e; do
  args=()
  [ "$area" = reliability ] && args=(--quick)
  echo "== $area/test.sh ${args[*]}"
  bash "$area/test.sh" "${args[@]}"
done
echo "== all tests passed"
