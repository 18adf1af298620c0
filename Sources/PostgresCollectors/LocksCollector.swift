import Exposition
import ExporterConfig
import PostgresClient

/// `pg_locks_count{datname,mode}` for every database and lock mode (zeros included, lower-case
/// mode names, as postgres_exporter writes them) and the number of blocked backends.
struct LocksCollector: PostgresCollector {
    let kind = PostgresCollectorKind.locks

    func collect(_ session: CollectorSession, into set: inout MetricSet) async throws(CollectorFailure) {
        let locks = try await session.query("""
            SELECT d.datname, m.mode, coalesce(l.count, 0) AS count
            FROM pg_database d
            CROSS JOIN (VALUES ('accesssharelock'), ('rowsharelock'), ('rowexclusivelock'), ('shareupdateexclusivelock'),
                               ('sharelock'), ('sharerowexclusivelock'), ('exclusivelock'), ('accessexclusivelock'),
                               ('sireadlock')) AS m(mode)
            LEFT JOIN (SELECT database, lower(mode) AS mode, count(*) AS count
                       FROM pg_locks WHERE database IS NOT NULL AND pid <> pg_backend_pid()
                       GROUP BY 1, 2) l ON l.database = d.oid AND l.mode = m.mode
            WHERE d.datallowconn
            ORDER BY d.datname, m.mode
            """)
        let blocked = try await session.query(
            "SELECT count(*) AS count FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0")
        let blockedFamily = set.gauge("pg_blocked_processes", "Backends waiting for a lock held by another backend.")
        set.add(blockedFamily, [], blocked.namedRows.first?.double("count"))
        set.nextEntity()
        let count = set.gauge("pg_locks_count", "Locks held or awaited, by database and lock mode (the exporter's own excluded).")
        var lastDatabase: String?
        for row in locks.namedRows {
            if let lastDatabase, lastDatabase != row.string("datname") { set.nextEntity() }
            lastDatabase = row.string("datname")
            set.add(count, [Label("datname", row.string("datname")), Label("mode", row.string("mode"))], row.double("count"))
        }
    }
}
