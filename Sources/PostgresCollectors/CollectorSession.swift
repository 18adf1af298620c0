import ExporterConfig
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Logging
import PostgresClient

/// Why a collector produced nothing this run.
enum CollectorFailure: Error, Sendable {
    case postgres(PostgresError)
    /// The view, extension or server version this collector needs is not there; the
    /// message says what to do about it.
    case unavailable(String)
    /// An optional extension is not installed: the operator's choice, not a fault, so it is
    /// reported once and looked for again only now and then.
    case notInstalled(String)

    var message: String {
        switch self {
        case .postgres(let error):
            var text = error.description
            if error.sqlState == "42501" { text += "; grant the pg_monitor role to the exporter's user" }
            return text
        case .unavailable(let reason), .notInstalled(let reason): return reason
        }
    }
}

extension PostgresCollectorKind {
    /// The oldest PostgreSQL this exporter supports; the README's tested versions are 15, 16 and 18.
    static let oldestSupportedServer = 130000

    /// Why this collector cannot run on a server of this version, or nil if it can.
    /// (Collectors whose view is younger than 13 check their own minimum.)
    func unsupportedReason(serverVersion: Int) -> String? {
        guard serverVersion < Self.oldestSupportedServer else { return nil }
        return "PostgreSQL \(serverVersion / 10000) is not supported (13 or later is needed; server_version_num \(serverVersion)); the \(rawValue) collector does not run, SQL-defined queries still do"
    }
}

/// What a collector may use during one run: the query seam (the open connection, or
/// recorded rows in tests), the run's deadline, and facts read once per run.
struct CollectorSession: Sendable {
    let connection: any PostgresQuerying
    let deadline: ContinuousClock.Instant
    let config: PostgresInstanceConfig
    let serverVersion: Int
    let currentDatabase: String
    let isReplica: Bool

    func query(_ sql: String, _ parameters: [String?] = [], format: ResultFormat = .text) async throws(CollectorFailure) -> QueryResult {
        try await query(sql, parameters: parameters.map(QueryParameter.text), format: format)
    }

    func query(_ sql: String, parameters: [QueryParameter], format: ResultFormat = .text) async throws(CollectorFailure) -> QueryResult {
        do {
            return try await connection.query(sql, parameters: parameters, format: format, deadline: deadline)
        } catch {
            throw .postgres(error)
        }
    }
}

/// One system view. Most collectors are stateless; those that carry something from run to
/// run (database sizes read once a minute, the statements tracker) keep it in their own
/// value, which the sampler holds in its list of collectors.
protocol PostgresCollector: Sendable {
    var kind: PostgresCollectorKind { get }
    mutating func collect(_ session: CollectorSession, into set: inout MetricSet) async throws(CollectorFailure)
}

extension PostgresCollectorKind {
    /// The collector for this view on an instance, in its initial state.
    func makeCollector(config: PostgresInstanceConfig, logger: Logger) -> any PostgresCollector {
        switch self {
        case .database: DatabaseCollector()
        // The settings collector exports pg_settings_max_connections when it runs.
        case .activity: ActivityCollector(includeMaxConnections: !config.collectors.contains(.settings))
        case .settings: SettingsCollector()
        case .io: IOCollector()
        case .locks: LocksCollector()
        case .tables: TablesCollector()
        case .replication: ReplicationCollector()
        case .bgwriter: BackgroundWriterCollector()
        case .wal: WALCollector()
        case .statements: StatementsCollector(instanceName: config.name, options: config.statements, logger: logger)
        }
    }
}

extension Array where Element == String {
    /// A PostgreSQL text-array literal (`{"a","b"}`) for binding as one `text[]` parameter.
    var postgresArrayLiteral: String {
        "{" + map { "\"" + $0.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
    }
}
