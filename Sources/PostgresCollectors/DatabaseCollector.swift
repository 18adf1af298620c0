import Exposition
import ExporterConfig
import PostgresClient

/// `pg_stat_database` per database, with postgres_exporter's names so its dashboards work,
/// and `pg_database_size_bytes`.
struct DatabaseCollector: PostgresCollector {
    let kind = PostgresCollectorKind.database
    /// Sizes read by an earlier run, by database name, and when.
    private(set) var sizes: (readAt: ContinuousClock.Instant, byName: [String: Double])?

    /// pg_database_size walks every file of every database: the costliest statement of a run
    /// by far, for a figure that moves slowly. It is refreshed this often at most.
    static let sizeRefresh: Duration = .seconds(60)

    private static let counters: [(column: String, help: String)] = [
        ("xact_commit", "Transactions committed in this database."),
        ("xact_rollback", "Transactions rolled back in this database."),
        ("blks_read", "Disk blocks read in this database."),
        ("blks_hit", "Disk blocks found already in the buffer cache."),
        ("tup_returned", "Rows returned by queries in this database."),
        ("tup_fetched", "Rows fetched by queries in this database."),
        ("tup_inserted", "Rows inserted by queries in this database."),
        ("tup_updated", "Rows updated by queries in this database."),
        ("tup_deleted", "Rows deleted by queries in this database."),
        ("conflicts", "Queries cancelled due to conflicts with recovery in this database."),
        ("temp_files", "Temporary files created by queries in this database."),
        ("temp_bytes", "Data written to temporary files by queries in this database, in bytes."),
        ("deadlocks", "Deadlocks detected in this database."),
        ("blk_read_time", "Time spent reading data file blocks by backends in this database, in milliseconds."),
        ("blk_write_time", "Time spent writing data file blocks by backends in this database, in milliseconds."),
    ]

    mutating func collect(_ session: CollectorSession, into set: inout MetricSet) async throws(CollectorFailure) {
        let now = ContinuousClock.now
        let cachedSizes = sizes.flatMap { now - $0.readAt < Self.sizeRefresh ? $0.byName : nil }
        let read = try await collect(session, cachedSizes: cachedSizes, into: &set)
        if cachedSizes == nil { sizes = (now, read) }
    }

    /// Collects and returns the database sizes it exported (read now, or `cachedSizes`).
    private func collect(_ session: CollectorSession, cachedSizes: [String: Double]?, into set: inout MetricSet) async throws(CollectorFailure) -> [String: Double] {
        let sizeExpression = cachedSizes == nil
            ? "CASE WHEN has_database_privilege(s.datid, 'CONNECT') THEN pg_database_size(s.datid) END"
            : "NULL::bigint"
        let result = try await session.query("""
            SELECT s.datid::text AS datid, s.datname, s.numbackends, s.xact_commit, s.xact_rollback, s.blks_read,
                   s.blks_hit, s.tup_returned, s.tup_fetched, s.tup_inserted, s.tup_updated, s.tup_deleted,
                   s.conflicts, s.temp_files, s.temp_bytes, s.deadlocks, s.blk_read_time, s.blk_write_time,
                   extract(epoch FROM s.stats_reset) AS stats_reset,
                   \(sizeExpression) AS size_bytes
            FROM pg_stat_database s
            WHERE s.datname IS NOT NULL
            ORDER BY s.datname
            """)
        let numbackends = set.gauge("pg_stat_database_numbackends", "Backends currently connected to this database.")
        let counterIDs = Self.counters.map { set.counter("pg_stat_database_\($0.column)", $0.help) }
        let statsReset = set.gauge("pg_stat_database_stats_reset", "When the statistics of this database were last reset, as a Unix timestamp.")
        let size = set.gauge("pg_database_size_bytes", "Disk space used by the database, in bytes (read at most once a minute).")
        var sizes: [String: Double] = [:]
        for row in result.namedRows {
            let labels = [Label("datid", row.string("datid")), Label("datname", row.string("datname"))]
            set.add(numbackends, labels, row.double("numbackends"))
            for (index, counter) in Self.counters.enumerated() {
                set.add(counterIDs[index], labels, row.double(counter.column))
            }
            set.add(statsReset, labels, row.double("stats_reset"))
            let datname = row.string("datname")
            sizes[datname] = cachedSizes?[datname] ?? row.double("size_bytes")
            set.add(size, [Label("datname", datname)], sizes[datname])
            set.nextEntity()
        }
        return sizes
    }
}
