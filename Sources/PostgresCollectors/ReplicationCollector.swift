import Exposition
import ExporterConfig
import PostgresClient

/// Replication lag: on a replica, how far replay is behind (seconds and bytes); on a
/// primary, per standby from `pg_stat_replication`.
struct ReplicationCollector: PostgresCollector {
    let kind = PostgresCollectorKind.replication

    func collect(_ session: CollectorSession, into set: inout MetricSet) async throws(CollectorFailure) {
        let local = try await session.query("""
            SELECT pg_is_in_recovery() AS is_replica,
                   CASE WHEN NOT pg_is_in_recovery() THEN 0
                        WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                        ELSE greatest(0, extract(epoch FROM now() - pg_last_xact_replay_timestamp())) END AS lag_seconds,
                   CASE WHEN pg_is_in_recovery() THEN greatest(0, pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()))
                        ELSE 0 END AS lag_bytes
            """)
        let standbys = try await session.query("""
            SELECT coalesce(application_name, '') AS application_name, coalesce(client_addr::text, '') AS client_addr,
                   coalesce(state, '') AS state,
                   CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) END AS lag_bytes,
                   extract(epoch FROM write_lag) AS write_lag, extract(epoch FROM flush_lag) AS flush_lag,
                   extract(epoch FROM replay_lag) AS replay_lag
            FROM pg_stat_replication
            ORDER BY application_name, client_addr
            """)
        let isReplica = set.gauge("pg_replication_is_replica", "1 when this server is a replica (in recovery), 0 on a primary.")
        let lagSeconds = set.gauge("pg_replication_lag_seconds", "On a replica, seconds since the last replayed transaction while replay is behind (0 when caught up or on a primary).")
        let lagBytes = set.gauge("pg_replication_lag_bytes", "On a replica, WAL received but not yet replayed, in bytes (0 on a primary).")
        if let row = local.namedRows.first {
            set.add(isReplica, [], row.double("is_replica"))
            set.add(lagSeconds, [], row.double("lag_seconds"))
            set.add(lagBytes, [], row.double("lag_bytes"))
        }
        set.nextEntity()
        let standbyBytes = set.gauge("pg_stat_replication_lag_bytes", "WAL written on this primary but not yet replayed by the standby, in bytes.")
        let write = set.gauge("pg_stat_replication_write_lag_seconds", "Standby's write lag as reported by pg_stat_replication.")
        let flush = set.gauge("pg_stat_replication_flush_lag_seconds", "Standby's flush lag as reported by pg_stat_replication.")
        let replay = set.gauge("pg_stat_replication_replay_lag_seconds", "Standby's replay lag as reported by pg_stat_replication.")
        for row in standbys.namedRows {
            let labels = [Label("application_name", row.string("application_name")),
                          Label("client_addr", row.string("client_addr")), Label("state", row.string("state"))]
            set.add(standbyBytes, labels, row.double("lag_bytes"))
            set.add(write, labels, row.double("write_lag"))
            set.add(flush, labels, row.double("flush_lag"))
            set.add(replay, labels, row.double("replay_lag"))
            set.nextEntity()
        }
    }
}
