public import ExporterConfig
import Exposition
import Foundation
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

public enum ExporterHTTPServer {
    public static let metricsPath = "/metrics"

    /// The router with every endpoint, behind basic auth and the configured response headers.
    public static func makeRouter(runtime: ExporterRuntime, webConfig: WebConfig, logger: Logger) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        if !webConfig.headers.isEmpty { router.add(middleware: ResponseHeadersMiddleware(headers: webConfig.headers)) }
        let authenticator = BasicAuthenticator(users: webConfig.basicAuthUsers)
        if authenticator.isEnabled { router.add(middleware: BasicAuthMiddleware(authenticator: authenticator)) }

        router.get(RouterPath(stringLiteral: metricsPath)) { request, _ -> Response in
            let format = ExpositionFormat.negotiate(accept: request.headers[.accept])
            var headers: HTTPFields = [.contentType: format.contentType, .vary: "Accept, Accept-Encoding"]
            if acceptsGzip(request.headers[.acceptEncoding]), let compressed = try? runtime.gzipMetricsBody(format: format) {
                headers[.contentEncoding] = "gzip"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: compressed))
            }
            let parts = runtime.metricsBodyParts(format: format)
            var buffer = ByteBufferAllocator().buffer(capacity: parts.reduce(0) { $0 + $1.utf8.count })
            for part in parts { buffer.writeString(part) }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: buffer))
        }
        router.get("/-/healthy") { _, _ in text(.ok, "Healthy\n") }
        router.get("/-/ready") { _, _ in
            runtime.isReady ? text(.ok, "Ready\n") : text(.serviceUnavailable, "Not ready: waiting for the first run of every collector\n")
        }
        router.post("/-/reload") { _, _ in
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
            let traceIDs = Set(runtime.runningSamplers.filter { $0 is any TraceReporting }.map(\.id))
            let page = StatusPage.render(runtime: runtime, now: runtime.store.clock.now(), traceIDs: traceIDs)
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: page)))
        }
        router.get("/trace") { request, _ in
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
            let parts = entry.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
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
        runtime: ExporterRuntime, address: ListenAddress, webConfig: WebConfig, logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let router = makeRouter(runtime: runtime, webConfig: webConfig, logger: logger)
        let configuration = ApplicationConfiguration(address: .hostname(address.host, port: address.port), serverName: nil)
        let server: HTTPServerBuilder = if let tls = webConfig.tls {
            try .tls(.http1(), tlsConfiguration: tlsConfiguration(tls))
        } else {
            .http1()
        }
        return Application(router: router, server: server, configuration: configuration, onServerRunning: onServerRunning, logger: logger)
    }
}

struct BasicAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let authenticator: BasicAuthenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard authenticator.authenticate(request.headers.basic) else {
            var response = ExporterHTTPServer.text(.unauthorized, "Unauthorized\n")
            response.headers[.wwwAuthenticate] = "Basic realm=\"mitra-exporter\""
            return response
        }
        return try await next(request, context)
    }
}

struct ResponseHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    let headers: [ConfigLabel]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        for header in headers {
            if let name = HTTPField.Name(header.name) { response.headers[name] = header.value }
        }
        return response
    }
}
