#!/usr/bin/env bash
# Tests for the Grafana dashboards: the JSON is the mixin's rendering, the structure is
# sound (schema version, datasource variable everywhere, unique ids, units, KPI thresholds,
# quantiles over one histogram family, known metric names), and every PromQL expression parses (promtool).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. scripts/lib.sh

need_rule_tools || exit 1
make_work_dir dashboards
TMP=$work

generated_is_current() {
    python3 tools/render_mixin.py --out "$TMP/current" || return 1
    local status=0 file
    for file in "$TMP"/current/dashboards/*.json dashboards/*.json; do
        diff -u "dashboards/$(basename "$file")" "$TMP/current/dashboards/$(basename "$file")" || status=1
    done
    diff -u mixin/generated/dashboards.json "$TMP/current/generated/dashboards.json" || status=1
    [ "$status" -eq 0 ] || echo "dashboards/*.json is not the mixin's rendering: run python3 tools/render_mixin.py"
    return "$status"
}

# A mixin user's targets reach the panels: thresholds, titles and descriptions.
config_is_applied() {
    python3 - <<'PY'
import json, sys
sys.path.insert(0, "tools")
import render_mixin
files = render_mixin.render({"kpis": {"dashboardLatencySeconds": 5}, "slos": {"apiAvailability": 0.995}})
board = json.loads(files["dashboards/agent-mitra-overview.json"])
panels = {panel["title"]: panel for panel in board["panels"]}
problems = []
dashboard = panels.get("Dashboard p95 (target < 5 s)")
if not dashboard:
    problems.append("no panel titled 'Dashboard p95 (target < 5 s)'")
else:
    steps = [step["value"] for step in dashboard["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    if steps[-2:] != [4, 5] or "Target 5 s." not in dashboard["description"]:
        problems.append(f"dashboard p95: thresholds {steps}, description {dashboard['description'][:120]!r}")
availability = panels.get("API availability (1h)")
if not availability or 0.995 not in [s["value"] for s in availability["fieldConfig"]["defaults"]["thresholds"]["steps"]] \
        or "Target 99.5 %." not in availability["description"]:
    problems.append("API availability (1h) does not show the 99.5 % objective")
print("\n".join(problems) or "thresholds, titles and descriptions follow _config")
sys.exit(1 if problems else 0)
PY
}

expressions_parse() {
    python3 dashboards/check_dashboards.py rules "$TMP/expressions.yml"
    promtool check rules "$TMP/expressions.yml"
}

step "generated dashboards are current" generated_is_current
step "_config targets reach thresholds, titles and descriptions" config_is_applied
step "panel checks flag a merged quantile, a missing unit and a missing KPI threshold (self-test)" python3 dashboards/check_dashboards.py self-test
step "dashboard structure (units, KPI thresholds, one histogram family per quantile)" python3 dashboards/check_dashboards.py structure
step "every PromQL expression parses (promtool)" expressions_parse
summary dashboards
