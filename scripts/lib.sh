# shellcheck shell=bash
# The one helper library of the test, demo, benchmark and reliability scripts. Source it from
# the repository root (`. scripts/lib.sh`); it defines functions and changes nothing else but
# PYTHONDONTWRITEBYTECODE.
#
#   Clean exit      make_work_dir, on_exit, track_pid, pg_start, pg_stop_on_exit
#   Processes       free_port, stop_processes, wait_for_url, exporter_binary, need_exporter_binary
#   Dependencies    need_apt, need_python_yaml
#   Reporting       step, summary (the "ok   name" / "FAIL name" lines and "N passed, N failed")
#
# Everything registered with on_exit (and through make_work_dir, track_pid, pg_start) runs when
# the script exits, whatever the outcome, newest first: a process stops before the database it
# uses, the work directory goes last. SIGINT and SIGTERM exit with status 130 through the same path.

# Generators and helpers import each other; keep the tree free of bytecode caches.
export PYTHONDONTWRITEBYTECODE=1

# --- clean exit -------------------------------------------------------------------------------

_lib_exit_actions=()
_lib_exit_owner=""
declare -gA _lib_pid_names=()

# on_exit COMMAND: evaluates COMMAND (a string, so it sees the variables as they are at exit)
# when the script exits. A failing action does not stop the others. In a subshell (a `step`),
# the actions are the subshell's own and run when it ends: it does not inherit the script's
# trap, and must not run the script's actions.
on_exit() {
    if [ "$_lib_exit_owner" != "$BASHPID" ]; then
        _lib_exit_owner=$BASHPID
        _lib_exit_actions=()
        trap _lib_run_exit_actions EXIT
        trap 'exit 130' INT TERM
    fi
    _lib_exit_actions+=("$1")
}

_lib_run_exit_actions() {
    local status=$? i
    trap - EXIT INT TERM
    for ((i = ${#_lib_exit_actions[@]} - 1; i >= 0; i--)); do
        eval "${_lib_exit_actions[$i]}" || true
    done
    exit "$status"
}

# make_work_dir NAME [KEEP]: a fresh /tmp/mitra-NAME.XXXXXX in $work, readable by the postgres
# user (test clusters live in it), removed on exit unless KEEP is 1.
make_work_dir() {
    work=$(mktemp -d "/tmp/mitra-$1.XXXXXX")
    chmod 755 "$work"
    if [ "${2:-0}" = 1 ]; then
        on_exit "echo \"kept $work\" >&2"
    else
        on_exit "rm -rf '$work'"
    fi
}

# track_pid PID [NAME]: PID is stopped on exit (stop_processes); NAME appears in the warning
# when it has to be killed.
track_pid() {
    [ -n "${2:-}" ] && _lib_pid_names[$1]=$2
    on_exit "stop_processes $1"
}

# pg_stop_on_exit DIR PORT: the test cluster in DIR (scripts/pg-test-cluster.sh, of the
# PG_VERSION set now) is stopped on exit; stopping one that is not running does nothing.
pg_stop_on_exit() {
    on_exit "PG_VERSION='${PG_VERSION:-}' scripts/pg-test-cluster.sh stop '$1' '$2' >/dev/null 2>&1"
}

# pg_start DIR PORT: starts a throwaway cluster in DIR on PORT and stops it on exit. Print its
# connection settings with `scripts/pg-test-cluster.sh env DIR PORT`.
pg_start() {
    pg_stop_on_exit "$1" "$2"
    scripts/pg-test-cluster.sh start "$1" "$2"
}

# --- processes --------------------------------------------------------------------------------

# A TCP port that is free on 127.0.0.1 right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# stop_processes PID...: SIGTERM to all of them, up to 5 s each to exit, then SIGKILL (with a
# warning: a process that ignores SIGTERM is worth knowing about). Reaps our own children.
stop_processes() {
    local pid
    for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "$@"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "${_lib_pid_names[$pid]:-pid} $pid ignored SIGTERM for 5 s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
}

# wait_for_url URL SECONDS: polls URL until it answers 2xx; fails after SECONDS.
wait_for_url() {
    local url=$1 deadline=$((SECONDS + $2))
    until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

# The exporter to test: $MITRA_EXPORTER_BIN, else the release build, else the debug build
# (as an absolute path); prints nothing when none exists.
exporter_binary() {
    if [ -n "${MITRA_EXPORTER_BIN:-}" ]; then
        echo "$MITRA_EXPORTER_BIN"
        return
    fi
    local candidate
    for candidate in .build/release/mitra-exporter .build/debug/mitra-exporter; do
        if [ -x "$candidate" ]; then
            echo "$(pwd)/$candidate"
            return
        fi
    done
}

# need_exporter_binary AREA: $bin is exporter_binary's answer, or the script exits 2 saying
# how to get one.
need_exporter_binary() {
    bin=$(exporter_binary)
    [ -n "$bin" ] && [ -x "$bin" ] || { echo "$1: no exporter binary (make build, or set MITRA_EXPORTER_BIN)" >&2; exit 2; }
}

# --- dependencies -----------------------------------------------------------------------------

# need_apt PACKAGE...: Debian packages, installed only when missing (needs root, as on CI).
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

# The jsonnet evaluator tools/render_mixin.py uses (PyPI gojsonnet, the Go implementation's
# Python binding), pinned so every machine renders the mixin the same way.
GOJSONNET_VERSION=0.22.0
need_gojsonnet() {
    python3 -c 'import _gojsonnet' 2>/dev/null && return 0
    command -v pip3 >/dev/null 2>&1 || need_apt python3-pip || return 1
    # Debian's system Python refuses plain `pip install` (PEP 668); the wheel only adds a module.
    pip3 install --quiet "gojsonnet==$GOJSONNET_VERSION" 2>/dev/null ||
        pip3 install --quiet --break-system-packages "gojsonnet==$GOJSONNET_VERSION" || return 1
    python3 -c 'import _gojsonnet'
}

# What the rule and dashboard checks run: PyYAML, gojsonnet (to render the mixin) and promtool.
need_rule_tools() {
    need_python_yaml || return 1
    need_gojsonnet || return 1
    command -v promtool >/dev/null || need_apt prometheus
}

# --- reporting --------------------------------------------------------------------------------

PASSED=0
FAILED=0
FAILED_NAMES=()

# step NAME COMMAND...: runs COMMAND in a subshell, prints "ok   NAME" or "FAIL NAME" and the
# last 60 lines of its output.
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

# summary AREA: "AREA: N passed, N failed"; fails when any step failed.
summary() {
    echo "$1: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}
