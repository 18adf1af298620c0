import Exposition
import ExporterConfig
import Foundation
import Logging
import PostgresClient
import PostgresCollectors
import Sampling
import Synchronization
import Testing
import TestSupport

/// The shared throwaway cluster described by MITRA_TEST_PG_* (see scripts/pg-test-cluster.sh).
struct SharedCluster: Sendable {
    var host: String
    var port: String
    var user: String
    var password: String
    var database: String
    var noExtensionDatabase: String
    var monitorUser: String
    var monitorPassword: String
    var script: String
    /// The server's major version (15 is Debian's; 16 and 18 come from PyPI wheels).
    var version: Int
    var bin: String
    /// Whether the build has pg_stat_statements (the 16 wheel does not).
    var hasStatements: Bool

    static let current: SharedCluster? = TestEnvironment.postgres.flatMap { cluster in
        guard let noExtension = cluster.noExtensionDatabase, let script = cluster.clusterScript else { return nil }
        return SharedCluster(host: cluster.host, port: cluster.port, user: cluster.user, password: cluster.password,
                             database: cluster.database, noExtensionDatabase: noExtension, monitorUser: cluster.monitorUser,
                             monitorPassword: cluster.monitorPassword, script: script, version: cluster.version,
                             bin: cluster.bin, hasStatements: cluster.hasStatements)
    }

    static var available: Bool { current != nil }
    static var hasStatements: Bool { current?.hasStatements ?? false }

    /// Every collector this server can run (io needs 16, statements the extension).
    var supportedCollectors: [PostgresCollectorKind] {
        PostgresCollectorKind.allCases.filter { ($0 != .io || version >= 16) && ($0 != .statements || hasStatements) }
    }

    func keyValue(user: String? = nil, password: String? = nil, database: String? = nil, port: String? = nil) -> String {
        let quote = { (text: String) in
            "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        }
        return "host=\(host) port=\(port ?? self.port) user=\(quote(user ?? self.user)) password=\(quote(password ?? self.password)) dbname=\(quote(database ?? self.database))"
    }

    func instance(name: String = "testdb", dsn: String? = nil, collectors: [PostgresCollectorKind] = PostgresCollectorKind.allCases,
                  timeout: Duration = .seconds(5), statementTimeout: Duration? = nil, lockTimeout: Duration? = nil,
                  top: Int = 100, seriesBudget: Int = 10_000) -> PostgresInstanceConfig {
        var statements = PostgresStatementsOptions()
        statements.top = top
        return PostgresInstanceConfig(name: name, dsn: dsn ?? keyValue(), interval: .seconds(15), timeout: timeout,
                                      collectors: collectors, statementTimeout: statementTimeout, lockTimeout: lockTimeout,
                                      seriesBudget: seriesBudget, statements: statements)
    }

    /// A writable superuser session for fixtures.
    func admin(database: String? = nil, lockTimeout: Duration = .seconds(1)) async throws -> PostgresConnection {
        let settings = PostgresConnectionSettings(target: .connectionString(keyValue(database: database)),
                                                  applicationName: "mitra-test-admin", connectTimeout: .seconds(3),
                                                  statementTimeout: .seconds(20), lockTimeout: lockTimeout, readOnly: false)
        return try await PostgresConnection.connect(settings)
    }
}

func soon(_ seconds: Double = 10) -> ContinuousClock.Instant { .now + .milliseconds(Int(seconds * 1000)) }

extension PostgresConnection {
    @discardableResult
    func run(_ sql: String, _ parameters: [String?] = []) async throws -> QueryResult {
        try await query(sql, parameters, deadline: soon())
    }

    func scalar(_ sql: String, _ parameters: [String?] = []) async throws -> String? {
        try await run(sql, parameters).rows.first?.first ?? nil
    }
}

/// The value of the one series of `name` whose labels include `labels`.
func value(_ result: SampleResult, _ name: String, _ labels: [String: String] = [:]) -> Double? {
    let matches = series(result, name, labels)
    guard matches.count == 1, case .number(let number) = matches[0].value else { return nil }
    return number
}

func series(_ result: SampleResult, _ name: String, _ labels: [String: String] = [:]) -> [Series] {
    result.families.filter { $0.name == name }.flatMap(\.series).filter { series in
        labels.allSatisfy { key, wanted in series.labels.contains { $0.name == key && $0.value == wanted } }
    }
}

func outcome(_ result: SampleResult, _ collector: String) -> CollectorOutcome? {
    result.outcomes.first { $0.collector.hasSuffix("/\(collector)") }
}

/// A cluster of its own, for tests that stop and restart the server: they must not disturb
/// tests running in parallel on the shared one.
struct PrivateCluster: Sendable {
    let script: String
    let directory: String
    let port: String

    static func start(script: String) async throws -> PrivateCluster {
        let cluster = PrivateCluster(script: script, directory: "/tmp/mitra-pg-private-\(UUID().uuidString.prefix(8))",
                                     port: String(try freeLoopbackPort()))
        try await cluster.control("start")
        return cluster
    }

    func control(_ command: String) async throws {
        let arguments = [script, command, directory, port]
        // posix_spawn + waitpid on a dispatch thread: Foundation's Process did not reliably
        // report termination under the test runner, and waiting must not block the pool.
        let status: Int32 = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: spawnAndWait(arguments))
            }
        }
        try #require(status == 0, "pg-test-cluster.sh \(command) exited with \(status)")
    }

    /// Stops the server and removes its files.
    func destroy() async throws {
        try await control("stop")
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Runs a program with its output discarded and returns its exit status (-1 if it could not start).
func spawnAndWait(_ arguments: [String]) -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    let argv = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    guard posix_spawn(&pid, arguments[0], &actions, nil, argv, environ) == 0 else { return -1 }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        guard errno == EINTR else { return -1 }
    }
    // WIFEXITED / WEXITSTATUS are macros; decode the wait status by hand.
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
}

func freeLoopbackPort() throws -> UInt16 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
    }
    try #require(bound)
    return UInt16(bigEndian: address.sin_port)
}
