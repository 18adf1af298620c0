import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresClient
import ServiceLifecycle
import Synchronization
import Testing
import TestSupport
@testable import agentmitra_demo_api

/// The demo database, created once per test process in the throwaway cluster that
/// `scripts/pg-test-cluster.sh` starts (its `env` command prints the MITRA_TEST_PG_*
/// variables). Without them these tests are skipped, unless MITRA_TEST_REQUIRE_PG=1.
struct DemoDatabase: Sendable {
    static let name = "agentmitra_demo_test"
    /// Every seeded user's password; deliberately awkward to quote.
    static let userPassword = #"demo pw: "quoted" \ & 'single'"#

    var host: String
    var port: String
    var user: String
    var password: String

    static let environment: DemoDatabase? = TestEnvironment.postgres.map { cluster in
        DemoDatabase(host: cluster.host, port: cluster.port, user: cluster.user, password: cluster.password)
    }

    static var available: Bool { environment != nil }

    /// Loading happens once, synchronously, the first time a test asks for it; a failure is
    /// kept and reported by every test that needs the database.
    static let prepared: Result<DemoDatabase, SetupError> = {
        guard let database = environment else { return .failure(SetupError(message: "MITRA_TEST_PG_* not set")) }
        do {
            try database.psql(["-d", "postgres", "-c", "DROP DATABASE IF EXISTS \(name) WITH (FORCE)",
                               "-c", "CREATE DATABASE \(name)"])
            let sql = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../sql").standardizedFileURL
            try database.psql(["-d", name, "-v", "demo_password=\(userPassword)",
                               "-f", sql.appendingPathComponent("schema.sql").path,
                               "-f", sql.appendingPathComponent("seed.sql").path])
            return .success(database)
        } catch let error as SetupError {
            return .failure(error)
        } catch {
            return .failure(SetupError(message: "\(error)"))
        }
    }()

    struct SetupError: Error, CustomStringConvertible {
        var message: String
        var description: String { "demo database setup: \(message)" }
    }

    static func ready() throws -> DemoDatabase { try prepared.get() }

    /// Runs psql with the connection in the environment (PGPASSWORD), never on its command line.
    private func psql(_ arguments: [String]) throws {
        let candidates = [TestEnvironment.postgresBinDirectory.map { $0 + "/psql" },
                          "/usr/lib/postgresql/15/bin/psql", "/usr/bin/psql"].compactMap { $0 }
        guard let executable = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw SetupError(message: "psql not found")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-X", "-q", "-v", "ON_ERROR_STOP=1"] + arguments
        process.environment = TestEnvironment.childEnvironment([
            "PGHOST": host, "PGPORT": port, "PGUSER": user, "PGPASSWORD": password, "PGOPTIONS": "-c client_min_messages=warning",
        ])
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw SetupError(message: "psql failed (\(process.terminationStatus)): \(message.replacingOccurrences(of: password, with: "<secret>"))")
        }
    }

    func settings(password: String? = nil, port: String? = nil, readOnly: Bool) -> PostgresConnectionSettings {
        PostgresConnectionSettings(
            target: .parameters([.init("host", host), .init("port", port ?? self.port), .init("user", user),
                                 .init("password", password ?? self.password), .init("dbname", Self.name)]),
            applicationName: "agentmitra-demo-test", connectTimeout: .seconds(3), statementTimeout: .seconds(5),
            readOnly: readOnly)
    }

    /// Runs one query on a fresh read-only connection.
    func query(_ sql: String, _ parameters: [String?] = []) async throws -> QueryResult {
        let connection = try await PostgresConnection.connect(settings(readOnly: true))
        do {
            let result = try await connection.query(sql, parameters, deadline: .now + .seconds(5))
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }

    /// The highest key of an audit table, to read only the rows a test itself caused.
    func maxKey(_ table: String, _ column: String) async throws -> Int {
        Int(try await query("SELECT coalesce(max(\(column)), 0) AS k FROM lic_schema.\(table)").namedRows.first?["k"] ?? "0") ?? 0
    }

    /// Polls until `count` rows with a key above `after` are there (the audit writer inserts
    /// in batches), for at most five seconds.
    func rows(_ sql: String, after key: Int, count: Int) async throws -> [QueryResult.Row] {
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            let rows = try await query(sql, [String(key)]).namedRows
            if rows.count >= count || ContinuousClock.now > deadline { return rows }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// The seven demo logins and the locked account (demo/sql/seed.sql).
enum DemoUsers {
    static let phones: [Role: String] = [
        .juniorAgent: "+919876540101", .seniorAgent: "+919876540102", .regionalManager: "+919876540103",
        .providerAdmin: "+919876540104", .superAdmin: "+919876540105", .policyholder: "+919876540106",
        .supportStaff: "+919876540107",
    ]
    static let userIDs: [Role: String] = [
        .juniorAgent: "00000000-0000-4000-8000-000000000101", .seniorAgent: "00000000-0000-4000-8000-000000000102",
        .regionalManager: "00000000-0000-4000-8000-000000000103", .providerAdmin: "00000000-0000-4000-8000-000000000104",
        .superAdmin: "00000000-0000-4000-8000-000000000105", .policyholder: "00000000-0000-4000-8000-000000000106",
        .supportStaff: "00000000-0000-4000-8000-000000000107",
    ]
    static let lockedPhone = "+919876540199"
}

/// An HTTP answer with its body parsed as JSON (when it is JSON).
struct HTTPAnswer: Sendable {
    var status: Int
    var headers: HTTPFields
    var text: String
    var elapsed: Duration

    var json: Any? { try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) }
    var object: [String: Any] { json as? [String: Any] ?? [:] }
    var array: [[String: Any]] { json as? [[String: Any]] ?? [] }
}

/// A running demo server on free loopback ports, and a small client for it.
struct RunningDemo: Sendable {
    let server: DemoServer
    let apiPort: Int
    let adminPort: Int
    let logs: LogRecorder

    func request(_ method: HTTPRequest.Method, _ path: String, token: String? = nil, json: String? = nil,
                 port: Int? = nil, headers extra: HTTPFields = [:], timeout: Duration = .seconds(10)) async throws -> HTTPAnswer {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil { headers[.contentType] = "application/json" }
        let started = ContinuousClock.now
        let request = TestClient.Request(path, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
        let response = try await TestClient.withClient(
            host: "127.0.0.1", port: port ?? apiPort, configuration: .init(timeout: timeout)
        ) { client in
            try await client.execute(request)
        }
        return HTTPAnswer(status: Int(response.status.code), headers: response.headers,
                          text: response.body.map { String(buffer: $0) } ?? "", elapsed: started.duration(to: .now))
    }

    func admin(_ method: HTTPRequest.Method, _ path: String, json: String? = nil, headers: HTTPFields = [:]) async throws -> HTTPAnswer {
        try await request(method, path, json: json, port: adminPort, headers: headers)
    }

    func setSwitches(_ json: String) async throws {
        let answer = try await admin(.put, "/switches", json: json)
        try #require(answer.status == 200, "switches rejected: \(answer.text)")
    }

    func login(_ role: Role, password: String = DemoDatabase.userPassword) async throws -> HTTPAnswer {
        try await request(.post, "/auth/login", json: JSON.encode(["phone_number": DemoUsers.phones[role]!, "password": password]))
    }

    func token(_ role: Role) async throws -> String {
        let answer = try await login(role)
        try #require(answer.status == 200, "login as \(role.rawValue): \(answer.status) \(answer.text)")
        return try #require(answer.object["access_token"] as? String)
    }
}

/// Starts a demo server against the demo database, runs `body`, and shuts the server down
/// gracefully (which also flushes the audit rows).
func withDemo<T: Sendable>(
    password: String? = nil, port: String? = nil, adminSecret: String? = nil,
    tokenLifetime: Duration = .seconds(600), hangLimit: Duration = .seconds(30),
    serviceToken: (token: String, phoneNumber: String)? = nil,
    _ body: @Sendable (RunningDemo) async throws -> T
) async throws -> T {
    let database = try DemoDatabase.ready()
    let logs = LogRecorder()
    let configuration = DemoServerConfiguration(
        host: "127.0.0.1", port: 0, adminHost: "127.0.0.1", adminPort: 0, adminSecret: adminSecret,
        database: database.settings(password: password, port: port, readOnly: false),
        poolSize: 2, tokenLifetime: tokenLifetime, auditFlushInterval: .milliseconds(50), hangLimit: hangLimit,
        serviceToken: serviceToken)
    let server = DemoServer(configuration: configuration, logger: logs.logger(label: "agentmitra-demo-test"))
    let group = ServiceGroup(configuration: .init(services: [DemoService(server: server)], logger: logs.logger(label: "agentmitra-demo-test")))
    return try await withThrowingTaskGroup(of: T?.self) { tasks in
        tasks.addTask {
            try await group.run()
            return nil
        }
        let result: Result<T, any Error>
        do {
            var waited = 0
            while server.ports.api == nil || server.ports.admin == nil {
                waited += 1
                guard waited < 200 else { throw DemoDatabase.SetupError(message: "demo server did not start listening within 10 s") }
                try await Task.sleep(for: .milliseconds(50))
            }
            let running = RunningDemo(server: server, apiPort: server.ports.api!, adminPort: server.ports.admin!, logs: logs)
            result = .success(try await body(running))
        } catch {
            result = .failure(error)
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return try result.get()
    }
}
