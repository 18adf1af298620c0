#!/usr/bin/env bash
# Tests for the Prometheus rules: generated files are current, promtool accepts them, the
# unit tests pass, every alert is tested both ways and has a runbook section.
# Run from anywhere; needs promtool (Debian: prometheus) and python3 with PyYAML.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. scripts/lib.sh

need_python_yaml || exit 1
command -v promtool >/dev/null || need_apt prometheus || exit 1

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

generated_is_current() {
    python3 tools/gen_alerts.py --out "$TMP/current"
    diff -ru alerts/rules "$TMP/current" || {
        echo "alerts/rules is not the generator's output: run python3 tools/gen_alerts.py"
        return 1
    }
}

test_overlay_is_valid() {
    python3 tools/gen_alerts.py --out "$TMP/overlay" --max-for 10s --for-divisor 30 --window-divisor 60
    promtool check rules "$TMP"/overlay/*.yml
    # The overlay changes nothing but `for:`, `keep_firing_for:` and range windows ...
    local file
    for file in slo.rules.yml alerts.rules.yml; do
        diff <(grep -Ev '^    (keep_firing_)?for:' "alerts/rules/$file" | sed -E 's/\[[0-9]+[smhd]\]/[W]/g') \
             <(grep -Ev '^    (keep_firing_)?for:' "$TMP/overlay/$file" | sed -E 's/\[[0-9]+[smhd]\]/[W]/g') || return 1
    done
    ! grep -E '^    for: ([2-9][0-9]s|1[1-9]s|[0-9]+[mhd])' "$TMP"/overlay/*.yml || return 1
    # ... `for:` keeps its order (a 1m cause before a 5m symptom), the hold shrinks with the
    # windows (30m -> 30s) ...
    [ "$(awk '/alert: MitraServiceDown/{f=1} f&&/for:/{print $2; exit}' "$TMP/overlay/alerts.rules.yml")" = 2s ] &&
        [ "$(awk '/alert: MitraEndpointDown/{f=1} f&&/for:/{print $2; exit}' "$TMP/overlay/alerts.rules.yml")" = 10s ] &&
        grep -q '^    keep_firing_for: 30s' "$TMP/overlay/alerts.rules.yml" || return 1
    # ... and the windows are divided: 1h becomes 60s, 3d 4320s.
    grep -q 'rate(mitra_probe_runs_total{check!=""}\[60s\])' "$TMP/overlay/slo.rules.yml" &&
        grep -q '\[4320s\]' "$TMP/overlay/slo.rules.yml"
}

step "generated rules are current" generated_is_current
step "promtool check rules" promtool check rules alerts/rules/slo.rules.yml alerts/rules/alerts.rules.yml
for file in alerts/tests/*.test.yml; do
    step "promtool test rules $(basename "$file")" promtool test rules "$file"
done
step "le/quantile literal check flags the Prometheus 2 form (its self-test)" python3 tools/check_label_floats.py --self-test
step "every alert fires and stays silent in a test; runbook sections" python3 alerts/check_coverage.py
step "test overlay (--max-for, --for-divisor, --window-divisor) is valid and changes only for:, holds and windows" test_overlay_is_valid
summary alerts
