import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresClient
import ServiceLifecycle
import Synchronization

struct DemoServerConfiguration: Sendable {
    var host = "127.0.0.1"
    /// 0 picks a free port (tests); the same port is reused after a `refuse` outage.
    var port = 8000
    var adminHost = "127.0.0.1"
    var adminPort = 8001
    /// When set, the admin listener wants it in `X-Demo-Admin-Secret`.
    var adminSecret: String?
    var database: PostgresConnectionSettings
    var poolSize = 4
    var tokenLifetime: Duration = .seconds(3600)
    var auditFlushInterval: Duration = .milliseconds(200)
    var hangLimit: Duration = .seconds(120)
    /// A static bearer token for monitoring checks, acting as the user with this phone number.
    var serviceToken: (token: String, phoneNumber: String)?
}

/// The ports actually bound, for tests that listen on port 0 and for the startup log.
final class BoundPorts: Sendable {
    private let state = Mutex<(api: Int?, admin: Int?, apiListening: Bool)>((nil, nil, false))

    var api: Int? { state.withLock { $0.api } }
    var admin: Int? { state.withLock { $0.admin } }
    var apiListening: Bool { state.withLock { $0.apiListening } }

    fileprivate func setAPI(_ port: Int?, listening: Bool) {
        state.withLock { state in
            if let port { state.api = port }
            state.apiListening = listening
        }
    }

    fileprivate func setAdmin(_ port: Int?) { state.withLock { $0.admin = port } }
}

/// The demo Agent Mitra backend: the public API, the admin listener for the failure
/// switches, and the audit writer, running until cancelled.
struct DemoServer: Sendable {
    let configuration: DemoServerConfiguration
    let world: DemoWorld
    let ports = BoundPorts()
    let logger: Logger

    init(configuration: DemoServerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        var world = DemoWorld(
            database: DatabasePool(settings: configuration.database, size: configuration.poolSize),
            tokens: TokenStore(lifetime: configuration.tokenLifetime),
            switches: SwitchBoard(),
            audit: AuditLog(),
            logger: logger)
        world.hangLimit = configuration.hangLimit
        world.serviceToken = configuration.serviceToken.map { ServiceToken(token: $0.token, phoneNumber: $0.phoneNumber) }
        self.world = world
    }

    /// Runs until cancelled or, inside a service group, until graceful shutdown: then the
    /// listeners close and the audit writer flushes what is left.
    func run() async throws {
        let writer = AuditWriter(log: world.audit, settings: configuration.database,
                                 interval: configuration.auditFlushInterval, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await writer.run() }
            group.addTask { try await runAdmin() }
            group.addTask { try await superviseAPI() }
            // A listener that fails (e.g. its port is taken) ends the others by throwing out
            // of the group.
            while try await group.next() != nil {}
        }
        await world.database.closeAll()
    }

    // MARK: - Public API

    func makeRouter() -> Router<DemoRequestContext> {
        let router = Router(context: DemoRequestContext.self)
        let world = self.world
        for endpoint in world.endpoints {
            router.on(RouterPath(endpoint.route), method: endpoint.method) { request, context in
                try await world.respond(to: request, context: context, endpoint: endpoint)
            }
        }
        return router
    }

    static var routes: Set<String> {
        ["/health", "/auth/login", "/users/me", "/users/me/preferences", "/rbac/check-permission",
         "/policies/", "/agents/", "/analytics/dashboard", "/quotes/", "/leads/"]
    }

    /// Runs the API listener, closing it while the `refuse` switch is on and opening it again
    /// on the same port when it is switched off.
    private func superviseAPI() async throws {
        var port = configuration.port
        let switches = world.switches
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            if switches.current.down == .refuse {
                try await Task.sleep(for: .milliseconds(50))
                continue
            }
            let ports = self.ports
            let app = Application(
                router: makeRouter(),
                configuration: .init(address: .hostname(configuration.host, port: port), serverName: "agentmitra-demo-api"),
                onServerRunning: { channel in ports.setAPI(channel.localAddress?.port, listening: true) },
                logger: logger)
            // Its own group, so that `refuse` can shut the listener down gracefully (in-flight
            // requests finish) while the rest of the server keeps running.
            let listener = ServiceGroup(configuration: .init(
                services: [NamedService(name: "api-listener", base: app)], logger: logger))
            enum Ended { case listener, watcher }
            try await withThrowingTaskGroup(of: Ended.self) { group in
                group.addTask {
                    try await listener.run()
                    return .listener
                }
                group.addTask {
                    while switches.current.down != .refuse, !Task.isShuttingDownGracefully, !Task.isCancelled {
                        try? await Task.sleep(for: .milliseconds(50))
                    }
                    await listener.triggerGracefulShutdown()
                    return .watcher
                }
                // A listener error (e.g. the port is taken) is thrown from here; a listener that
                // ended on its own must not leave the watcher polling forever.
                while let ended = try await group.next() {
                    if ended == .listener { group.cancelAll() }
                }
            }
            ports.setAPI(nil, listening: false)
            port = ports.api ?? port
            if switches.current.down == .refuse { logger.notice("API listener closed: down=refuse") }
        }
    }

    // MARK: - Admin listener

    private func runAdmin() async throws {
        let router = Router()
        let switches = world.switches
        let secret = configuration.adminSecret
        let logger = self.logger
        let tokens = world.tokens
        let audit = world.audit
        let ports = self.ports

        @Sendable func authorised(_ request: Request) -> Bool {
            guard let secret else { return true }
            return constantTimeEqual(request.headers[HTTPField.Name("X-Demo-Admin-Secret")!] ?? "", secret)
        }
        @Sendable func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
            Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }

        router.get("/health") { _, _ in
            json(.ok, JSON.encode(AdminState(apiListening: ports.apiListening, sessions: tokens.count,
                                             pendingAuditRows: audit.pendingCount)))
        }
        router.get("/switches") { request, _ in
            guard authorised(request) else { return json(.unauthorized, JSON.detail("wrong or missing X-Demo-Admin-Secret")) }
            return json(.ok, JSON.encode(switches.current))
        }
        router.put("/switches") { request, _ in
            guard authorised(request) else { return json(.unauthorized, JSON.detail("wrong or missing X-Demo-Admin-Secret")) }
            var request = request
            let body = try await request.collectBody(upTo: 64 * 1024)
            let decoded: FailureSwitches
            do {
                decoded = try JSONDecoder().decode(FailureSwitches.self, from: Data(body.readableBytesView))
            } catch {
                return json(.unprocessableContent, JSON.detail("switches: not a switches object: \(error)"))
            }
            let problems = decoded.problems(knownRoutes: Self.routes)
            guard problems.isEmpty else { return json(.unprocessableContent, JSON.detail("switches: " + problems.joined(separator: "; "))) }
            switches.replace(with: decoded)
            logger.notice("failure switches set: \(JSON.encode(decoded))")
            return json(.ok, JSON.encode(decoded))
        }
        router.delete("/switches") { request, _ in
            guard authorised(request) else { return json(.unauthorized, JSON.detail("wrong or missing X-Demo-Admin-Secret")) }
            switches.replace(with: FailureSwitches())
            logger.notice("failure switches cleared")
            return json(.ok, JSON.encode(FailureSwitches()))
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.adminHost, port: configuration.adminPort),
                                 serverName: "agentmitra-demo-admin"),
            onServerRunning: { channel in ports.setAdmin(channel.localAddress?.port) },
            logger: logger)
        try await ServiceGroup(configuration: .init(services: [NamedService(name: "admin-listener", base: app)],
                                                    logger: logger)).run()
    }
}

/// A service that describes itself by name: service groups log their services, and the
/// default description of a struct would print its configuration (including the DSN).
struct NamedService: Service, CustomStringConvertible {
    let name: String
    let base: any Service
    var description: String { name }
    func run() async throws { try await base.run() }
}

private struct AdminState: Encodable {
    var apiListening: Bool
    var sessions: Int
    var pendingAuditRows: Int
    enum CodingKeys: String, CodingKey {
        case apiListening = "api_listening"
        case sessions
        case pendingAuditRows = "pending_audit_rows"
    }
}

/// Compares secrets without stopping at the first differing byte.
func constantTimeEqual(_ given: String, _ expected: String) -> Bool {
    let a = Array(given.utf8), b = Array(expected.utf8)
    var difference = UInt8(a.count == b.count ? 0 : 1)
    for index in 0..<max(a.count, b.count) {
        difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
    }
    return difference == 0
}

/// The demo server as the service of the process's group: SIGTERM/SIGINT shut it down
/// gracefully (listeners close, the audit writer flushes).
struct DemoService: Service, CustomStringConvertible {
    let server: DemoServer
    var description: String { "agentmitra-demo-api" }

    func run() async throws {
        try await server.run()
    }
}
