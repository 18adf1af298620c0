import ExporterConfig
import Foundation
import PostgresClient

/// Why a collector produced nothing this run.
enum CollectorFailure: Error, Sendable {
    case postgres(PostgresError)
    /// The view, extension or server version this collector needs is not there; the
    /// message says what to do about it.
    case unavailable(String)

    var message: String {
        switch self {
        case .postgres(let error):
            var text = error.description
            if error.sqlState == "42501" { text += "; grant the pg_monitor role to the exporter's user" }
            return text
        case .unavailable(let reason): return reason
        }
    }
}

/// What a collector may use during one run: the open connection, the run's deadline, and
/// facts read once per run.
struct CollectorSession: Sendable {
    let connection: PostgresConnection
    let deadline: ContinuousClock.Instant
    let config: PostgresInstanceConfig
    let serverVersion: Int
    let currentDatabase: String
    let isReplica: Bool

    func query(_ sql: String, _ parameters: [String?] = []) async throws(CollectorFailure) -> QueryResult {
        do {
            return try await connection.query(sql, parameters, deadline: deadline)
        } catch {
            throw .postgres(error)
        }
    }
}

/// One system view. Collectors are stateless; the statements collector keeps its state in
/// the sampler (see `StatementsTracker`).
protocol PostgresCollector: Sendable {
    var kind: PostgresCollectorKind { get }
    func collect(_ session: CollectorSession, into set: inout MetricSet) async throws(CollectorFailure)
}

extension Array where Element == String {
    /// A PostgreSQL text-array literal (`{"a","b"}`) for binding as one `text[]` parameter.
    var postgresArrayLiteral: String {
        "{" + map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
    }
}
