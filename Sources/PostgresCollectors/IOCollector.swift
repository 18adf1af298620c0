import Exposition
import ExporterConfig
import PostgresClient

/// `pg_stat_io` (PostgreSQL 16 and later): I/O by backend type, object and context. From 17
/// on it is the only place for what `pg_stat_bgwriter.buffers_backend*` showed, and from 18 on
/// for WAL writes and fsyncs (`object="wal"`), which `pg_stat_wal` no longer has.
///
/// Byte counts keep one name across versions: 18 reports them, 16 and 17 report operations
/// and `op_bytes`, whose product is the same figure.
struct IOCollector: PostgresCollector {
    let kind = PostgresCollectorKind.io

    static let minimumServerVersion = 160000

    private static let counters: [(column: String, name: String, help: String)] = [
        ("reads", "pg_stat_io_reads_total", "Read operations."),
        ("read_bytes", "pg_stat_io_read_bytes_total", "Bytes read."),
        ("writes", "pg_stat_io_writes_total", "Write operations."),
        ("write_bytes", "pg_stat_io_write_bytes_total", "Bytes written."),
        ("writebacks", "pg_stat_io_writebacks_total", "Requests to the kernel to write data back to storage."),
        ("extends", "pg_stat_io_extends_total", "Relation extend operations."),
        ("extend_bytes", "pg_stat_io_extend_bytes_total", "Bytes added by extend operations."),
        ("hits", "pg_stat_io_hits_total", "Times a wanted block was found in a shared buffer."),
        ("evictions", "pg_stat_io_evictions_total", "Times a block was written out of a shared or local buffer to make it available for another use."),
        ("reuses", "pg_stat_io_reuses_total", "Times an existing buffer in a size-limited ring buffer was reused (bulkread, bulkwrite, vacuum contexts)."),
        ("fsyncs", "pg_stat_io_fsyncs_total", "fsync calls (only in the normal context)."),
    ]

    private static let times: [(column: String, name: String, help: String)] = [
        ("read_time", "pg_stat_io_read_time_seconds_total", "Time spent in read operations (needs track_io_timing; track_wal_io_timing for WAL)."),
        ("write_time", "pg_stat_io_write_time_seconds_total", "Time spent in write operations (needs track_io_timing; track_wal_io_timing for WAL)."),
        ("writeback_time", "pg_stat_io_writeback_time_seconds_total", "Time spent in writeback operations (needs track_io_timing)."),
        ("extend_time", "pg_stat_io_extend_time_seconds_total", "Time spent in extend operations (needs track_io_timing)."),
        ("fsync_time", "pg_stat_io_fsync_time_seconds_total", "Time spent in fsync operations (needs track_io_timing; track_wal_io_timing for WAL)."),
    ]

    func collect(_ session: CollectorSession, into set: inout MetricSet) async throws(CollectorFailure) {
        guard session.serverVersion >= Self.minimumServerVersion else {
            throw .unavailable("pg_stat_io needs PostgreSQL 16 or later (server is \(session.serverVersion / 10000)); disable the io collector for this instance")
        }
        let bytes = session.serverVersion >= 180000
            ? "read_bytes, write_bytes, extend_bytes"
            : "reads * op_bytes AS read_bytes, writes * op_bytes AS write_bytes, extends * op_bytes AS extend_bytes"
        let operations = (Self.counters.map(\.column) + Self.times.map(\.column)).filter { !$0.hasSuffix("_bytes") }
        let result = try await session.query("""
            SELECT backend_type, object, context, \(operations.joined(separator: ", ")), \(bytes)
            FROM pg_stat_io
            ORDER BY backend_type, object, context
            """)
        let counters = Self.counters.map { set.counter($0.name, $0.help) }
        let times = Self.times.map { set.counter($0.name, $0.help) }
        for row in result.namedRows {
            // NULL marks an operation that cannot happen for this combination: no series.
            let labels = [Label("backend_type", row.string("backend_type")), Label("object", row.string("object")),
                          Label("context", row.string("context"))]
            for (index, column) in Self.counters.enumerated() {
                set.add(counters[index], labels, row.double(column.column))
            }
            for (index, column) in Self.times.enumerated() {
                set.add(times[index], labels, row.double(column.column).map { $0 / 1000 })
            }
            set.nextEntity()
        }
    }
}
