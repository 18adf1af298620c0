import Exposition
import ExporterConfig
import Foundation
import PostgresClient
@testable import PostgresCollectors
import Synchronization
import Testing
import TestSupport

/// The rows one PostgreSQL version answered to every statement the built-in collectors send,
/// recorded by scripts/record-pg-rows.sh into Recorded/<version>/rows.json.
struct RecordedRows: Codable, Sendable {
    /// `server_version` of the recording server, for people reading the file.
    var serverVersionText: String
    var serverVersion: Int
    var currentDatabase: String
    var isReplica: Bool
    var statements: [RecordedStatement]

    static func directory(version: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Recorded/\(version)")
    }

    static func load(version: String) throws -> (rows: RecordedRows, path: String) {
        let url = directory(version: version).appendingPathComponent("rows.json")
        let data = try Data(contentsOf: url)
        return (try JSONDecoder().decode(RecordedRows.self, from: data), url.path)
    }
}

/// One statement as a collector sent it, and the server's answers in the order they came
/// (a collector that runs twice, like statements, reads its second answer the second time).
struct RecordedStatement: Codable, Sendable {
    var sql: String
    var parameters: [String?]
    var responses: [RecordedResponse]
}

struct RecordedResponse: Codable, Sendable, Equatable {
    var columns: [String]?
    var rows: [[String?]]?
    /// A server error (the connection stays usable), instead of rows.
    var error: RecordedServerError?
}

struct RecordedServerError: Codable, Sendable, Equatable {
    var sqlState: String?
    var message: String
}

/// The query seam answered from a recording: no server. A statement that is not in the
/// recording fails with an error naming the file, so a collector whose SQL changed is
/// noticed (and the rows re-recorded) instead of silently tested against stale answers.
final class RecordedQueries: PostgresQuerying {
    let recording: RecordedRows
    let path: String
    private let served = Mutex<[Int: Int]>([:])
    private let missed = Mutex<[String]>([])

    init(version: String) throws {
        (recording, path) = try RecordedRows.load(version: version)
    }

    /// A recording made up in a test (from parts of a real one).
    init(recording: RecordedRows, path: String = "(test recording)") {
        self.recording = recording
        self.path = path
    }

    /// How many answers were served to statements whose SQL contains `fragment`.
    func servedCount(sqlContaining fragment: String) -> Int {
        served.withLock { counts in
            counts.filter { recording.statements[$0.key].sql.contains(fragment) }.values.reduce(0, +)
        }
    }

    /// Statements asked for that the recording does not have.
    var misses: [String] { missed.withLock { $0 } }

    func query(_ sql: String, parameters: [QueryParameter], format: ResultFormat,
               deadline: ContinuousClock.Instant) async throws(PostgresError) -> QueryResult {
        let parameters = parameters.map(\.text)
        guard let index = recording.statements.firstIndex(where: { $0.sql == sql && $0.parameters == parameters }) else {
            missed.withLock { $0.append(sql) }
            throw PostgresError(phase: .query, kind: .server,
                                message: "\(path): no recorded answer for this statement (run scripts/record-pg-rows.sh): \(sql.prefix(120))")
        }
        let turn = served.withLock { counts in
            defer { counts[index, default: 0] += 1 }
            return counts[index, default: 0]
        }
        let responses = recording.statements[index].responses
        guard let response = responses.isEmpty ? nil : responses[min(turn, responses.count - 1)] else {
            throw PostgresError(phase: .query, kind: .server, message: "\(path): statement #\(index) has no recorded answer")
        }
        if let error = response.error {
            throw PostgresError(phase: .query, kind: .server, sqlState: error.sqlState, message: error.message)
        }
        return QueryResult(columns: response.columns ?? [], rows: response.rows ?? [])
    }

    /// The recorded rows of the first statement whose SQL contains `fragment`, by column name.
    func rows(containing fragment: String, response: Int = 0) -> [[String: String?]] {
        guard let statement = recording.statements.first(where: { $0.sql.contains(fragment) }),
              response < statement.responses.count,
              let columns = statement.responses[response].columns, let rows = statement.responses[response].rows
        else { return [] }
        return rows.map { Dictionary(zip(columns, $0), uniquingKeysWith: { first, _ in first }) }
    }
}

/// Wraps a live connection and writes down every statement and answer (server errors too).
final class RecordingQueries: PostgresQuerying {
    let connection: PostgresConnection
    private let log = Mutex<[RecordedStatement]>([])

    init(connection: PostgresConnection) {
        self.connection = connection
    }

    var statements: [RecordedStatement] { log.withLock { $0 } }

    func query(_ sql: String, parameters typed: [QueryParameter], format: ResultFormat,
               deadline: ContinuousClock.Instant) async throws(PostgresError) -> QueryResult {
        // Written down in their text form (what the server would read the same way).
        let parameters = typed.map(\.text)
        do {
            let result = try await connection.query(sql, parameters: typed, format: format, deadline: deadline)
            append(sql, parameters, RecordedResponse(columns: result.columns, rows: result.rows))
            return result
        } catch {
            // Only answers the server gave are a property of the version; anything else is a
            // broken recording run.
            if error.kind == .server {
                append(sql, parameters, RecordedResponse(error: RecordedServerError(sqlState: error.sqlState, message: error.message)))
            }
            throw error
        }
    }

    private func append(_ sql: String, _ parameters: [String?], _ response: RecordedResponse) {
        log.withLock { log in
            if let index = log.firstIndex(where: { $0.sql == sql && $0.parameters == parameters }) {
                log[index].responses.append(response)
            } else {
                log.append(RecordedStatement(sql: sql, parameters: parameters, responses: [response]))
            }
        }
    }
}

/// Runs collectors the way the sampler does (its priority order, its version check), two
/// runs in a row so that collectors with state (statements deltas, cached database sizes)
/// show their second-run behaviour too.
enum RecordedRun {
    /// The instance the rows are recorded and replayed with: every collector, query text on
    /// (so the query-text statement is recorded too).
    static func config() -> PostgresInstanceConfig {
        var statements = PostgresStatementsOptions()
        statements.queryText = true
        return PostgresInstanceConfig(name: "recorded", dsn: "", interval: .seconds(15), timeout: .seconds(5),
                                      collectors: PostgresCollectorKind.allCases, statements: statements)
    }

    struct Outcome: Sendable {
        var families: [MetricFamily]
        var failure: CollectorFailure?
    }

    /// One sample's collector outcomes by kind, for each run.
    static func run(_ connection: any PostgresQuerying, serverVersion: Int, currentDatabase: String, isReplica: Bool,
                    runs: Int = 2, between: @Sendable (Int) async throws -> Void = { _ in }) async throws -> [[PostgresCollectorKind: Outcome]] {
        let config = config()
        let kinds = PostgresSampler.priority.filter { config.collectors.contains($0) }
        var collectors = kinds.map { $0.makeCollector(config: config, logger: LogRecorder().logger) }
        var results: [[PostgresCollectorKind: Outcome]] = []
        for run in 0..<runs {
            if run > 0 { try await between(run) }
            let session = CollectorSession(connection: connection, deadline: .now + .seconds(10), config: config,
                                           serverVersion: serverVersion, currentDatabase: currentDatabase, isReplica: isReplica)
            var outcomes: [PostgresCollectorKind: Outcome] = [:]
            for index in collectors.indices {
                let kind = collectors[index].kind
                var set = MetricSet()
                do throws(CollectorFailure) {
                    if let problem = kind.unsupportedReason(serverVersion: serverVersion) { throw .unavailable(problem) }
                    try await collectors[index].collect(session, into: &set)
                    outcomes[kind] = Outcome(families: set.families(limit: .max).families)
                } catch {
                    outcomes[kind] = Outcome(families: [], failure: error)
                }
            }
            results.append(outcomes)
        }
        return results
    }
}
