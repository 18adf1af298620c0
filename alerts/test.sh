#!/usr/bin/env bash
# Tests for the Prometheus rules: the rules rendered from the mixin are current, every
# expression carries the mixin's selector, promtool accepts them, the unit tests pass, every
# alert is tested both ways and has a runbook section.
# Run from anywhere; needs promtool (Debian: prometheus), python3 with PyYAML and gojsonnet
# (installed from PyPI when missing).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. scripts/lib.sh

need_rule_tools || exit 1
make_work_dir alerts
TMP=$work

generated_is_current() {
    python3 tools/render_mixin.py --out "$TMP/current" || return 1
    local status=0
    diff -ru mixin/generated "$TMP/current/generated" || status=1
    diff -ru alerts/rules "$TMP/current/rules" || status=1
    [ "$status" -eq 0 ] || echo "mixin/generated or alerts/rules is not the mixin's rendering: run python3 tools/render_mixin.py"
    return "$status"
}

test_overlay_is_valid() {
    python3 tools/render_mixin.py --out "$TMP/overlay" --max-for 10s --for-divisor 30 --window-divisor 60 || return 1
    promtool check rules "$TMP"/overlay/rules/*.yml
    # The overlay changes nothing but `for:`, `keep_firing_for:` and range windows ...
    local file
    for file in slo.rules.yml alerts.rules.yml; do
        diff <(grep -Ev '^    (keep_firing_)?for:' "alerts/rules/$file" | sed -E 's/\[[0-9]+[smhd]\]/[W]/g') \
             <(grep -Ev '^    (keep_firing_)?for:' "$TMP/overlay/rules/$file" | sed -E 's/\[[0-9]+[smhd]\]/[W]/g') || return 1
    done
    ! grep -E '^    for: ([2-9][0-9]s|1[1-9]s|[0-9]+[mhd])' "$TMP"/overlay/rules/*.yml || return 1
    # ... `for:` keeps its order (a 1m cause before a 5m symptom), the hold shrinks with the
    # windows (30m -> 30s) ...
    [ "$(awk '/alert: MitraServiceDown/{f=1} f&&/for:/{print $2; exit}' "$TMP/overlay/rules/alerts.rules.yml")" = 2s ] &&
        [ "$(awk '/alert: MitraEndpointDown/{f=1} f&&/for:/{print $2; exit}' "$TMP/overlay/rules/alerts.rules.yml")" = 10s ] &&
        grep -q '^    keep_firing_for: 30s' "$TMP/overlay/rules/alerts.rules.yml" || return 1
    # ... and the windows are divided: 1h becomes 60s, 3d 4320s.
    grep -q 'rate(mitra_probe_runs_total{job="mitra-exporter",check!=""}\[60s\])' "$TMP/overlay/rules/slo.rules.yml" &&
        grep -q '\[4320s\]' "$TMP/overlay/rules/slo.rules.yml"
}

# A mixin user's settings reach the rules: another selector, runbook base and objective.
config_is_applied() {
    python3 - <<'PY'
import sys
sys.path.insert(0, "tools")
import render_mixin, yaml
files = render_mixin.render({"selector": 'job="other"', "runbookBase": "https://runbooks.example/mitra.md",
                             "severities": {"critical": "P1", "warning": "P3", "info": "P5", "inhibit": "none"},
                             "slos": {"apiAvailability": 0.999}})
rules = [rule for path in ("rules/slo.rules.yml", "rules/alerts.rules.yml")
         for group in yaml.safe_load(files[path])["groups"] for rule in group["rules"]]
alerts = [rule for rule in rules if "alert" in rule]
problems = [rule["alert"] for rule in alerts
            if not rule["annotations"]["runbook_url"].startswith("https://runbooks.example/mitra.md#mitra")
            or rule["labels"]["severity"] not in ("P1", "P3", "P5", "none")]
burn = [rule for rule in alerts if rule["alert"] == "MitraAPIAvailabilityErrorBudgetBurn"]
# 14.4 x (1 - 0.999) = 0.0144 for the fastest burn.
if not burn or "> 0.0144\n" not in burn[0]["expr"] or burn[0]["labels"]["severity"] != "P1":
    problems.append("the objective 0.999 does not give the burn threshold 0.0144")
print("\n".join(problems) or f"{len(alerts)} alerts follow _config")
sys.exit(1 if problems else 0)
PY
}

step "rules rendered from the mixin are current" generated_is_current
step "selector check flags selectors without the mixin's selector (its self-test)" python3 tools/check_selectors.py --self-test
step "every rule and panel expression carries a different selector when rendered with it" python3 tools/check_selectors.py
step "_config (selector, runbook base, severities, objectives) reaches the rules" config_is_applied
step "promtool check rules" promtool check rules alerts/rules/slo.rules.yml alerts/rules/alerts.rules.yml
for file in alerts/tests/*.test.yml; do
    step "promtool test rules $(basename "$file")" promtool test rules "$file"
done
step "le/quantile literal check flags the Prometheus 2 form (its self-test)" python3 tools/check_label_floats.py --self-test
step "every alert fires and stays silent in a test; runbook sections" python3 alerts/check_coverage.py
step "test overlay (--max-for, --for-divisor, --window-divisor) is valid and changes only for:, holds and windows" test_overlay_is_valid
summary alerts
