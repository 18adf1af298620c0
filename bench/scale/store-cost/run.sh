#!/usr/bin/env bash
# What assembling a scrape's samples costs in optimised code, without a release build of the
# whole package: compiles the snapshot store and the renderer with `swiftc -O` beside a small
# driver (main.swift) that publishes HTTP-check-like results (19 families, one a histogram)
# and scrapes, alternately gzip (the changed chunks deflated at level 6) and plain (the body
# copied into one buffer). Prints CPU per scrape and the deflated size.
#
#   bench/scale/store-cost/run.sh                 # this tree
#   BASE=<git rev> bench/scale/store-cost/run.sh  # the same for the store of another revision too
#
# Environment: CHECKS ("1000 5000"), PUBLISHES ("1 40", publishes between two scrapes), BASE.
# A revision before `SampleChunks` existed is timed the old way: the whole body rendered and
# deflated per scrape.
set -euo pipefail
cd "$(dirname "$0")/../../.."
here=bench/scale/store-cost
CHECKS=${CHECKS:-"1000 5000"}
PUBLISHES=${PUBLISHES:-"1 40"}
work=$(mktemp -d /tmp/mitra-store-cost.XXXXXX)
trap 'rm -rf "$work"' EXIT

build() { # NAME REV(empty: the work tree)
    mkdir -p "$work/$1"
    if [ -z "$2" ]; then
        cp Sources/Sampling/SnapshotStore.swift Sources/Sampling/Sampler.swift Sources/Exposition/*.swift "$work/$1/"
    else
        for file in Sources/Sampling/SnapshotStore.swift Sources/Sampling/Sampler.swift $(git ls-tree --name-only "$2" Sources/Exposition/); do
            git show "$2:$file" >"$work/$1/$(basename "$file")"
        done
    fi
    sed -i 's/^public import Exposition$//' "$work/$1"/*.swift
    local flags=()
    grep -q 'struct SampleChunks' "$work/$1/SnapshotStore.swift" && flags=(-D NEW)
    swiftc -O -wmo "${flags[@]}" -I "$here/zlib" "$work/$1"/*.swift "$here/main.swift" -o "$work/$1/bench"
}

build current ""
[ -z "${BASE:-}" ] || build base "$BASE"
for checks in $CHECKS; do
    for publishes in $PUBLISHES; do
        [ -z "${BASE:-}" ] || echo "base:    $("$work/base/bench" "$checks" "$publishes" | tr '\n' ' ')"
        echo "current: $("$work/current/bench" "$checks" "$publishes" | tr '\n' ' ')"
    done
done
