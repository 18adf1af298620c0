#!/usr/bin/env bash
# SQL time of an incremental `queries:` sample vs the naive "count(*) over the last 5 minutes"
# query that sql_exporter users write, on lic_schema.auth_events at growing sizes, while rows
# keep arriving (INSERT_RATE rows/s). Server-side times come from pg_stat_statements:
#   ours  = all SQL the exporter's incremental collector ran (watermark probe + counting
#           query) divided by its samples;
#   naive = mean execution time of the naive query, run once a second by another user.
#
#   bench/incremental/run.sh
#   SIZES="100000 1000000" MEASURE_SECONDS=10 bench/incremental/run.sh
#
# Environment: SIZES (rows; default "100000 1000000 3000000 10000000"), MEASURE_SECONDS (20),
# INSERT_RATE (200), MITRA_EXPORTER_BIN. Writes bench/results/incremental-<time>.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

SIZES=${SIZES:-"100000 1000000 3000000 10000000"}
MEASURE_SECONDS=${MEASURE_SECONDS:-20}
INSERT_RATE=${INSERT_RATE:-200}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

need_exporter_binary bench/incremental

make_work_dir bench-incr
pids=()
on_exit 'stop_processes "${pids[@]}"'

psql_as() { # USER SQL...
    local user=$1; shift
    runuser -u postgres -- env PGOPTIONS='-c client_min_messages=warning' "$PG_BIN/psql" -X -Atq -v ON_ERROR_STOP=1 \
        -h "$work/pg" -p "$pg_port" -U "$user" -d mitra_test "$@"
}

pg_port=$(free_port)
pg_start "$work/pg" "$pg_port" >/dev/null  # stopped on exit
eval "$(scripts/pg-test-cluster.sh env "$work/pg" "$pg_port")"
psql_as postgres <<'SQL'
CREATE TABLE IF NOT EXISTS lic_schema.auth_events (
  event_id    bigserial PRIMARY KEY,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  user_id     uuid, role_id text, tenant_id uuid,
  outcome     text NOT NULL CHECK (outcome IN ('success','invalid_credentials','locked','mfa_failed','error')),
  client_ip   inet, duration_ms integer);
ALTER TABLE lic_schema.auth_events OWNER TO mitra_super;
GRANT SELECT ON lic_schema.auth_events TO mitra_monitor;
SQL

# Rows for one generate_series value g: 7 roles, outcomes mostly success, 20-900 ms.
row_sql="(ARRAY['role-super-admin','role-provider-admin','role-regional-manager','role-senior-agent','role-junior-agent','role-policyholder','role-support-staff'])[1 + g % 7],
 (ARRAY['success','success','success','success','success','success','invalid_credentials','invalid_credentials','locked','error'])[1 + (g * 7) % 10],
 20 + (g * 37) % 880"

# Live traffic: INSERT_RATE rows/s in 10 batches a second, for as long as the bench runs.
per_batch=$(( (INSERT_RATE + 9) / 10 ))
(
    end=$((SECONDS + 7200))
    while [ $SECONDS -lt $end ]; do
        echo "INSERT INTO lic_schema.auth_events (occurred_at, role_id, outcome, duration_ms) SELECT now(), $row_sql FROM generate_series(1, $per_batch) g;"
        sleep 0.1
    done
) | psql_as mitra_super >/dev/null 2>"$work/inserts.err" &
pids+=($!)

# The naive query, as sql_exporter users write it, once a second as another user.
naive_sql="SELECT role_id, outcome, count(*) FROM lic_schema.auth_events WHERE occurred_at > now() - interval '5 minutes' GROUP BY role_id, outcome;"
(
    end=$((SECONDS + 7200))
    while [ $SECONDS -lt $end ]; do echo "$naive_sql"; sleep 1; done
) | psql_as mitra_super >/dev/null 2>"$work/naive.err" &
pids+=($!)

port=$(free_port)
cat >"$work/exporter.yml" <<YAML
postgres:
  - name: bench
    dsn: "postgresql://mitra_monitor:\${env:BENCH_PG_PASSWORD}@127.0.0.1:$pg_port/mitra_test?sslmode=disable"
    interval: 1s
    timeout: 900ms
    collectors: [database]
    queries:
      - name: login_attempts
        mode: incremental
        key: {table: lic_schema.auth_events, column: event_id}
        min_interval: 1s
        sql: |
          SELECT role_id AS role, outcome, count(*) AS attempts,
                 count(*) FILTER (WHERE duration_ms <= 250) AS le_0_25,
                 count(*) FILTER (WHERE duration_ms <= 500) AS le_0_5,
                 coalesce(sum(duration_ms), 0) / 1000.0 AS duration_sum
          FROM lic_schema.auth_events WHERE event_id > \$1 AND event_id <= \$2
          GROUP BY 1, 2
        metrics:
          - {name: agentmitra_login_attempts_total, type: counter, help: Login attempts., labels: [role, outcome], value: attempts}
          - name: agentmitra_login_duration_seconds
            type: histogram
            help: Login duration.
            labels: [role, outcome]
            buckets: [0.25, 0.5]
            bucket_columns: [le_0_25, le_0_5]
            sum: duration_sum
            count: attempts
YAML
BENCH_PG_PASSWORD="$MITRA_TEST_PG_MONITOR_PASSWORD" "$bin" --config.file "$work/exporter.yml" \
    --web.listen-address "127.0.0.1:$port" >"$work/exporter.log" 2>&1 &
pids+=($!)
for _ in $(seq 60); do curl -fsS -o /dev/null "http://127.0.0.1:$port/-/healthy" 2>/dev/null && break; sleep 0.5; done

attempts_total() {
    curl -fsS "http://127.0.0.1:$port/metrics" | awk '/^agentmitra_login_attempts_total\{/ {s += $2} END {printf "%d", s}'
}

stats_sql="
SELECT coalesce(sum(s.total_exec_time) FILTER (WHERE r.rolname = 'mitra_monitor' AND s.query LIKE '%auth_events%'), 0),
       coalesce(sum(s.calls) FILTER (WHERE r.rolname = 'mitra_monitor' AND s.query LIKE '%pg_current_snapshot%'), 0),
       coalesce(sum(s.calls) FILTER (WHERE r.rolname = 'mitra_monitor' AND s.query LIKE '%event_id > \$1%'), 0),
       coalesce(sum(s.total_exec_time) FILTER (WHERE r.rolname = 'mitra_super' AND s.query LIKE '%occurred_at > now()%'), 0),
       coalesce(sum(s.calls) FILTER (WHERE r.rolname = 'mitra_super' AND s.query LIKE '%occurred_at > now()%'), 0)
FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"

printf '%-12s %-10s %-14s %-14s %-12s %-12s %s\n' rows table_MB ours_ms/sample naive_ms/query ratio counted/s samples
results="[]"
measure() { # LABEL
    psql_as postgres -c "SELECT pg_stat_statements_reset()" >/dev/null
    local before after
    before=$(attempts_total)
    sleep "$MEASURE_SECONDS"
    after=$(attempts_total)
    local stats rows size
    stats=$(psql_as postgres -F ' ' -c "$stats_sql")
    rows=$(psql_as postgres -c "SELECT coalesce(max(event_id), 0) FROM lic_schema.auth_events")
    size=$(psql_as postgres -c "SELECT pg_total_relation_size('lic_schema.auth_events') / 1048576")
    results=$(python3 - "$results" "$1" "$rows" "$size" "$before" "$after" "$MEASURE_SECONDS" $stats <<'PY'
import json, sys
results, label, rows, size, before, after, seconds = sys.argv[1:8]
ours_total, probes, counts, naive_total, naive_calls = (float(x) for x in sys.argv[8:13])
ours = ours_total / probes if probes else float("nan")
naive = naive_total / naive_calls if naive_calls else float("nan")
entry = {"label": label, "rows": int(rows), "table_mb": int(size), "ours_ms_per_sample": round(ours, 3),
         "ours_samples": int(probes), "ours_counting_queries": int(counts),
         "naive_ms_per_query": round(naive, 3), "naive_queries": int(naive_calls),
         "ratio_ours_over_naive": round(ours / naive, 5) if naive else None,
         "counted_rows_per_second": round((int(after) - int(before)) / float(seconds), 1)}
data = json.loads(results)
data.append(entry)
print(json.dumps(data))
print(f"{label:<12} {entry['table_mb']:<10} {ours:<14.3f} {naive:<14.3f} {entry['ratio_ours_over_naive']!s:<12} "
      f"{entry['counted_rows_per_second']:<12} {int(probes)}", file=sys.stderr)
PY
)
}

loaded=0
for size in $SIZES; do
    if [ "$size" -gt "$loaded" ]; then
        # Historic rows, older than the naive query's 5-minute window, in batches of 1M.
        start=$((loaded + 1))
        while [ "$start" -le "$size" ]; do
            stop=$((start + 999999)); [ "$stop" -gt "$size" ] && stop=$size
            psql_as mitra_super -c "INSERT INTO lic_schema.auth_events (occurred_at, role_id, outcome, duration_ms)
                SELECT now() - interval '1 hour' - ($size - g) * interval '10 ms', $row_sql FROM generate_series($start, $stop) g" >/dev/null
            start=$((stop + 1))
        done
        psql_as postgres -c "VACUUM ANALYZE lic_schema.auth_events" >/dev/null
        loaded=$size
        # The exporter counts the bulk-loaded rows as new ones: let it catch up first.
        sleep 5
    fi
    measure "$size"
done

# What an index on occurred_at buys the naive query at the largest size.
psql_as mitra_super -c "CREATE INDEX IF NOT EXISTS auth_events_occurred_at ON lic_schema.auth_events (occurred_at)" >/dev/null
psql_as postgres -c "ANALYZE lic_schema.auth_events" >/dev/null
measure "$loaded+idx"

[ -s "$work/inserts.err" ] && { echo "insert load errors:"; head -5 "$work/inserts.err"; }
mkdir -p bench/results
out="bench/results/incremental-$(date -u +%Y%m%dT%H%M%SZ).json"
python3 - "$results" "$out" "$INSERT_RATE" "$MEASURE_SECONDS" <<'PY'
import json, platform, os, sys
data = {"benchmark": "incremental", "insert_rate_per_second": int(sys.argv[3]), "measure_seconds": int(sys.argv[4]),
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release()}, "stages": json.loads(sys.argv[1])}
json.dump(data, open(sys.argv[2], "w"), indent=2)
PY
echo "wrote $out"
