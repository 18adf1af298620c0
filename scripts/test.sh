#!/usr/bin/env bash
# Runs every test: Swift unit and integration tests (against a throwaway PostgreSQL and
# HTTP servers on loopback), then the alert rule, dashboard and deployment checks.
# Everything it starts is stopped on exit, whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
pg_port=""
work=$(mktemp -d /tmp/mitra-test.XXXXXX)
chmod 755 "$work"

cleanup() {
  if [ -x scripts/pg-test-cluster.sh ] && [ -d "$work/pg" ]; then
    scripts/pg-test-cluster.sh stop "$work/pg" "$pg_port" >/dev/null 2>&1 || true
  fi
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
fi

echo "== swift build"
swift build --build-tests
export MITRA_EXPORTER_BIN="$root/.build/debug/mitra-exporter"

echo "== swift test"
swift test --skip-build --no-parallel

echo "== reliability/run.sh --quick"
bash reliability/run.sh --quick

# Rules, dashboards, deployment files, the demo world end to end, and the alerts end to end
# (real Prometheus and Alertmanager with failures injected through the demo API).
for check in alerts/test.sh dashboards/test.sh deploy/test.sh demo/test.sh scripts/e2e-test.sh; do
  echo "== $check"
  bash "$check"
done
echo "== all tests passed"
