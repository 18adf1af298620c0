import Foundation

/// `--web.config.file`, in the Prometheus exporter-toolkit format:
///
/// ```yaml
/// tls_server_config: {cert_file: server.crt, key_file: server.key,
///                     client_auth_type: RequireAndVerifyClientCert, client_ca_file: ca.crt,
///                     min_version: TLS12}
/// http_server_config: {headers: {X-Frame-Options: deny}}
/// basic_auth_users: {prometheus: $2y$10$...}
/// basic_auth_exempt_health_endpoints: true   # our own key; default false
/// ```
public struct WebConfig: Sendable, Hashable {
    public struct TLS: Sendable, Hashable {
        public enum ClientAuth: String, Sendable, Hashable, CaseIterable {
            case noClientCert = "NoClientCert"
            case requestClientCert = "RequestClientCert"
            case requireAnyClientCert = "RequireAnyClientCert"
            case verifyClientCertIfGiven = "VerifyClientCertIfGiven"
            case requireAndVerifyClientCert = "RequireAndVerifyClientCert"
        }
        public enum Version: String, Sendable, Hashable, CaseIterable {
            case tls12 = "TLS12", tls13 = "TLS13"
        }
        public var certFile: String
        public var keyFile: String
        public var clientAuth: ClientAuth = .noClientCert
        public var clientCAFile: String?
        public var minVersion: Version = .tls12
        public var maxVersion: Version?
    }

    public var tls: TLS?
    /// User name → bcrypt hash.
    public var basicAuthUsers: [String: String] = [:]
    public var headers: [ConfigLabel] = []
    /// `basic_auth_exempt_health_endpoints`: `/-/healthy` and `/-/ready` answer without
    /// credentials, for Kubernetes probes and load balancers that cannot send them. Off by
    /// default; an explicit key rather than a path list, so no other endpoint can be opened
    /// by a typo. The two endpoints only say "up" and "ready".
    public var exemptHealthEndpointsFromAuth = false

    public init() {}

    public static func load(path: String) throws(ConfigErrors) -> WebConfig {
        let data: Data
        switch FileContents.read(path) {
        case .success(let contents): data = contents
        case .failure(let failure): throw ConfigErrors([ConfigError(file: path, line: 1, column: 1, path: "", message: failure.reason)])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigErrors([ConfigError(file: path, line: 1, column: 1, path: "", message: "file is not UTF-8")])
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(ConfigErrors) -> WebConfig {
        let context = DecodeContext(file: file, resolver: SecretResolver())
        var config = WebConfig()
        let baseDirectory = (file as NSString).deletingLastPathComponent
        if let root = try YAMLLoader.compose(text, file: file), let object = ConfigValue(node: root, path: "", context: context).object() {
            if let tlsObject = object.value("tls_server_config")?.object() {
                config.tls = decodeTLS(tlsObject, baseDirectory: baseDirectory)
            }
            if let http = object.value("http_server_config")?.object() {
                if let http2 = http.value("http2")?.bool(), http2 {
                    http.value("http2")?.error("HTTP/2 is not supported; remove the key or set it to false")
                }
                config.headers = http.value("headers")?.stringPairs()?.map { ConfigLabel(name: $0.key, value: $0.value) } ?? []
                http.finish()
            }
            if let users = object.value("basic_auth_users")?.object() {
                for user in users.keys {
                    guard let value = users.value(user), let hash = value.string() else { continue }
                    if !isBcryptHash(hash) {
                        value.error("not a bcrypt hash (expected $2a$, $2b$ or $2y$ followed by a cost and 53 characters)")
                        continue
                    }
                    config.basicAuthUsers[user] = hash
                }
                users.finish()
            }
            if let exempt = object.value("basic_auth_exempt_health_endpoints")?.bool() {
                config.exemptHealthEndpointsFromAuth = exempt
            }
            object.finish()
        }
        if !context.errors.isEmpty { throw ConfigErrors(context.errors) }
        return config
    }

    private static func decodeTLS(_ object: ConfigObject, baseDirectory: String) -> TLS? {
        func path(_ key: String, required: Bool) -> String? {
            guard let value = required ? object.required(key) : object.value(key), let text = value.nonEmptyString() else { return nil }
            let resolved = text.hasPrefix("/") || baseDirectory.isEmpty ? text : baseDirectory + "/" + text
            guard FileManager.default.isReadableFile(atPath: resolved) else {
                value.error("cannot read \(resolved)")
                return nil
            }
            return resolved
        }
        let cert = path("cert_file", required: true)
        let key = path("key_file", required: true)
        var clientAuth = TLS.ClientAuth.noClientCert
        if let value = object.value("client_auth_type"), let text = value.string() {
            if let parsed = TLS.ClientAuth(rawValue: text) {
                clientAuth = parsed
            } else {
                value.error("unknown client_auth_type \"\(text)\" (known: \(TLS.ClientAuth.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        let clientCA = path("client_ca_file", required: false)
        if clientCA == nil, clientAuth == .requireAndVerifyClientCert || clientAuth == .verifyClientCertIfGiven, !object.contains("client_ca_file") {
            object.error("client_auth_type \(clientAuth.rawValue) needs client_ca_file")
        }
        func version(_ key: String) -> TLS.Version? {
            guard let value = object.value(key), let text = value.string() else { return nil }
            guard let parsed = TLS.Version(rawValue: text) else {
                value.error("unsupported TLS version \"\(text)\" (supported: TLS12, TLS13)")
                return nil
            }
            return parsed
        }
        let minVersion = version("min_version") ?? .tls12
        let maxVersion = version("max_version")
        for unsupported in ["cipher_suites", "curve_preferences", "prefer_server_cipher_suites", "client_allowed_sans"] where object.contains(unsupported) {
            object.value(unsupported)?.error("not supported by this exporter; remove it")
        }
        object.finish()
        guard let cert, let key else { return nil }
        return TLS(certFile: cert, keyFile: key, clientAuth: clientAuth, clientCAFile: clientCA, minVersion: minVersion, maxVersion: maxVersion)
    }

    static func isBcryptHash(_ text: String) -> Bool {
        let parts = text.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].isEmpty, ["2a", "2b", "2y"].contains(parts[1]),
              let cost = Int(parts[2]), (4...31).contains(cost), parts[2].count == 2, parts[3].count == 53
        else { return false }
        return true
    }
}
