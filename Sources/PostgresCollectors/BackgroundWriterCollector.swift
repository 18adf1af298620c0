import Exposition
import ExporterConfig
import PostgresClient

/// Background writer and checkpointer activity.
///
/// PostgreSQL 17 moved the checkpoint columns out of `pg_stat_bgwriter` into
/// `pg_stat_checkpointer` (and renamed them). A checkpoint figure keeps one name whatever the
/// server version: the `pg_stat_bgwriter_*` name of 13–16, which postgres_exporter and the
/// shipped dashboards use, so a panel or alert works on 15 and 18 alike. Only what has no
/// counterpart before 17 (restartpoints, the view's reset time) is named after
/// `pg_stat_checkpointer`.
struct BackgroundWriterCollector: PostgresCollector {
    let kind = PostgresCollectorKind.bgwriter

    private struct Column {
        var name: String
        /// The column in `pg_stat_bgwriter` before 17.
        var before17: String
        /// Where it is from 17 on: a `pg_stat_bgwriter` or a `pg_stat_checkpointer` column,
        /// or nil when 17 dropped it (its data is in `pg_stat_io`).
        var from17: Source?
        var help: String
    }

    private enum Source {
        case bgwriter(String)
        case checkpointer(String)
    }

    private static let columns: [Column] = [
        Column(name: "pg_stat_bgwriter_checkpoints_timed_total", before17: "checkpoints_timed", from17: .checkpointer("num_timed"),
               help: "Scheduled checkpoints performed (pg_stat_checkpointer.num_timed from PostgreSQL 17)."),
        Column(name: "pg_stat_bgwriter_checkpoints_req_total", before17: "checkpoints_req", from17: .checkpointer("num_requested"),
               help: "Requested checkpoints performed (pg_stat_checkpointer.num_requested from PostgreSQL 17)."),
        Column(name: "pg_stat_bgwriter_checkpoint_write_time_total", before17: "checkpoint_write_time", from17: .checkpointer("write_time"),
               help: "Time spent writing checkpoint files to disk, in milliseconds (pg_stat_checkpointer.write_time from PostgreSQL 17)."),
        Column(name: "pg_stat_bgwriter_checkpoint_sync_time_total", before17: "checkpoint_sync_time", from17: .checkpointer("sync_time"),
               help: "Time spent synchronizing checkpoint files to disk, in milliseconds (pg_stat_checkpointer.sync_time from PostgreSQL 17)."),
        Column(name: "pg_stat_bgwriter_buffers_checkpoint_total", before17: "buffers_checkpoint", from17: .checkpointer("buffers_written"),
               help: "Buffers written during checkpoints (pg_stat_checkpointer.buffers_written from PostgreSQL 17, which adds restartpoints)."),
        Column(name: "pg_stat_bgwriter_buffers_clean_total", before17: "buffers_clean", from17: .bgwriter("buffers_clean"),
               help: "Buffers written by the background writer."),
        Column(name: "pg_stat_bgwriter_maxwritten_clean_total", before17: "maxwritten_clean", from17: .bgwriter("maxwritten_clean"),
               help: "Times the background writer stopped a cleaning scan for writing too many buffers."),
        Column(name: "pg_stat_bgwriter_buffers_backend_total", before17: "buffers_backend", from17: nil,
               help: "Buffers written directly by a backend (before PostgreSQL 17; then see pg_stat_io_writes_total)."),
        Column(name: "pg_stat_bgwriter_buffers_backend_fsync_total", before17: "buffers_backend_fsync", from17: nil,
               help: "Times a backend had to execute its own fsync call (before PostgreSQL 17; then see pg_stat_io_fsyncs_total)."),
        Column(name: "pg_stat_bgwriter_buffers_alloc_total", before17: "buffers_alloc", from17: .bgwriter("buffers_alloc"),
               help: "Buffers allocated."),
    ]

    /// pg_stat_checkpointer columns with no pg_stat_bgwriter counterpart.
    private static let checkpointerOnly: [(column: String, help: String)] = [
        ("restartpoints_timed", "Scheduled restartpoints performed (PostgreSQL 17 and later)."),
        ("restartpoints_req", "Requested restartpoints performed (PostgreSQL 17 and later)."),
        ("restartpoints_done", "Restartpoints completed (PostgreSQL 17 and later)."),
    ]

    func collect(_ session: CollectorSession, into set: inout MetricSet) async throws(CollectorFailure) {
        guard session.serverVersion >= 170000 else {
            let row = try await session.query(
                "SELECT \(Self.columns.map(\.before17).joined(separator: ", ")), extract(epoch FROM stats_reset) AS stats_reset FROM pg_stat_bgwriter"
            ).namedRows.first
            guard let row else { return }
            for column in Self.columns {
                let family = set.counter(column.name, column.help)
                set.add(family, [], row.double(column.before17))
            }
            let reset = Self.resetFamily(&set)
            set.add(reset, [], row.double("stats_reset"))
            return
        }
        var selected: [String] = []
        for column in Self.columns {
            switch column.from17 {
            case .bgwriter(let source)?: selected.append("b.\(source) AS \(column.before17)")
            case .checkpointer(let source)?: selected.append("c.\(source) AS \(column.before17)")
            case nil: break
            }
        }
        selected += Self.checkpointerOnly.map { "c.\($0.column)" }
        // One round trip: both views have exactly one row.
        let row = try await session.query("""
            SELECT \(selected.joined(separator: ", ")),
                   extract(epoch FROM b.stats_reset) AS stats_reset, extract(epoch FROM c.stats_reset) AS checkpointer_stats_reset
            FROM pg_stat_bgwriter b CROSS JOIN pg_stat_checkpointer c
            """).namedRows.first
        guard let row else { return }
        for column in Self.columns where column.from17 != nil {
            let family = set.counter(column.name, column.help)
            set.add(family, [], row.double(column.before17))
        }
        let reset = Self.resetFamily(&set)
        set.add(reset, [], row.double("stats_reset"))
        for column in Self.checkpointerOnly {
            let family = set.counter("pg_stat_checkpointer_\(column.column)_total", column.help)
            set.add(family, [], row.double(column.column))
        }
        let checkpointerReset = set.gauge("pg_stat_checkpointer_stats_reset_timestamp_seconds",
                                          "When pg_stat_checkpointer was last reset, as a Unix timestamp (PostgreSQL 17 and later).")
        set.add(checkpointerReset, [], row.double("checkpointer_stats_reset"))
    }

    private static func resetFamily(_ set: inout MetricSet) -> MetricSet.FamilyID {
        set.gauge("pg_stat_bgwriter_stats_reset_timestamp_seconds", "When pg_stat_bgwriter was last reset, as a Unix timestamp.")
    }
}
