#!/usr/bin/env bash
# `make demo`: the Agent Mitra demo world (PostgreSQL with lic_schema demo data, the demo API,
# steady background traffic) and the exporter on examples/agentmitra.yml, all on 127.0.0.1.
# Prints where to look; Ctrl-C (or SIGTERM) stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dir=${MITRA_DEMO_DIR:-/tmp/mitra-demo}
port=${MITRA_DEMO_PORT:-9741}
exporter=${MITRA_EXPORTER_BIN:-$root/.build/release/mitra-exporter}
export AGENTMITRA_DEMO_API_BIN=${AGENTMITRA_DEMO_API_BIN:-$root/.build/release/agentmitra-demo-api}
[ -x "$exporter" ] && [ -x "$AGENTMITRA_DEMO_API_BIN" ] || { echo "demo: run 'make demo' (it builds the binaries first)" >&2; exit 1; }

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
on_exit 'echo; echo "demo: stopping"; bash scripts/demo-world.sh stop "$dir"'
# Ctrl-C is how a demo ends, not a failure.
trap 'exit 0' INT TERM

bash scripts/demo-world.sh start "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/demo.env"
"$exporter" --config.file examples/agentmitra.yml --web.listen-address "127.0.0.1:$port" 2>"$dir/exporter.log" &
exporter_pid=$!
track_pid "$exporter_pid" exporter

for _ in $(seq 1 300); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/-/ready" && break
    kill -0 "$exporter_pid" 2>/dev/null || { cat "$dir/exporter.log" >&2; exit 1; }
    sleep 0.2
done

cat <<INFO

  mitra-exporter demo is running.

  Status page      http://127.0.0.1:$port/
  Metrics          http://127.0.0.1:$port/metrics
  Demo API         http://127.0.0.1:${AGENTMITRA_DEMO_API_PORT:-8000}/health
  Exporter log     $dir/exporter.log
  Configuration    examples/agentmitra.yml

  Inject failures, e.g. junior agents cannot log in:
    scripts/demo-world.sh switch $dir '{"login_disabled_roles":["role-junior-agent"]}'
    scripts/demo-world.sh switch $dir clear

  Ctrl-C stops everything.
INFO
wait "$exporter_pid"
