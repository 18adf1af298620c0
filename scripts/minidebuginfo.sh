#!/usr/bin/env bash
# Shrinks a release binary without losing its backtraces: the full symbol table (about 15 MB
# of long Swift names) is replaced by an xz-compressed copy of its function symbols in a
# `.gnu_debugdata` section ("MiniDebugInfo", as Fedora ships its binaries). The Swift
# runtime's backtracer, gdb and systemd-coredump read that section, so crash backtraces
# still name every function. Idempotent: a binary that already has the section is left
# alone (SwiftPM relinks it when anything changes; `make build` runs this after every link).
# Usage: scripts/minidebuginfo.sh BINARY
set -euo pipefail
binary=${1:?usage: scripts/minidebuginfo.sh BINARY}
[ -f "$binary" ] || { echo "minidebuginfo: $binary: no such file" >&2; exit 1; }
if readelf -S "$binary" | grep -q '\.gnu_debugdata'; then
    exit 0
fi
work=$(mktemp -d /tmp/minidebuginfo.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Function symbols (what a backtrace names), minus those the dynamic symbol table keeps anyway.
nm -D --defined-only --format=posix "$binary" | awk '{print $1}' | sort -u > "$work/dynamic"
nm --defined-only --format=posix "$binary" | awk '$2 == "T" || $2 == "t" || $2 == "W" {print $1}' | sort -u > "$work/functions"
comm -13 "$work/dynamic" "$work/functions" > "$work/keep"
objcopy --only-keep-debug "$binary" "$work/debug"
objcopy --strip-debug --remove-section .gdb_index --remove-section .comment --keep-symbols="$work/keep" "$work/debug" "$work/mini"
xz --threads=0 -9 "$work/mini"
before=$(stat -c %s "$binary")
objcopy --strip-all --remove-section .comment --add-section .gnu_debugdata="$work/mini.xz" "$binary" "$binary.minidebuginfo"
# A new file renamed over the old one: a running copy keeps its own (writing it in place
# would fail with "text file busy").
mv -f "$binary.minidebuginfo" "$binary"
echo "minidebuginfo: $binary $((before / 1000000)) MB -> $(( $(stat -c %s "$binary") / 1000000 )) MB ($(( $(stat -c %s "$work/mini.xz") / 1000 )) kB of compressed function symbols)"
