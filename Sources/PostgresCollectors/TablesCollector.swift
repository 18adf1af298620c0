import Exposition
import ExporterConfig
import PostgresClient

/// `pg_stat_user_tables` and `pg_statio_user_tables` for the configured schemas of the
/// connected database, largest tables first (the budget drops the smallest).
struct TablesCollector: PostgresCollector {
    let kind = PostgresCollectorKind.tables

    struct TableName: Hashable, Sendable, Comparable {
        var schema: String
        var name: String

        static func < (a: Self, b: Self) -> Bool { (a.schema, a.name) < (b.schema, b.name) }
    }

    struct Sizes: Sendable {
        var table: Double?
        var indexes: Double?
        var total: Double { (table ?? 0) + (indexes ?? 0) }
    }

    /// Sizes read by an earlier run, and when.
    private(set) var sizes: (readAt: ContinuousClock.Instant, byTable: [TableName: Sizes])?

    private static let counters: [(column: String, name: String, help: String)] = [
        ("seq_scan", "pg_stat_user_tables_seq_scan", "Sequential scans started on this table."),
        ("seq_tup_read", "pg_stat_user_tables_seq_tup_read", "Live rows fetched by sequential scans."),
        ("idx_scan", "pg_stat_user_tables_idx_scan", "Index scans started on this table."),
        ("idx_tup_fetch", "pg_stat_user_tables_idx_tup_fetch", "Live rows fetched by index scans."),
        ("n_tup_ins", "pg_stat_user_tables_n_tup_ins", "Rows inserted."),
        ("n_tup_upd", "pg_stat_user_tables_n_tup_upd", "Rows updated (HOT updates included)."),
        ("n_tup_del", "pg_stat_user_tables_n_tup_del", "Rows deleted."),
        ("n_tup_hot_upd", "pg_stat_user_tables_n_tup_hot_upd", "Rows HOT updated (no index update needed)."),
        ("vacuum_count", "pg_stat_user_tables_vacuum_count", "Times this table was vacuumed manually."),
        ("autovacuum_count", "pg_stat_user_tables_autovacuum_count", "Times this table was vacuumed by autovacuum."),
        ("analyze_count", "pg_stat_user_tables_analyze_count", "Times this table was analyzed manually."),
        ("autoanalyze_count", "pg_stat_user_tables_autoanalyze_count", "Times this table was analyzed by autovacuum."),
        ("heap_blks_read", "pg_statio_user_tables_heap_blocks_read", "Disk blocks read from this table."),
        ("heap_blks_hit", "pg_statio_user_tables_heap_blocks_hit", "Buffer hits in this table."),
        ("idx_blks_read", "pg_statio_user_tables_idx_blocks_read", "Disk blocks read from all indexes on this table."),
        ("idx_blks_hit", "pg_statio_user_tables_idx_blocks_hit", "Buffer hits in all indexes on this table."),
    ]

    private static let gauges: [(column: String, name: String, help: String)] = [
        ("n_live_tup", "pg_stat_user_tables_n_live_tup", "Estimated live rows."),
        ("n_dead_tup", "pg_stat_user_tables_n_dead_tup", "Estimated dead rows."),
        ("n_mod_since_analyze", "pg_stat_user_tables_n_mod_since_analyze", "Estimated rows modified since the last analyze."),
        ("last_vacuum_age", "pg_stat_user_tables_last_vacuum_age_seconds", "Seconds since the last manual vacuum (absent if never)."),
        ("last_autovacuum_age", "pg_stat_user_tables_last_autovacuum_age_seconds", "Seconds since the last autovacuum (absent if never)."),
        ("last_analyze_age", "pg_stat_user_tables_last_analyze_age_seconds", "Seconds since the last manual analyze (absent if never)."),
        ("last_autoanalyze_age", "pg_stat_user_tables_last_autoanalyze_age_seconds", "Seconds since the last autoanalyze (absent if never)."),
        ("table_size", "pg_stat_user_tables_table_size_bytes", "Size of the table (with TOAST, without indexes), in bytes (read at most once a minute)."),
        ("index_size", "pg_stat_user_tables_index_size_bytes", "Size of all indexes on the table, in bytes (read at most once a minute)."),
    ]

    /// The sizes walk every file of the table, its TOAST table and its indexes: most of this
    /// statement's server time, for figures that move slowly. Like the database sizes they are
    /// read at most once per `DatabaseCollector.sizeRefresh` (and at once when a table appears
    /// that has none yet); the runs between read the statistics only. When read, each size is
    /// computed once per table (`OFFSET 0` keeps the planner from copying the calls into the
    /// sort key), and their sum is the order (`pg_total_relation_size`, without computing it
    /// a second time); between reads the last sizes give the order.
    mutating func collect(_ session: CollectorSession, into set: inout MetricSet) async throws(CollectorFailure) {
        let now = ContinuousClock.now
        var cached = sizes.flatMap { now - $0.readAt < DatabaseCollector.sizeRefresh ? $0.byTable : nil }
        var result = try await query(session, readSizes: cached == nil)
        var names = result.namedRows.map(Self.name)
        if let known = cached, names.contains(where: { known[$0] == nil }) {
            cached = nil
            result = try await query(session, readSizes: true)
            names = result.namedRows.map(Self.name)
        }
        var rows = zip(result.namedRows, names).map { row, name in
            (row: row, name: name, sizes: cached?[name] ?? Sizes(table: row.double("table_size"), indexes: row.double("index_size")))
        }
        if cached != nil {
            // The server's order is by name; the order by size is the budget's.
            rows.sort { a, b in a.sizes.total != b.sizes.total ? a.sizes.total > b.sizes.total : a.name < b.name }
        } else {
            sizes = (now, Dictionary(rows.map { ($0.name, $0.sizes) }, uniquingKeysWith: { first, _ in first }))
        }
        let counterIDs = Self.counters.map { set.counter($0.name, $0.help) }
        let gaugeIDs = Self.gauges.map { set.gauge($0.name, $0.help) }
        for (row, name, tableSizes) in rows {
            let labels = [Label("datname", session.currentDatabase), Label("schemaname", name.schema), Label("relname", name.name)]
            for (index, counter) in Self.counters.enumerated() { set.add(counterIDs[index], labels, row.double(counter.column)) }
            for (index, gauge) in Self.gauges.enumerated() {
                let value = switch gauge.column {
                case "table_size": tableSizes.table
                case "index_size": tableSizes.indexes
                default: row.double(gauge.column)
                }
                set.add(gaugeIDs[index], labels, value)
            }
            set.nextEntity()
        }
    }

    private static func name(_ row: QueryResult.Row) -> TableName {
        TableName(schema: row.string("schemaname"), name: row.string("relname"))
    }

    private func query(_ session: CollectorSession, readSizes: Bool) async throws(CollectorFailure) -> QueryResult {
        let sizes = readSizes
            ? "CROSS JOIN LATERAL (SELECT pg_table_size(s.relid) AS table_size, pg_indexes_size(s.relid) AS index_size OFFSET 0) z"
            : "CROSS JOIN (SELECT NULL::bigint AS table_size, NULL::bigint AS index_size) z"
        let order = readSizes ? "z.table_size + z.index_size DESC, s.schemaname, s.relname" : "s.schemaname, s.relname"
        return try await session.query("""
            SELECT s.schemaname, s.relname,
                   s.seq_scan, s.seq_tup_read, coalesce(s.idx_scan, 0) AS idx_scan, coalesce(s.idx_tup_fetch, 0) AS idx_tup_fetch,
                   s.n_tup_ins, s.n_tup_upd, s.n_tup_del, s.n_tup_hot_upd, s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze,
                   s.vacuum_count, s.autovacuum_count, s.analyze_count, s.autoanalyze_count,
                   extract(epoch FROM now() - s.last_vacuum) AS last_vacuum_age,
                   extract(epoch FROM now() - s.last_autovacuum) AS last_autovacuum_age,
                   extract(epoch FROM now() - s.last_analyze) AS last_analyze_age,
                   extract(epoch FROM now() - s.last_autoanalyze) AS last_autoanalyze_age,
                   z.table_size, z.index_size,
                   io.heap_blks_read, io.heap_blks_hit, coalesce(io.idx_blks_read, 0) AS idx_blks_read,
                   coalesce(io.idx_blks_hit, 0) AS idx_blks_hit
            FROM pg_stat_user_tables s
            JOIN pg_statio_user_tables io USING (relid)
            \(sizes)
            WHERE s.schemaname = ANY($1::text[])
            ORDER BY \(order)
            """, [session.config.tables.schemas.postgresArrayLiteral])
    }
}
