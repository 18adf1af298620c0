import ArgumentParser
import Foundation
import Logging
import PostgresClient
import ServiceLifecycle
import UnixSignals

@main
struct AgentMitraDemoAPI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agentmitra-demo-api",
        abstract: "A small Agent Mitra backend for demos and tests, with failure switches.",
        discussion: """
            The database is given by --dsn or, better (the password stays out of `ps`), by
            AGENTMITRA_DEMO_DSN. AGENTMITRA_DEMO_ADMIN_SECRET, when set, is required by the admin
            listener in the X-Demo-Admin-Secret header. AGENTMITRA_DEMO_SERVICE_TOKEN, when set, is a
            bearer token for monitoring checks that acts as the --service-user.
            """)

    @Option(help: "Address of the public API.")
    var listen = "127.0.0.1:8000"

    @Option(name: .customLong("admin-listen"), help: "Address of the admin listener (failure switches); keep it on loopback.")
    var adminListen = "127.0.0.1:8001"

    @Option(help: "libpq connection string of the demo database (default: $AGENTMITRA_DEMO_DSN).")
    var dsn: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(name: .customLong("pool-size"), help: "Database connections for requests.")
    var poolSize = 4

    @Option(name: .customLong("token-ttl"), help: "Bearer token lifetime in seconds.")
    var tokenTTL = 3600

    @Option(name: .customLong("service-user"), help: "Phone number of the user the service token acts as.")
    var serviceUser = "+919876540105"

    func validate() throws {
        _ = try Self.address(listen, option: "--listen")
        _ = try Self.address(adminListen, option: "--admin-listen")
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level \(logLevel)") }
        guard (1...64).contains(poolSize) else { throw ValidationError("--pool-size must be between 1 and 64") }
        guard tokenTTL > 0 else { throw ValidationError("--token-ttl must be positive") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "agentmitra-demo-api")
        let environment = ProcessInfo.processInfo.environment
        guard let dsn = dsn ?? environment["AGENTMITRA_DEMO_DSN"], !dsn.isEmpty else {
            throw ValidationError("no database: pass --dsn or set AGENTMITRA_DEMO_DSN")
        }
        let api = try Self.address(listen, option: "--listen")
        let admin = try Self.address(adminListen, option: "--admin-listen")
        let configuration = DemoServerConfiguration(
            host: api.host, port: api.port, adminHost: admin.host, adminPort: admin.port,
            adminSecret: environment["AGENTMITRA_DEMO_ADMIN_SECRET"].flatMap { $0.isEmpty ? nil : $0 },
            database: PostgresConnectionSettings(
                target: .connectionString(dsn), applicationName: "agentmitra-demo-api",
                connectTimeout: .seconds(3), statementTimeout: .seconds(5), readOnly: false),
            poolSize: poolSize, tokenLifetime: .seconds(tokenTTL),
            serviceToken: environment["AGENTMITRA_DEMO_SERVICE_TOKEN"].flatMap { $0.isEmpty ? nil : ($0, serviceUser) })
        logger.info("starting", metadata: ["api": "\(listen)", "admin": "\(adminListen)"])
        let server = DemoServer(configuration: configuration, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [DemoService(server: server)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }

    static func address(_ text: String, option: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port)
        else { throw ValidationError("\(option): expected HOST:PORT, got \(text)") }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }
}
