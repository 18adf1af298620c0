import ExporterConfig
import Foundation
import PostgresClient
@testable import PostgresCollectors
import Testing

/// Not a test: the recording half of scripts/record-pg-rows.sh, which starts each PostgreSQL
/// version and runs this with MITRA_RECORD_PG_ROWS=<directory> against it. It runs every
/// built-in collector twice as the monitoring role inside a read-only sample, as the sampler
/// does, with a little workload in between, and writes what the server answered.
@Suite struct RecordPostgresRows {
    static let target = ProcessInfo.processInfo.environment["MITRA_RECORD_PG_ROWS"]

    @Test(.enabled(if: target != nil && SharedCluster.available))
    func record() async throws {
        let shared = try #require(SharedCluster.current)
        let directory = try #require(Self.target)
        let settings = PostgresConnectionSettings(
            target: .connectionString(shared.keyValue(user: shared.monitorUser, password: shared.monitorPassword)))
        let connection = try await PostgresConnection.connect(settings)
        let admin = try await shared.admin()
        let recorder = RecordingQueries(connection: connection)
        try await connection.beginReadOnlySample(deadline: soon())
        let facts = try await connection.run("SELECT current_database() AS db, pg_is_in_recovery() AS replica, current_setting('server_version') AS version")
        let row = try #require(facts.namedRows.first)
        let outcomes = try await RecordedRun.run(
            recorder, serverVersion: connection.serverVersion, currentDatabase: row.string("db"), isReplica: row["replica"] == "t",
            between: { _ in
                await connection.endSample(deadline: soon())
                // Work for the second run to see: statement deltas, table counters.
                for id in 1...5 {
                    try await admin.run("SELECT count(*) FROM lic_schema.policies WHERE id > $1", [String(id)])
                }
                try await admin.run("UPDATE lic_schema.policies SET status = status WHERE id <= 3")
                try await connection.beginReadOnlySample(deadline: soon())
            })
        await connection.endSample(deadline: soon())
        await connection.close()
        await admin.close()
        for (kind, outcome) in outcomes.last ?? [:] {
            if case .postgres(let error) = outcome.failure { Issue.record("\(kind.rawValue): \(error)") }
        }
        let recording = RecordedRows(serverVersionText: row.string("version"), serverVersion: connection.serverVersion,
                                     currentDatabase: row.string("db"), isReplica: row["replica"] == "t",
                                     statements: recorder.statements)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try encoder.encode(recording).write(to: URL(fileURLWithPath: directory).appendingPathComponent("rows.json"))
    }
}
