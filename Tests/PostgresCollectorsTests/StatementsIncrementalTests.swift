import Exposition
import ExporterConfig
import Foundation
import Logging
import PostgresClient
@testable import PostgresCollectors
import Synchronization
import Testing
import TestSupport

/// Changed-only reads of pg_stat_statements against the shared real server: after each one,
/// the exported series must be exactly those of a collector that reads every entry, through
/// new statements, repeated ones, a full reset and entries removed one by one.
@Suite(.serialized, .enabled(if: SharedCluster.available && SharedCluster.hasStatements, "needs the test cluster with pg_stat_statements"))
struct StatementsIncrementalTests {
    let cluster = SharedCluster.current!

    /// The query seam over a live connection, counting the rows of changed-only reads.
    final class CountingQueries: PostgresQuerying {
        let connection: PostgresConnection
        let changedRows = Mutex<[Int]>([])

        init(connection: PostgresConnection) { self.connection = connection }

        func query(_ sql: String, parameters: [QueryParameter], format: ResultFormat,
                   deadline: ContinuousClock.Instant) async throws(PostgresError) -> QueryResult {
            let result = try await connection.query(sql, parameters: parameters, format: format, deadline: deadline)
            if sql.contains("slot.first") { changedRows.withLock { $0.append(result.rowCount) } }
            return result
        }
    }

    /// Two collectors on one connection whose own statements pg_stat_statements does not track,
    /// so that both see the same entries when nothing else runs between their reads.
    struct Pair {
        var incremental: StatementsCollector
        var full: StatementsCollector
        let queries: CountingQueries
        let session: CollectorSession

        /// Runs both; returns their series as text.
        mutating func sample() async throws -> (incremental: String, full: String) {
            var a = MetricSet(), b = MetricSet()
            try await incremental.collect(session, into: &a)
            try await full.collect(session, into: &b)
            return (Renderer.render(a.families(limit: .max).families, format: .prometheusText),
                    Renderer.render(b.families(limit: .max).families, format: .prometheusText))
        }
    }

    func makePair(top: Int, incrementalFullReads: Duration = .seconds(3600)) async throws -> (Pair, PostgresConnection) {
        let probe = try await cluster.admin()
        try await probe.run("SET pg_stat_statements.track = 'none'")
        var config = cluster.instance(collectors: [.statements], top: top)
        config.statements.hold = .seconds(600)
        let queries = CountingQueries(connection: probe)
        let session = CollectorSession(connection: queries, deadline: .now + .seconds(60), config: config,
                                       serverVersion: probe.serverVersion, currentDatabase: cluster.database, isReplica: false)
        let logger = LogRecorder().logger
        let pair = Pair(
            incremental: StatementsCollector(instanceName: "testdb", options: config.statements, logger: logger,
                                             fullReadInterval: incrementalFullReads),
            full: StatementsCollector(instanceName: "testdb", options: config.statements, logger: logger, fullReadInterval: .zero),
            queries: queries, session: session)
        return (pair, probe)
    }

    /// pg_stat_statements' entries, counted on the untracked connection (adds none).
    func entries(_ probe: PostgresConnection) async throws -> Int {
        try #require(Int(try await probe.scalar("SELECT count(*) FROM pg_stat_statements") ?? ""))
    }

    /// Changed-only reads need pg_stat_statements_info (PostgreSQL 14+).
    var incrementalReads: Bool { cluster.version >= 14 }

    @Test func changedOnlyReadsExportWhatFullReadsExport() async throws {
        let admin = try await cluster.admin()
        let other = try await cluster.admin(database: "postgres")
        let table = "t_\(UUID().uuidString.prefix(8).lowercased())"
        try await admin.run("CREATE TABLE lic_schema.\(table) (id int PRIMARY KEY, a int)")
        try await admin.run("INSERT INTO lic_schema.\(table) SELECT g, g FROM generate_series(1, 200) g")
        // Entries that stay unchanged through the rounds, so that each round changes fewer than
        // half of them even on a fresh server (more, and the next read would be a full one).
        func padding() async throws {
            for width in 1...80 {
                try await admin.run("SELECT " + Array(repeating: "id", count: width).joined(separator: " + ") + " FROM lic_schema.\(table)")
            }
        }
        try await padding()
        var (pair, probe) = try await makePair(top: 3)
        let baseline = try await pair.sample()
        #expect(baseline.incremental == baseline.full)

        for round in 1...6 {
            // New statements every round, earlier ones again, some heavier than others, and
            // statements in another database (different owner, often the same query id).
            for shape in 0..<(round * 3) {
                let expression = Array(repeating: "a", count: shape + 1).joined(separator: " + ")
                for _ in 0..<(1 + (shape + round) % 4) {
                    try await admin.run("SELECT \(expression) FROM lic_schema.\(table) WHERE id <= $1", [String(10 * round)])
                }
            }
            if round % 2 == 0 { try await admin.run("SELECT pg_sleep(0.02)") }
            try await other.run("SELECT \(round) + 1")
            let result = try await pair.sample()
            #expect(result.incremental == result.full, "round \(round)")
            #expect(result.incremental.contains("pg_stat_statements_calls_total{"))
        }
        let changed = pair.queries.changedRows.withLock { $0 }
        if incrementalReads {
            // The baseline is a full read; the rounds after it read only what changed.
            #expect(changed.count == 6)
            let total = try await entries(probe)
            #expect(changed.allSatisfy { $0 < total }, "\(changed) of \(total)")
        } else {
            #expect(changed.isEmpty)
        }
        await probe.close()
        await other.close()
        await admin.close()
    }

    @Test func resetAndRemovedEntriesLeaveTheKnownEntries() async throws {
        let admin = try await cluster.admin()
        let table = "t_\(UUID().uuidString.prefix(8).lowercased())"
        try await admin.run("CREATE TABLE lic_schema.\(table) (id int PRIMARY KEY)")
        var (pair, probe) = try await makePair(top: 2, incrementalFullReads: .milliseconds(1500))
        _ = try await pair.sample()
        for _ in 0..<4 { try await admin.run("SELECT count(*) FROM lic_schema.\(table)") }
        var result = try await pair.sample()
        #expect(result.incremental == result.full)

        // A full reset: pg_stat_statements_info says so, and the next read is a full one.
        try await admin.run("SELECT pg_stat_statements_reset()")
        try await admin.run("SELECT count(*) FROM lic_schema.\(table) WHERE id > 0")
        let before = pair.queries.changedRows.withLock { $0.count }
        result = try await pair.sample()
        #expect(result.incremental == result.full)
        #expect(pair.queries.changedRows.withLock { $0.count } == before, "a reset must be followed by a full read")
        #expect(pair.incremental.tracker.knownEntries == (try await entries(probe)))
        #expect(pair.incremental.known?.slots.count == (try await entries(probe)))

        guard incrementalReads else { return }
        // One entry removed on its own leaves no trace in pg_stat_statements_info: it stays
        // known until the next full read, which comes within fullReadInterval.
        let userID = try #require(try await admin.scalar("SELECT oid::text FROM pg_roles WHERE rolname = current_user"))
        let databaseID = try #require(try await admin.scalar("SELECT oid::text FROM pg_database WHERE datname = current_database()"))
        let queryID = try #require(try await admin.scalar(
            "SELECT queryid::text FROM pg_stat_statements WHERE query LIKE '%WHERE id > $1%' AND query NOT LIKE '%pg_stat_statements%'"))
        try await admin.run("SELECT pg_stat_statements_reset(\(userID)::oid, \(databaseID)::oid, \(queryID)::int8)")
        result = try await pair.sample()
        #expect(result.incremental == result.full)
        #expect(pair.incremental.tracker.knownEntries == (try await entries(probe)) + 1, "changed-only: the removed entry is still known")
        try await Task.sleep(for: .milliseconds(1600))
        let fullReadsBefore = pair.queries.changedRows.withLock { $0.count }
        result = try await pair.sample()
        #expect(result.incremental == result.full)
        #expect(pair.queries.changedRows.withLock { $0.count } == fullReadsBefore, "fullReadInterval passed: a full read")
        #expect(pair.incremental.tracker.knownEntries == (try await entries(probe)))
        await probe.close()
        await admin.close()
    }
}
