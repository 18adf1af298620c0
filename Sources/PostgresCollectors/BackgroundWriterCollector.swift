import Exposition
import ExporterConfig
import PostgresClient

/// Background writer and checkpointer activity. PostgreSQL 17 moved the checkpoint columns
/// out of `pg_stat_bgwriter` into `pg_stat_checkpointer`; each is exported under its own
/// view's name.
struct BackgroundWriterCollector: PostgresCollector {
    let kind = PostgresCollectorKind.bgwriter

    private static let bgwriterBefore17: [(column: String, help: String)] = [
        ("checkpoints_timed", "Scheduled checkpoints performed."),
        ("checkpoints_req", "Requested checkpoints performed."),
        ("checkpoint_write_time", "Time spent writing checkpoint files to disk, in milliseconds."),
        ("checkpoint_sync_time", "Time spent synchronizing checkpoint files to disk, in milliseconds."),
        ("buffers_checkpoint", "Buffers written during checkpoints."),
        ("buffers_clean", "Buffers written by the background writer."),
        ("maxwritten_clean", "Times the background writer stopped a cleaning scan for writing too many buffers."),
        ("buffers_backend", "Buffers written directly by a backend."),
        ("buffers_backend_fsync", "Times a backend had to execute its own fsync call."),
        ("buffers_alloc", "Buffers allocated."),
    ]

    private static let bgwriterFrom17: [(column: String, help: String)] = [
        ("buffers_clean", "Buffers written by the background writer."),
        ("maxwritten_clean", "Times the background writer stopped a cleaning scan for writing too many buffers."),
        ("buffers_alloc", "Buffers allocated."),
    ]

    private static let checkpointer: [(column: String, help: String)] = [
        ("num_timed", "Scheduled checkpoints performed."),
        ("num_requested", "Requested checkpoints performed."),
        ("restartpoints_timed", "Scheduled restartpoints performed."),
        ("restartpoints_req", "Requested restartpoints performed."),
        ("restartpoints_done", "Restartpoints completed."),
        ("write_time", "Time spent writing checkpoint files to disk, in milliseconds."),
        ("sync_time", "Time spent synchronizing checkpoint files to disk, in milliseconds."),
        ("buffers_written", "Buffers written during checkpoints and restartpoints."),
    ]

    func collect(_ session: CollectorSession, into set: inout MetricSet) async throws(CollectorFailure) {
        let bgwriterColumns = session.serverVersion >= 170000 ? Self.bgwriterFrom17 : Self.bgwriterBefore17
        let bgwriter = try await session.query(
            "SELECT \(bgwriterColumns.map(\.column).joined(separator: ", ")), extract(epoch FROM stats_reset) AS stats_reset FROM pg_stat_bgwriter")
        if let row = bgwriter.namedRows.first {
            for column in bgwriterColumns {
                let family = set.counter("pg_stat_bgwriter_\(column.column)_total", column.help)
                set.add(family, [], row.double(column.column))
            }
            let family = set.gauge("pg_stat_bgwriter_stats_reset_timestamp_seconds", "When pg_stat_bgwriter was last reset, as a Unix timestamp.")
            set.add(family,
                    [], row.double("stats_reset"))
        }
        guard session.serverVersion >= 170000 else { return }
        let checkpointer = try await session.query(
            "SELECT \(Self.checkpointer.map(\.column).joined(separator: ", ")), extract(epoch FROM stats_reset) AS stats_reset FROM pg_stat_checkpointer")
        if let row = checkpointer.namedRows.first {
            for column in Self.checkpointer {
                let family = set.counter("pg_stat_checkpointer_\(column.column)_total", column.help)
                set.add(family, [], row.double(column.column))
            }
            let family = set.gauge("pg_stat_checkpointer_stats_reset_timestamp_seconds", "When pg_stat_checkpointer was last reset, as a Unix timestamp.")
            set.add(family,
                    [], row.double("stats_reset"))
        }
    }
}
