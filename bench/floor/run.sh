#!/usr/bin/env bash
# The floor: what Debian's libpq and libcurl weigh by themselves, in the smallest C programs
# that do what the exporter does with them. No change to the exporter can go below these.
#
#   1. libpq_client: connects to a throwaway PostgreSQL 15 over TCP 127.0.0.1 with a password
#      (SCRAM) and sslmode=disable, as bench/postgres/run.sh connects both exporters, runs one
#      query and idles; its VmRSS and RssAnon are read SETTLE seconds later, with where its
#      resident pages are (/proc/PID/smaps, grouped by library chain).
#   2. libcurl_client: loads libcurl.so.4 with dlopen and makes TRANSFERS GET requests to a
#      local target through one multi handle, IN_FLIGHT at a time, one easy handle each;
#      memory at start, once loaded, after the transfers and after malloc_trim. Run twice: alone,
#      and linked with libpq as the exporter is (so libpq's libraries are already mapped).
#
#   bench/floor/run.sh                   # 1,000 transfers
#   TRANSFERS=200 bench/floor/run.sh
#
# Environment: TRANSFERS (1000), IN_FLIGHT (100), SETTLE (2). Needs a C compiler (cc, clang or
# gcc; the Swift toolchain's clang will do), pkg-config, libpq-dev, libcurl4-openssl-dev,
# PostgreSQL 15 and python3 (make deps). Run as root (PostgreSQL runs as postgres).
# Writes bench/results/floor-<time>.json. Loopback only; everything stops on exit.
set -euo pipefail

TRANSFERS=${TRANSFERS:-1000}
IN_FLIGHT=${IN_FLIGHT:-100}
SETTLE=${SETTLE:-2}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/bench/floor"
cd "$ROOT"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

# The first C compiler found; Swift's toolchain always ships clang beside swift.
c_compiler() {
    local candidate
    for candidate in cc clang gcc; do
        command -v "$candidate" >/dev/null && { echo "$candidate"; return; }
    done
    if command -v swift >/dev/null; then
        candidate="$(dirname "$(readlink -f "$(command -v swift)")")/clang"
        [ -x "$candidate" ] && { echo "$candidate"; return; }
    fi
    return 1
}
CC_BIN=$(c_compiler) || { echo "bench/floor: no C compiler (cc, clang, gcc or the Swift toolchain's clang)" >&2; exit 2; }
pkg-config --exists libpq libcurl || { echo "bench/floor: libpq-dev and libcurl4-openssl-dev are required (make deps)" >&2; exit 2; }
[ -x "$PG_BIN/psql" ] || { echo "bench/floor: PostgreSQL 15 is required in $PG_BIN (make deps)" >&2; exit 2; }

make_work_dir bench-floor
WORK=$work
PIDS=()
# Single quotes: on_exit evaluates it at exit, with every process started by then.
# shellcheck disable=SC2016
on_exit 'stop_processes "${PIDS[@]}"'

echo "== compiling with $CC_BIN"
read -ra PQ_FLAGS <<<"$(pkg-config --cflags --libs libpq)"
read -ra CURL_CFLAGS <<<"$(pkg-config --cflags libcurl)"
"$CC_BIN" -O2 -Wall -o "$WORK/libpq_client" "$HERE/libpq_client.c" "${PQ_FLAGS[@]}"
# libcurl is not linked (it is loaded with dlopen, as the exporter loads it): headers only.
"$CC_BIN" -O2 -Wall -o "$WORK/libcurl_client" "$HERE/libcurl_client.c" "${CURL_CFLAGS[@]}" -ldl
"$CC_BIN" -O2 -Wall -DWITH_LIBPQ -o "$WORK/libcurl_client_libpq" "$HERE/libcurl_client.c" "${CURL_CFLAGS[@]}" "${PQ_FLAGS[@]}" -ldl

# --- libpq ----------------------------------------------------------------------------------
PG_PORT=$(free_port)
echo "== PostgreSQL 15 on 127.0.0.1:$PG_PORT"
pg_start "$WORK/pg" "$PG_PORT"
psql_super() {
    local run=()
    [ "$(id -un)" = postgres ] || run=(runuser -u postgres --)
    (cd / && "${run[@]}" env PGOPTIONS='-c client_min_messages=warning' "$PG_BIN/psql" -X -Atq -v ON_ERROR_STOP=1 \
        -h "$WORK/pg" -p "$PG_PORT" -U postgres -d mitra_test "$@")
}
# The password is stored as a SCRAM verifier (PostgreSQL 15's default) and host connections
# need it (the cluster's pg_hba), so the client goes through SCRAM as the exporters do.
psql_super -c "CREATE ROLE bench_floor LOGIN PASSWORD 'bench' IN ROLE pg_monitor"
scram=$(psql_super -c "SELECT rolpassword LIKE 'SCRAM-SHA-256\$%' FROM pg_authid WHERE rolname = 'bench_floor'")
[ "$scram" = t ] || { echo "bench/floor: the role's password is not a SCRAM verifier" >&2; exit 1; }

DSN="postgresql://bench_floor:bench@127.0.0.1:$PG_PORT/mitra_test?sslmode=disable"
echo "== libpq_client ($DSN)"
"$WORK/libpq_client" "$DSN" >"$WORK/libpq.out" 2>"$WORK/libpq.err" &
PQ_PID=$!
PIDS+=("$PQ_PID")
for _ in $(seq 100); do
    grep -q '^ready' "$WORK/libpq.out" && break
    kill -0 "$PQ_PID" 2>/dev/null || break
    sleep 0.1
done
grep -q '^ready' "$WORK/libpq.out" || { cat "$WORK/libpq.err" >&2; echo "bench/floor: libpq_client did not connect" >&2; exit 1; }
sed 's/^/    /' "$WORK/libpq.out"
sleep "$SETTLE"
cat "/proc/$PQ_PID/status" >"$WORK/libpq.status"
cat "/proc/$PQ_PID/smaps" >"$WORK/libpq.smaps"
stop_processes "$PQ_PID"

# --- libcurl --------------------------------------------------------------------------------
python3 bench/http/target_server.py "$WORK/target.port" &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$WORK/target.port" ] && break; sleep 0.1; done
[ -s "$WORK/target.port" ] || { echo "bench/floor: the target server did not start" >&2; exit 1; }
URL="http://127.0.0.1:$(cat "$WORK/target.port")/health"
echo "== libcurl_client: $TRANSFERS transfers to $URL, $IN_FLIGHT in flight"
"$WORK/libcurl_client" "$URL" "$TRANSFERS" "$IN_FLIGHT" >"$WORK/libcurl.json"
"$WORK/libcurl_client_libpq" "$URL" "$TRANSFERS" "$IN_FLIGHT" >"$WORK/libcurl-libpq.json"

# --- report ---------------------------------------------------------------------------------
mkdir -p bench/results
# ${Version} is dpkg-query's field, not the shell's.
# shellcheck disable=SC2016
version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }
python3 - "$WORK" "bench/results/floor-$(date -u +%Y%m%dT%H%M%SZ).json" "$("$CC_BIN" --version | head -1)" \
    "$(version libpq5)" "$(version libcurl4)" <<'PY'
import collections, json, os, platform, re, sys
work, out, compiler, libpq_version, libcurl_version = sys.argv[1:6]
mib = lambda kib: kib / 1024

# Library chains by file name without ".so…" and a trailing version (stem()): libpq needs OpenSSL, libldap (which brings GnuTLS and its helpers) and
# libgssapi_krb5 (which brings Kerberos).
GROUPS = {
    "OpenSSL (libcrypto, libssl)": "libcrypto libssl",
    "LDAP chain (libldap, liblber, libsasl2, libgnutls, libp11-kit, libnettle, libhogweed, libgmp, "
    "libtasn1, libunistring, libidn2, libffi)":
        "libldap liblber libsasl2 libgnutls libp11-kit libnettle libhogweed libgmp libtasn1 libunistring libidn2 libffi",
    "Kerberos chain (libkrb5, libgssapi_krb5, libk5crypto, libkrb5support, libkeyutils, libcom_err, libresolv)":
        "libkrb5 libgssapi_krb5 libk5crypto libkrb5support libkeyutils libcom_err libresolv",
    "libpq": "libpq",
    "libc/ld.so": "libc ld-linux-x86-64 ld-linux-aarch64",
}
GROUP_OF = {stem: group for group, stems in GROUPS.items() for stem in stems.split()}
ANON = "heap+anon"

def stem(name):
    """"libgnutls.so.30.34.3" -> libgnutls, "libldap-2.5.so.0" -> libldap, "ld-linux-x86-64.so.2" as is."""
    base = name.split(".so")[0]
    return base if base in GROUP_OF else re.sub(r"-[\d.]+$", "", base)

def group_of(name):
    if name in ("[heap]", "[anon]", "[stack]"):
        return ANON
    return GROUP_OF.get(stem(name), "other")

def smaps(path):
    """Rss and Anonymous KiB by mapping name. A nameless mapping that starts where a file's
    mapping ends is that library's .bss (zero-filled data) and counts as the library."""
    rss, anon = collections.Counter(), collections.Counter()
    name, previous_name, previous_end = None, None, None
    for line in open(path):
        fields = line.split()
        if "-" in fields[0] and not fields[0].endswith(":") and len(fields) >= 5:
            start, end = (int(x, 16) for x in fields[0].split("-"))
            path_field = fields[5] if len(fields) > 5 else None
            if path_field is None and start == previous_end and previous_name and previous_name.startswith("/"):
                path_field = previous_name
            name = os.path.basename(path_field) if path_field and path_field.startswith("/") else (path_field or "[anon]")
            previous_name, previous_end = path_field, end
        elif fields[0] == "Rss:":
            rss[name] += int(fields[1])
        elif fields[0] == "Anonymous:":
            anon[name] += int(fields[1])
    return rss, anon

status = dict(line.split(":", 1) for line in open(f"{work}/libpq.status"))
kib = lambda key: int(status[key].split()[0])
rss, anon = smaps(f"{work}/libpq.smaps")
groups = collections.OrderedDict((g, {"rss_mib": 0.0, "anon_mib": 0.0, "mappings": {}}) for g in [*GROUPS, ANON, "other"])
for name, value in rss.most_common():
    g = groups[group_of(name)]
    g["rss_mib"] += mib(value)
    g["anon_mib"] += mib(anon[name])
    g["mappings"][name] = value
libpq = {"version": libpq_version, "connection": "TCP 127.0.0.1, SCRAM-SHA-256, sslmode=disable",
         "vmrss_mib": mib(kib("VmRSS")), "rssanon_mib": mib(kib("RssAnon")), "rssfile_mib": mib(kib("RssFile")),
         "smaps_rss_mib": mib(sum(rss.values())),
         "breakdown": [{"group": name, **g} for name, g in groups.items()]}

def curl(path):
    run = json.load(open(path))
    for phase in ("start", "loaded", "after", "after_trim"):
        run[phase] = {"vmrss_mib": mib(run[phase]["vmrss_kib"]), "rssanon_mib": mib(run[phase]["rssanon_kib"])}
    for key in ("vmrss_mib", "rssanon_mib"):
        run[f"load_{key}"] = run["loaded"][key] - run["start"][key]
        run[f"transfers_{key}"] = run["after_trim"][key] - run["loaded"][key]
        # What a process pays from before libcurl is loaded to after the transfers, freed heap
        # handed back: the figure beside "VmRSS added by N checks" of the HTTP benchmark.
        run[f"added_{key}"] = run["after_trim"][key] - run["start"][key]
        run[f"added_untrimmed_{key}"] = run["after"][key] - run["start"][key]
    return run
alone, beside = curl(f"{work}/libcurl.json"), curl(f"{work}/libcurl-libpq.json")

print(f"\n{'':72}{'VmRSS MiB':>11}{'RssAnon MiB':>13}")
print(f"{'libpq client, idle (' + libpq['connection'] + ')':72}{libpq['vmrss_mib']:>11.1f}{libpq['rssanon_mib']:>13.1f}")
for name, g in groups.items():
    short = name.split(" (")[0]
    top = ", ".join(f"{stem(m)} {mib(v):.1f}" for m, v in list(g["mappings"].items())[:3])
    print(f"  {short:16}{top[:54]:54}{g['rss_mib']:>11.1f}{g['anon_mib']:>13.1f}")
for title, run in ((f"libcurl alone, {alone['transfers']:,} transfers ({alone['in_flight']} in flight)", alone),
                   ("libcurl beside libpq (linked, as in the exporter), the same", beside)):
    print(title)
    for label, phase in (("at start", "start"), ("libcurl loaded and initialised", "loaded"),
                         ("after the transfers", "after"), ("after malloc_trim", "after_trim")):
        print(f"  {label:70}{run[phase]['vmrss_mib']:>11.1f}{run[phase]['rssanon_mib']:>13.1f}")
    print(f"  {'added: loading libcurl':70}{run['load_vmrss_mib']:>11.1f}{run['load_rssanon_mib']:>13.1f}")
    print(f"  {'added: loading it and the transfers (after malloc_trim)':70}{run['added_vmrss_mib']:>11.1f}{run['added_rssanon_mib']:>13.1f}")
print(f"{alone['curl']}; libpq5 {libpq_version}; {compiler}")
json.dump({"benchmark": "floor", "compiler": compiler, "machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
           "libpq": libpq, "libcurl": {"version": libcurl_version, "alone": alone, "beside_libpq": beside}},
          open(out, "w"), indent=2)
print(f"wrote {out}")
PY
