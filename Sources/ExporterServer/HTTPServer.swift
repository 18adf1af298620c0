public import ExporterConfig
import Exposition
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
public import Hummingbird
import HummingbirdCore
import HTTPTypes
import HummingbirdAuth
import HummingbirdTLS
public import Logging
import NIOCore
import NIOSSL
import Sampling

/// `--web.listen-address`: `:9741`, `127.0.0.1:9741`, `[::1]:9741`, `localhost:0`.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "0.0.0.0" }
        if host.contains(":") && !text.hasPrefix("[") { return nil }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

public enum ServerSetupError: Error, CustomStringConvertible {
    case tls(file: String, reason: String)

    public var description: String {
        switch self {
        case .tls(let file, let reason): "web config \(file): \(reason)"
        }
    }
}

/// What the HTTP server exposes beyond the read-only endpoints. The defaults are the safe
/// ones: anyone who can reach the port may read metrics, but not change the exporter's state.
public struct ServerOptions: Sendable {
    /// `--web.enable-lifecycle`: whether `POST /-/reload` works. Off by default, as in
    /// Prometheus: a reload re-reads secrets and restarts every sampler, which nobody on the
    /// network should be able to trigger. SIGHUP always reloads.
    public var enableLifecycle: Bool
    /// `--web.disable-trace` turns this off: `/trace` shows requests and (redacted) bodies.
    public var enableTrace: Bool
    public var limits: ConnectionLimits

    public init(enableLifecycle: Bool = false, enableTrace: Bool = true, limits: ConnectionLimits = ConnectionLimits()) {
        self.enableLifecycle = enableLifecycle
        self.enableTrace = enableTrace
        self.limits = limits
    }
}

public enum ExporterHTTPServer {
    public static let metricsPath = "/metrics"

    static let lifecycleDisabledMessage = "The lifecycle API is disabled: start the exporter with --web.enable-lifecycle to allow POST /-/reload, or send it SIGHUP\n"
    /// What `basic_auth_exempt_health_endpoints` opens: exactly these paths, nothing below them.
    static let healthPaths: Set<String> = ["/-/healthy", "/-/ready"]
    static let traceDisabledMessage = "Traces are disabled (--web.disable-trace)\n"

    /// The router with every endpoint, behind basic auth and the configured response headers.
    public static func makeRouter(runtime: ExporterRuntime, webConfig: WebConfig, options: ServerOptions = ServerOptions(),
                                  logger: Logger) -> Router<BasicRequestContext> {
        makeRouter(runtime: runtime, webState: WebConfigState(config: webConfig), options: options, logger: logger)
    }

    /// The router reading basic auth users and response headers from `webState` on every
    /// request, so a reload of the web config takes effect at once.
    public static func makeRouter(runtime: ExporterRuntime, webState: WebConfigState, options: ServerOptions = ServerOptions(),
                                  logger: Logger) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ResponseHeadersMiddleware(webState: webState))
        router.add(middleware: BasicAuthMiddleware(webState: webState))

        router.get(RouterPath(stringLiteral: metricsPath)) { request, _ -> Response in
            let format = ExpositionFormat.negotiate(accept: request.headers[.accept])
            var headers: HTTPFields = [.contentType: format.contentType, .vary: "Accept, Accept-Encoding"]
            let body = runtime.scrapeBody(format: format)
            // A body zlib cannot compress (it has no other failure than memory) goes out plain.
            if acceptsGzip(request.headers[.acceptEncoding]), let compressed = try? runtime.gzip(body) {
                headers[.contentEncoding] = "gzip"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: compressed))
            }
            var buffer = ByteBufferAllocator().buffer(capacity: body.byteCount)
            body.write(into: &buffer)
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: buffer))
        }
        router.get("/-/healthy") { _, _ in text(.ok, "Healthy\n") }
        router.get("/-/ready") { _, _ in
            runtime.isReady ? text(.ok, "Ready\n") : text(.serviceUnavailable, "Not ready: waiting for the first run of every collector\n")
        }
        router.post("/-/reload") { _, _ in
            guard options.enableLifecycle else { return text(.forbidden, lifecycleDisabledMessage) }
            switch runtime.reload() {
            case .success: return text(.ok, "Configuration reloaded\n")
            case .failure(let errors):
                return text(.internalServerError, "Configuration reload failed; the previous configuration keeps running:\n\(runtime.redactor.redact(errors.description))\n")
            }
        }
        router.get("/-/reload") { _, _ in
            var response = text(.methodNotAllowed, "Use POST to reload the configuration\n")
            response.headers[.allow] = "POST"
            return response
        }
        router.get("/") { _, _ in
            let traceIDs = options.enableTrace ? Set(runtime.runningSamplers.filter { $0 is any TraceReporting }.map(\.id)) : []
            let page = StatusPage.render(runtime: runtime, now: runtime.store.clock.now(), traceIDs: traceIDs)
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: page)))
        }
        router.get("/trace") { request, _ in
            guard options.enableTrace else { return text(.forbidden, traceDisabledMessage) }
            guard let id = request.uri.queryParameters.get("id") else { return text(.badRequest, "missing ?id=<sampler id>\n") }
            guard let reporter = runtime.sampler(id: id) as? any TraceReporting else {
                return text(.notFound, "no HTTP check or scenario with id \(runtime.redactor.redact(id))\n")
            }
            return text(.ok, runtime.redactor.redact(reporter.traceReport()))
        }
        return router
    }

    static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// True when the client lists gzip (or `*`) with a non-zero quality.
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        for entry in header.split(separator: ",") {
            let parts = entry.split(separator: ";").map { $0.trimmingSpaces().lowercased() }
            guard let coding = parts.first, coding == "gzip" || coding == "*" else { continue }
            let quality = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            if quality > 0 { return true }
        }
        return false
    }

    /// Builds the NIOSSL server configuration from the web config's TLS section.
    public static func tlsConfiguration(_ tls: WebConfig.TLS) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(tls.certFile)
        } catch {
            throw ServerSetupError.tls(file: tls.certFile, reason: "cannot load certificate: \(error)")
        }
        do {
            key = try NIOSSLPrivateKey(file: tls.keyFile, format: .pem)
        } catch {
            throw ServerSetupError.tls(file: tls.keyFile, reason: "cannot load private key: \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = tls.minVersion == .tls13 ? .tlsv13 : .tlsv12
        if let max = tls.maxVersion { configuration.maximumTLSVersion = max == .tls13 ? .tlsv13 : .tlsv12 }
        switch tls.clientAuth {
        case .noClientCert, .requestClientCert:
            configuration.certificateVerification = .none
        case .requireAnyClientCert, .verifyClientCertIfGiven, .requireAndVerifyClientCert:
            configuration.certificateVerification = .noHostnameVerification
        }
        if let caFile = tls.clientCAFile {
            configuration.trustRoots = .file(caFile)
        }
        return configuration
    }

    /// The Hummingbird application serving the exporter, plain or TLS per the web config.
    public static func makeApplication(
        runtime: ExporterRuntime, address: ListenAddress, webState: WebConfigState, options: ServerOptions = ServerOptions(), logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let router = makeRouter(runtime: runtime, webState: webState, options: options, logger: logger)
        let webConfig = webState.current.config
        let configuration = ApplicationConfiguration(address: .hostname(address.host, port: address.port), serverName: nil)
        let limiter = ConnectionLimiter(maxConnections: options.limits.maxConnections)
        let headerBytes = options.limits.maxHeaderBytes
        let http1 = HTTPServerBuilder.http1(configuration: .init(
            additionalChannelHandlers: [ConnectionLimitHandler(limiter: limiter)],
            idleTimeout: .nanoseconds(Int64(options.limits.idleTimeout.components.seconds) * 1_000_000_000
                + options.limits.idleTimeout.components.attoseconds / 1_000_000_000),
            httpDecoderConfiguration: .init(maxHeaderFieldSize: headerBytes, maxHeaderListSize: headerBytes, maxHeaderFieldCount: 100)))
        let server: HTTPServerBuilder = if let tls = webConfig.tls {
            try .tls(http1, tlsConfiguration: {
                var configuration = try tlsConfiguration(tls)
                // Each handshake takes the certificate in effect (re-read on reload).
                configuration.sslContextCallback = webState.contextCallback
                return configuration
            }())
        } else {
            http1
        }
        return Application(router: router, server: server, configuration: configuration, onServerRunning: onServerRunning, logger: logger)
    }
}

struct BasicAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let webState: WebConfigState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let active = webState.current
        let authenticator = active.authenticator
        if active.config.exemptHealthEndpointsFromAuth, request.method == .get,
           ExporterHTTPServer.healthPaths.contains(request.uri.path) {
            return try await next(request, context)
        }
        guard !authenticator.isEnabled || authenticator.authenticate(request.headers.basic) else {
            var response = ExporterHTTPServer.text(.unauthorized, "Unauthorized\n")
            response.headers[.wwwAuthenticate] = "Basic realm=\"mitra-exporter\""
            return response
        }
        return try await next(request, context)
    }
}

struct ResponseHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    let webState: WebConfigState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        for header in webState.current.config.headers {
            if let name = HTTPField.Name(header.name) { response.headers[name] = header.value }
        }
        return response
    }
}
