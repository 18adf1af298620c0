# shellcheck shell=bash
# Shared helpers for alerts/test.sh, dashboards/test.sh and deploy/test.sh.
# Each step runs in a subshell; the summary line is the plain "N passed, N failed" form.

# Generators import each other; keep the tree free of bytecode caches.
export PYTHONDONTWRITEBYTECODE=1

PASSED=0
FAILED=0
FAILED_NAMES=()

step() {
    local name="$1"; shift
    local log
    log="$(mktemp)"
    if ( "$@" ) >"$log" 2>&1; then
        PASSED=$((PASSED + 1))
        echo "ok   $name"
    else
        FAILED=$((FAILED + 1))
        FAILED_NAMES+=("$name")
        echo "FAIL $name"
        sed 's/^/     /' "$log" | tail -n 60
    fi
    rm -f "$log"
}

summary() {
    echo "$1: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}

# Debian packages the checks need, installed only when missing (needs root, as on CI).
need_apt() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    echo "installing ${missing[*]}" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "need root to install ${missing[*]}" >&2
        return 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || {
        apt-get update -qq >/dev/null 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    }
}

# python3 with PyYAML: Debian's python3-yaml unless the python3 on PATH already has it.
need_python_yaml() {
    if command -v python3 >/dev/null 2>&1 && python3 -c 'import yaml' 2>/dev/null; then
        return 0
    fi
    need_apt python3 python3-yaml
}
