# shellcheck shell=bash
# need_gojsonnet: the jsonnet evaluator tools/render_mixin.py uses (PyPI gojsonnet, the Go
# implementation's Python binding). Source after tools/testlib.sh.
need_gojsonnet() {
    python3 -c 'import _gojsonnet' 2>/dev/null && return 0
    command -v pip3 >/dev/null 2>&1 || need_apt python3-pip || return 1
    # Debian's system Python refuses plain `pip install` (PEP 668); the wheel only adds a module.
    pip3 install --quiet gojsonnet 2>/dev/null || pip3 install --quiet --break-system-packages gojsonnet || return 1
    python3 -c 'import _gojsonnet'
}
