import Exposition
import ExporterConfig
import PostgresClient

/// `pg_stat_wal` (PostgreSQL 14 and later; the write/sync columns moved to `pg_stat_io` in 18).
struct WALCollector: PostgresCollector {
    let kind = PostgresCollectorKind.wal

    func collect(_ session: CollectorSession, into set: inout MetricSet) async throws(CollectorFailure) {
        guard session.serverVersion >= 140000 else {
            throw .unavailable("pg_stat_wal needs PostgreSQL 14 or later (server is \(session.serverVersion / 10000))")
        }
        var columns: [(column: String, name: String, help: String, scale: Double)] = [
            ("wal_records", "pg_stat_wal_records_total", "WAL records generated.", 1),
            ("wal_fpi", "pg_stat_wal_fpi_total", "WAL full page images generated.", 1),
            ("wal_bytes", "pg_stat_wal_bytes_total", "WAL generated, in bytes.", 1),
            ("wal_buffers_full", "pg_stat_wal_buffers_full_total", "Times WAL data was written to disk because WAL buffers were full.", 1),
        ]
        if session.serverVersion < 180000 {
            columns += [
                ("wal_write", "pg_stat_wal_write_total", "Times WAL buffers were written out to disk.", 1),
                ("wal_sync", "pg_stat_wal_sync_total", "Times WAL files were synced to disk.", 1),
                ("wal_write_time", "pg_stat_wal_write_time_seconds_total", "Time spent writing WAL buffers to disk (needs track_wal_io_timing).", 0.001),
                ("wal_sync_time", "pg_stat_wal_sync_time_seconds_total", "Time spent syncing WAL files to disk (needs track_wal_io_timing).", 0.001),
            ]
        }
        let result = try await session.query(
            "SELECT \(columns.map(\.column).joined(separator: ", ")), extract(epoch FROM stats_reset) AS stats_reset FROM pg_stat_wal")
        guard let row = result.namedRows.first else { return }
        for column in columns {
            let family = set.counter(column.name, column.help)
            set.add(family, [], row.double(column.column).map { $0 * column.scale })
        }
        let family = set.gauge("pg_stat_wal_stats_reset_timestamp_seconds", "When pg_stat_wal was last reset, as a Unix timestamp.")
        set.add(family,
                [], row.double("stats_reset"))
        if !session.isReplica {
            let position = try await session.query("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') AS lsn")
            let family = set.gauge("pg_wal_lsn_bytes", "Current WAL write position, in bytes since 0/0 (rate() gives WAL throughput).")
            set.add(family,
                    [], position.namedRows.first?.double("lsn"))
        }
    }
}
