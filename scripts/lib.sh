# shellcheck shell=bash
# Helpers shared by the test, demo, benchmark and reliability scripts. Source it from the
# repository root.

# A TCP port that is free on 127.0.0.1 right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
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

# stop_processes PID...: SIGTERM to all of them, up to 5 s each to exit, then SIGKILL.
stop_processes() {
    local pid
    for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
    for pid in "$@"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
}
