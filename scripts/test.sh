#!/usr/bin/env bash
# Runs every test: Swift unit and integration tests (against a throwaway PostgreSQL and
# HTTP servers on loopback), then the alert rule, dashboard and deployment checks.
# Everything it starts is stopped on exit, whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
pg_port=""
# The PostgreSQL collector tests run again against these major versions (PyPI wheels, see
# scripts/pg-wheel.sh); the whole suite runs against Debian's 15. Empty skips the matrix.
extra_pg_versions=${MITRA_TEST_PG_EXTRA_VERSIONS-16 18}
declare -A extra_pg_ports=() extra_pg_starts=()
work=$(mktemp -d /tmp/mitra-test.XXXXXX)
chmod 755 "$work"

cleanup() {
  if [ -x scripts/pg-test-cluster.sh ] && [ -d "$work/pg" ]; then
    scripts/pg-test-cluster.sh stop "$work/pg" "$pg_port" >/dev/null 2>&1 || true
  fi
  local version
  for version in "${!extra_pg_ports[@]}"; do
    PG_VERSION=$version scripts/pg-test-cluster.sh stop "$work/pg$version" "${extra_pg_ports[$version]}" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

if [ -x scripts/pg-test-cluster.sh ]; then
  pg_port=$(free_port)
  echo "== PostgreSQL test cluster on 127.0.0.1:$pg_port"
  scripts/pg-test-cluster.sh start "$work/pg" "$pg_port"
  eval "$(scripts/pg-test-cluster.sh env "$work/pg" "$pg_port")"
  export MITRA_TEST_REQUIRE_PG=1
  # Installed (first time) and started while Swift builds.
  for version in $extra_pg_versions; do
    extra_pg_ports[$version]=$(free_port)
    echo "== PostgreSQL $version test cluster on 127.0.0.1:${extra_pg_ports[$version]} (starting in the background)"
    PG_VERSION=$version scripts/pg-test-cluster.sh start "$work/pg$version" "${extra_pg_ports[$version]}" \
      >"$work/start-$version.log" 2>&1 &
    extra_pg_starts[$version]=$!
  done
fi

echo "== swift build"
swift build --build-tests
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

echo "== reliability/run.sh --quick"
bash reliability/run.sh --quick

# Rules, dashboards, deployment files, the demo world end to end, and the alerts end to end
# (real Prometheus and Alertmanager with failures injected through the demo API).
for check in alerts/test.sh dashboards/test.sh deploy/test.sh demo/test.sh scripts/e2e-test.sh; do
  echo "== $check"
  bash "$check"
done
echo "== all tests passed"
