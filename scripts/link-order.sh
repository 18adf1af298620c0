#!/usr/bin/env bash
# Regenerates scripts/link-order.txt, the order in which the release link (the Makefile's
# RELEASE flags, lld's --symbol-ordering-file) lays out the functions the exporter runs.
#
# Why: the kernel maps a binary's code in 64 KiB blocks around each page fault
# ("fault-around"), so what is resident is every 64 KiB block holding at least one function
# the process ran, not the code it ran. Linked in source order, the ~1.7 MB of functions a
# start-up and a few samples run sit in ~220 blocks spread over 17 MB of .text: 12-14 MB
# resident. Laid out together, 4.8 MB (the Swift runtime's prebuilt archives keep one code
# section per file, which moves as a whole). The list only affects layout: a function
# missing from it (new code, a stale list) is linked after the listed ones, as before, and
# a name that no longer exists is ignored.
#
# How: the release binary runs under valgrind's callgrind with one PostgreSQL instance (every
# default collector), one HTTP check and scrapes in both formats (with and without gzip);
# every instruction address it executed in the binary is mapped to the function holding it,
# in the order callgrind reports them. Regenerate after dependency updates or large changes,
# then `make build` (it relinks).
#
#   scripts/link-order.sh [BINARY]   (as root: installs valgrind if missing and starts its own
#                                     PostgreSQL; default binary .build/release/mitra-exporter)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
bin=$(realpath "${1:-.build/release/mitra-exporter}")
[ -x "$bin" ] || { echo "link-order: no $bin (make build first)" >&2; exit 2; }
need_apt valgrind xz-utils binutils

make_work_dir link-order
pg_port=$(free_port); port=$(free_port)
pg_start "$work/pg" "$pg_port" >/dev/null
eval "$(scripts/pg-test-cluster.sh env "$work/pg" "$pg_port")"
cat > "$work/config.yml" <<YAML
defaults: {interval: 3s, timeout: 2s}
postgres:
  - name: order
    dsn: "postgresql://$MITRA_TEST_PG_MONITOR_USER:$MITRA_TEST_PG_MONITOR_PASSWORD@127.0.0.1:$pg_port/$MITRA_TEST_PG_DATABASE"
checks:
  - name: self
    url: http://127.0.0.1:$port/-/healthy
    expect: {status: [200], body_matches: ["(?i)ok"]}
YAML

# The binary's function symbols: its own table, or the compressed copy make build keeps in
# .gnu_debugdata (scripts/minidebuginfo.sh).
symbols=$bin
if ! readelf -S "$bin" | grep -q '\.symtab'; then
    symbols=$work/symbols
    read -r offset size < <(readelf -SW "$bin" | sed 's/^ *\[ *[0-9]*\]//' | awk '$1 == ".gnu_debugdata" {print $4, $5}')
    tail -c +$((0x$offset + 1)) "$bin" | head -c $((0x$size)) | xz -dc > "$symbols"
fi
nm --defined-only --format=posix "$symbols" | awk '$2 ~ /^[tTwW]$/ && NF == 4 {print $1, $3, $4}' > "$work/functions"

valgrind --tool=callgrind --dump-instr=yes --compress-pos=no --compress-strings=no \
    --callgrind-out-file="$work/callgrind.out" \
    "$bin" --config.file "$work/config.yml" --web.listen-address "127.0.0.1:$port" --log.level warn \
    > "$work/exporter.log" 2>&1 &
exporter=$!
track_pid "$exporter" "exporter under callgrind"
until curl -fsS -o /dev/null "http://127.0.0.1:$port/-/ready" 2>/dev/null; do
    kill -0 "$exporter" 2>/dev/null || { grep -v '^==' "$work/exporter.log" | tail -20 >&2; exit 1; }
    sleep 1
done
for _ in $(seq 1 10); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/metrics"
    curl -fsS -o /dev/null -H 'Accept-Encoding: gzip' \
        -H 'Accept: application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=underscores;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1' \
        "http://127.0.0.1:$port/metrics"
    sleep 1
done
stop_processes "$exporter"

python3 - "$work/callgrind.out" "$work/functions" "$bin" > scripts/link-order.txt <<'PY'
import bisect, sys
out, functions, binary = sys.argv[1:]
starts, names = [], []
for line in open(functions):
    name, address, size = line.split()
    starts.append((int(address, 16), int(size, 16), name))
starts.sort()
keys = [s[0] for s in starts]
order, seen, ours = [], set(), False
for line in open(out, errors="replace"):
    if line.startswith("ob="):
        name = line[3:].rstrip("\n")  # "ob=PATH", or "ob=(ID) PATH" with compressed strings
        ours = (name.split(" ", 1)[-1] if name.startswith("(") else name) == binary
    elif ours and line.startswith("0x"):
        address = int(line.split()[0], 16)
        i = bisect.bisect_right(keys, address) - 1
        if i >= 0 and address < starts[i][0] + max(starts[i][1], 1) and starts[i][2] not in seen:
            seen.add(starts[i][2])
            order.append(starts[i][2])
if len(order) < 1000:
    sys.exit(f"link-order: only {len(order)} functions ran; is {binary} the exporter?")
print("\n".join(order))
PY
echo "scripts/link-order.txt: $(wc -l < scripts/link-order.txt) functions"
# SwiftPM does not know that the link reads the list: without the binary, the next
# `make build` relinks (the objects stay).
rm -f .build/release/mitra-exporter
