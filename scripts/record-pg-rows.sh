#!/usr/bin/env bash
# Records what PostgreSQL 15, 16 and 18 answer to every statement of the built-in collectors,
# into Tests/PostgresCollectorsTests/Recorded/<version>/rows.json, for the per-version table
# tests (RecordedCollectorTests). Run it again after changing a collector's SQL.
#
#   scripts/record-pg-rows.sh [VERSION...]     (as root; default: 15 16 18; needs `swift build --build-tests`)
#
# Each version gets a throwaway cluster (scripts/pg-test-cluster.sh) with two small tables in
# lic_schema for the tables collector (the same on every version: the 16 build has no
# pgcrypto, which the demo schema needs), stopped and removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(15 16 18)
for version in "${versions[@]}"; do
    dir=$(mktemp -d /tmp/mitra-record-pg$version.XXXXXX); chmod 755 "$dir"
    port=$(free_port)
    trap 'PG_VERSION=$version scripts/pg-test-cluster.sh stop "$dir/pg" "$port" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
    echo "== PostgreSQL $version on 127.0.0.1:$port"
    PG_VERSION=$version scripts/pg-test-cluster.sh start "$dir/pg" "$port"
    eval "$(PG_VERSION=$version scripts/pg-test-cluster.sh env "$dir/pg" "$port")"
    (cd / && runuser -u postgres -- "$MITRA_TEST_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/pg" -p "$port" -U postgres -d mitra_test) <<'SQL'
SET client_min_messages = warning;
CREATE TABLE lic_schema.policies (id int PRIMARY KEY, status text NOT NULL);
CREATE TABLE lic_schema.agents (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO lic_schema.policies SELECT g, CASE WHEN g % 3 = 0 THEN 'lapsed' ELSE 'active' END FROM generate_series(1, 500) g;
INSERT INTO lic_schema.agents SELECT g, 'agent ' || g FROM generate_series(1, 20) g;
ALTER TABLE lic_schema.policies OWNER TO mitra_super;
ALTER TABLE lic_schema.agents OWNER TO mitra_super;
VACUUM ANALYZE lic_schema.policies;
ANALYZE lic_schema.agents;
SQL
    MITRA_RECORD_PG_ROWS="$PWD/Tests/PostgresCollectorsTests/Recorded/$version" \
        swift test --skip-build --no-parallel --filter RecordPostgresRows
    PG_VERSION=$version scripts/pg-test-cluster.sh stop "$dir/pg" "$port" >/dev/null
    rm -rf "$dir"
    trap - EXIT
    echo "wrote Tests/PostgresCollectorsTests/Recorded/$version/rows.json"
done
