#!/usr/bin/env bash
# Tests for the Grafana dashboards: the JSON is the generator's output, the structure is
# sound (schema version, datasource variable everywhere, unique ids, units, KPI thresholds,
# known metric names), and every PromQL expression parses (promtool).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. scripts/lib.sh

need_python_yaml || exit 1
command -v promtool >/dev/null || need_apt prometheus || exit 1

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

generated_is_current() {
    python3 tools/gen_dashboards.py --out "$TMP/current"
    local status=0 file
    for file in "$TMP"/current/*.json dashboards/*.json; do
        diff -u "dashboards/$(basename "$file")" "$TMP/current/$(basename "$file")" || status=1
    done
    [ "$status" -eq 0 ] || echo "dashboards/*.json is not the generator's output: run python3 tools/gen_dashboards.py"
    return "$status"
}

expressions_parse() {
    python3 dashboards/check_dashboards.py rules "$TMP/expressions.yml"
    promtool check rules "$TMP/expressions.yml"
}

step "generated dashboards are current" generated_is_current
step "dashboard structure" python3 dashboards/check_dashboards.py structure
step "every PromQL expression parses (promtool)" expressions_parse
summary dashboards
