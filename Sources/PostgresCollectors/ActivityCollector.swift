import Exposition
import ExporterConfig
import PostgresClient

/// Client connections by database, state and wait event type, the oldest open transaction
/// and running query per database, and `max_connections`. The exporter's own session is
/// left out so the figures describe the application alone.
///
/// Like postgres_exporter, every database that accepts connections has a
/// `pg_stat_activity_count` series for every state, 0 when no session is in it (with
/// `wait_event_type=""`), so a quiet database still has series and `sum()` never comes out empty.
struct ActivityCollector: PostgresCollector {
    let kind = PostgresCollectorKind.activity
    /// False when the settings collector runs: it exports `pg_settings_max_connections` then.
    var includeMaxConnections = true

    /// The values of pg_stat_activity.state.
    static let states = ["active", "idle", "idle in transaction", "idle in transaction (aborted)", "fastpath function call", "disabled"]

    func collect(_ session: CollectorSession, into set: inout MetricSet) async throws(CollectorFailure) {
        let counts = try await session.query("""
            SELECT datname, state, wait_event_type, sum(count) AS count
            FROM (
                SELECT coalesce(datname, '') AS datname, coalesce(state, '') AS state,
                       coalesce(wait_event_type, '') AS wait_event_type, count(*) AS count
                FROM pg_stat_activity
                WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
                GROUP BY 1, 2, 3
                UNION ALL
                SELECT d.datname, s.state, '', 0
                FROM pg_database d CROSS JOIN unnest($1::text[]) AS s(state)
                WHERE d.datallowconn
            ) c
            GROUP BY 1, 2, 3
            ORDER BY 1, 2, 3
            """, [Self.states.postgresArrayLiteral])
        let durations = try await session.query("""
            SELECT d.datname,
                   coalesce(max(extract(epoch FROM clock_timestamp() - a.xact_start)), 0) AS max_tx,
                   coalesce(max(extract(epoch FROM clock_timestamp() - a.query_start)) FILTER (WHERE a.state = 'active'), 0) AS max_query,
                   current_setting('max_connections') AS max_connections
            FROM pg_database d
            LEFT JOIN pg_stat_activity a
                   ON a.datname = d.datname AND a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
            WHERE d.datallowconn
            GROUP BY d.datname
            ORDER BY d.datname
            """)
        if includeMaxConnections {
            let maxConnections = set.gauge("pg_settings_max_connections", "The max_connections setting: most concurrent connections the server accepts.")
            set.add(maxConnections, [], durations.namedRows.first?.double("max_connections"))
            set.nextEntity()
        }

        let count = set.gauge("pg_stat_activity_count", "Client connections by database, state and wait event type (the exporter's own excluded).")
        for row in counts.namedRows {
            set.add(count, [Label("datname", row.string("datname")), Label("state", row.string("state")),
                            Label("wait_event_type", row.string("wait_event_type"))], row.double("count"))
        }
        set.nextEntity()

        let maxTransaction = set.gauge("pg_stat_activity_max_tx_duration", "Age of the oldest open transaction in this database, in seconds (0 when none).")
        let maxQuery = set.gauge("pg_stat_activity_max_query_duration_seconds", "Age of the longest-running active query in this database, in seconds (0 when none).")
        for row in durations.namedRows {
            let labels = [Label("datname", row.string("datname"))]
            set.add(maxTransaction, labels, row.double("max_tx"))
            set.add(maxQuery, labels, row.double("max_query"))
            set.nextEntity()
        }
    }
}
