import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A Hummingbird server on 127.0.0.1 (a port of the kernel's choosing) that serves every
/// kind of misbehaviour a probe must survive, plus a small login/RBAC API with bearer tokens.
public enum TestServer {
    public struct Endpoints: Sendable {
        public let port: Int
        public let scheme: String
        public var base: String { "\(scheme)://127.0.0.1:\(port)" }
        public func url(_ path: String) -> String { base + path }
    }

    /// Users of the login API: phone number → (password, role).
    public static let users: [String: (password: String, role: String)] = [
        "+919876540101": ("junior-Pa55!", "role-junior-agent"),
        "+919876540102": ("holder-Pa55!", "role-policyholder"),
        "+919876540103": ("admin-Pa55!", "role-super-admin"),
    ]

    /// Which permissions each role holds.
    public static let permissions: [String: Set<String>] = [
        "role-junior-agent": ["policies.read", "quotes.create"],
        "role-policyholder": ["policies.read.own"],
        "role-super-admin": ["policies.read", "quotes.create", "analytics.read", "agents.read"],
    ]

    final class Tokens: Sendable {
        private let roles = Mutex<[String: String]>([:])
        func issue(role: String) -> String {
            let token = "tok-" + UUID().uuidString.lowercased()
            roles.withLock { $0[token] = role }
            return token
        }
        func role(for request: Request) -> String? {
            guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return nil }
            let token = String(header.dropFirst("Bearer ".count))
            return roles.withLock { $0[token] }
        }
    }

    /// Runs the server for the duration of `body`; the server stops when `body` returns.
    public static func withServer<T: Sendable>(
        tls: TLSConfiguration? = nil,
        _ body: @Sendable (Endpoints) async throws -> T
    ) async throws -> T {
        let router = makeRouter()
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        var configuration = ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0))
        configuration.serverName = nil
        var logger = Logger(label: "test-server")
        logger.logLevel = .critical
        let onRunning: @Sendable (any Channel) async -> Void = { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
            portContinuation.finish()
        }
        let app: Application<RouterResponder<BasicRequestContext>>
        if let tls {
            app = Application(router: router, server: try .tls(.http1(), tlsConfiguration: tls),
                              configuration: configuration, onServerRunning: onRunning, logger: logger)
        } else {
            app = Application(router: router, configuration: configuration, onServerRunning: onRunning, logger: logger)
        }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await app.run()
                return nil
            }
            var port = 0
            for await value in portStream {
                port = value
                break
            }
            let endpoints = Endpoints(port: port, scheme: tls == nil ? "http" : "https")
            let result = try await body(endpoints)
            group.cancelAll()
            return result
        }
    }

    public static func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        let tokens = Tokens()

        router.get("/ok") { _, _ in "ok" }
        router.get("/status/:code") { _, context -> Response in
            let code = context.parameters.get("code", as: Int.self) ?? 500
            return text("status \(code)", status: code)
        }
        router.get("/json") { _, _ -> Response in
            json(#"{"role":"role-junior-agent","count":3,"ok":true,"missing":null,"items":[{"status":"active","id":7},{"status":"lapsed","id":8}],"nested":{"a":{"b":"deep"}}}"#,
                 headers: [.init("X-Request-Id")!: "req-42"])
        }
        router.get("/array") { _, _ -> Response in
            json(#"[{"status":"active"},{"status":"lapsed"}]"#)
        }
        router.get("/badjson") { _, _ -> Response in json(#"{"role": "#) }
        router.get("/slow") { request, _ -> Response in
            let milliseconds = Int(request.uri.queryParameters["ms"].map(String.init) ?? "") ?? 500
            try await Task.sleep(for: .milliseconds(milliseconds))
            return text("slow")
        }
        router.get("/drip") { request, _ -> Response in
            let bytes = Int(request.uri.queryParameters["bytes"].map(String.init) ?? "") ?? 100
            let interval = Int(request.uri.queryParameters["ms"].map(String.init) ?? "") ?? 100
            return Response(status: .ok, headers: [.contentType: "text/plain"], body: ResponseBody { writer in
                for _ in 0..<bytes {
                    try await writer.write(ByteBuffer(string: "."))
                    try await Task.sleep(for: .milliseconds(interval))
                }
                try await writer.finish(nil)
            })
        }
        router.get("/huge") { request, _ -> Response in
            let bytes = Int(request.uri.queryParameters["bytes"].map(String.init) ?? "") ?? 10_000_000
            let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)
            return Response(status: .ok, headers: [.contentType: "text/plain"], body: ResponseBody(contentLength: bytes) { writer in
                var remaining = bytes
                while remaining > 0 {
                    let size = min(remaining, chunk.readableBytes)
                    try await writer.write(chunk.getSlice(at: 0, length: size)!)
                    remaining -= size
                }
                try await writer.finish(nil)
            })
        }
        router.get("/redirect-to") { request, _ -> Response in
            let target = request.uri.queryParameters["url"].map(String.init) ?? "/ok"
            return Response(status: .found, headers: [.location: target])
        }
        // About 1 MB of short runs that make a backtracking regex like (x+x+)+y exponential at every run.
        router.get("/redos") { _, _ -> Response in
            text(String(repeating: String(repeating: "x", count: 30) + "!", count: 1_000_000 / 31))
        }
        // The same, after 72 KiB of headers (more than the probe keeps).
        router.get("/redirect-padded") { request, _ -> Response in
            var headers = HTTPFields()
            for index in 0..<9 { headers[.init("X-Pad-\(index)")!] = String(repeating: "p", count: 8192) }
            headers[.location] = request.uri.queryParameters["url"].map(String.init) ?? "/ok"
            return Response(status: .found, headers: headers)
        }
        router.get("/crlf") { _, _ -> Response in json(#"{"value":"abc\r\nX-Injected: yes"}"#) }
        router.get("/loop") { _, _ -> Response in
            Response(status: .found, headers: [.location: "/loop"])
        }
        router.get("/redirect") { _, _ -> Response in
            Response(status: .found, headers: [.location: "/redirect2"])
        }
        router.get("/redirect2") { _, _ -> Response in
            Response(status: .found, headers: [.location: "/ok"])
        }
        router.on("/echo", method: .post) { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            var headers = HTTPFields()
            headers[.contentType] = request.headers[.contentType] ?? "application/octet-stream"
            headers[.init("X-Method")!] = request.method.rawValue
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: body))
        }
        router.on("/echo", method: .put) { request, _ -> Response in
            text("method \(request.method.rawValue)")
        }
        router.get("/headers") { request, _ -> Response in
            var object: [String: String] = [:]
            for field in request.headers { object[field.name.canonicalName] = field.value }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            return json(String(decoding: data, as: UTF8.self))
        }

        // The login/RBAC API, shaped like Agent Mitra's.
        router.post("/auth/login") { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 64 * 1024)
            guard let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
                  let phone = object["phone_number"] as? String, let password = object["password"] as? String
            else { return json(#"{"detail":"invalid request"}"#, status: 422) }
            guard let user = users[phone], user.password == password else {
                return json(#"{"detail":"invalid credentials"}"#, status: 401)
            }
            let token = tokens.issue(role: user.role)
            return json(#"{"access_token":"\#(token)","refresh_token":"refresh-\#(token)","token_type":"bearer"}"#,
                        headers: [.init("X-Session")!: "sess-\(token)"])
        }
        // A login whose token is named `jwt`, echoed under a harmless name and repeated in
        // credential-like headers; slow enough to fail a tight max_duration.
        router.post("/auth/jwt-login") { _, _ -> Response in
            try await Task.sleep(for: .milliseconds(30))
            let token = tokens.issue(role: "role-junior-agent")
            return json(#"{"jwt":"\#(token)","echo":"\#(token)","token_type":"bearer"}"#,
                        headers: [.init("X-Refresh-Token")!: "refresh-\(token)", .init("X-Internal-Sig")!: "sig-\(token)",
                                  .init("X-Request-Id")!: "req-42"])
        }
        router.get("/users/me") { request, _ -> Response in
            guard let role = tokens.role(for: request) else { return json(#"{"detail":"not authenticated"}"#, status: 401) }
            return json(#"{"user_id":"u-1","role":"\#(role)","name":"Test User"}"#)
        }
        router.get("/users/me/preferences") { request, _ -> Response in
            guard tokens.role(for: request) != nil else { return json(#"{"detail":"not authenticated"}"#, status: 401) }
            return json(#"{"language":"en","theme":"dark"}"#)
        }
        router.post("/rbac/check-permission") { request, _ -> Response in
            guard let role = tokens.role(for: request) else { return json(#"{"detail":"not authenticated"}"#, status: 401) }
            var request = request
            let body = try await request.collectBody(upTo: 64 * 1024)
            let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]
            let permission = object?["permission"] as? String ?? ""
            let allowed = permissions[role]?.contains(permission) ?? false
            return json(#"{"permission":"\#(permission)","allowed":\#(allowed)}"#)
        }
        router.get("/policies/") { request, _ -> Response in
            guard let role = tokens.role(for: request) else { return json(#"{"detail":"not authenticated"}"#, status: 401) }
            guard permissions[role]?.contains("policies.read") == true else { return json(#"{"detail":"forbidden"}"#, status: 403) }
            return json(#"[{"policy_id":"p-1","status":"active"}]"#)
        }
        return router
    }

    public static func text(_ body: String, status: Int = 200) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "text/plain; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    public static func json(_ body: String, status: Int = 200, headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        headers.append(contentsOf: extra)
        return Response(status: .init(code: status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}

/// A TCP listener that completes handshakes (in the kernel backlog) but never reads or
/// answers: the "hung server". Closed by `close()`.
public final class HangingListener: Sendable {
    public let port: Int
    private let descriptor: Int32

    /// With `listening: false` the port stays reserved but refuses connections.
    public init(listening: Bool = true) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, !listening || listen(descriptor, 512) == 0 else {
            Glibc.close(descriptor)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    public func close() {
        Glibc.close(descriptor)
    }

    /// A loopback port that refuses connections: bound (so no other test can take it) but
    /// not listening. Reserved until the process exits, which keeps it simple to share.
    public static func closedPort() throws -> Int {
        try HangingListener(listening: false).port
    }
}
