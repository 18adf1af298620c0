import Foundation

/// One HTTP request to probe, with everything that bounds it. A value: built by the caller,
/// handed to the engine thread, never shared mutably.
public struct ProbeRequest: Sendable, Hashable {
    public enum IPVersion: String, Sendable, Hashable {
        case any, ipv4, ipv6
    }

    public struct TLSOptions: Sendable, Hashable {
        /// PEM bundle of trusted CAs; nil uses the system store.
        public var caFile: String?
        public var clientCertFile: String?
        public var clientKeyFile: String?
        public var insecureSkipVerify = false
        /// The name to present (SNI) and verify, when it differs from the URL's host. The
        /// connection still goes to the URL's host and port.
        public var serverName: String?

        public init(caFile: String? = nil, clientCertFile: String? = nil, clientKeyFile: String? = nil,
                    insecureSkipVerify: Bool = false, serverName: String? = nil) {
            self.caFile = caFile
            self.clientCertFile = clientCertFile
            self.clientKeyFile = clientKeyFile
            self.insecureSkipVerify = insecureSkipVerify
            self.serverName = serverName
        }
    }

    public var url: String
    public var method: String
    /// In order; a header may repeat.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?
    /// Bounds the whole transfer (resolve to last byte, redirects included).
    public var timeout: Duration
    public var tls: TLSOptions
    public var followRedirects: Bool
    public var maxRedirects: Int
    public var ipVersion: IPVersion
    /// `http://host:port`, `socks5://...`; nil means no proxy (environment variables are ignored).
    public var proxy: String?
    /// The transfer is aborted once the body exceeds this many bytes.
    public var maxBodyBytes: Int
    /// Sent as User-Agent unless the headers set one.
    public var userAgent: String

    public init(
        url: String,
        method: String = "GET",
        headers: [(name: String, value: String)] = [],
        body: [UInt8]? = nil,
        timeout: Duration = .seconds(5),
        tls: TLSOptions = TLSOptions(),
        followRedirects: Bool = true,
        maxRedirects: Int = 10,
        ipVersion: IPVersion = .any,
        proxy: String? = nil,
        maxBodyBytes: Int = 1 << 20,
        userAgent: String = "mitra-exporter"
    ) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.tls = tls
        self.followRedirects = followRedirects
        self.maxRedirects = maxRedirects
        self.ipVersion = ipVersion
        self.proxy = proxy
        self.maxBodyBytes = maxBodyBytes
        self.userAgent = userAgent
    }

    /// Why the request must not be sent: a CR, LF or NUL in the URL, method or a header
    /// would end the header early and let the value add headers or requests of its own.
    public var forbiddenCharacterProblem: String? {
        func bad(_ text: String) -> Bool { text.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 } }
        if bad(url) { return "the URL contains a CR, LF or NUL character" }
        if bad(method) { return "the method contains a CR, LF or NUL character" }
        for header in headers where bad(header.name) || bad(header.value) {
            return "header \(bad(header.name) ? "name" : header.name) contains a CR, LF or NUL character"
        }
        return nil
    }

    /// Whether `other` (an absolute URL) has the same scheme, host and port as `base`.
    public static func sameOrigin(_ base: String, _ other: String) -> Bool {
        guard let a = URLComponents(string: base), let b = URLComponents(string: other),
              let schemeA = a.scheme?.lowercased(), let schemeB = b.scheme?.lowercased() else { return false }
        func port(_ components: URLComponents, _ scheme: String) -> Int { components.port ?? (scheme == "https" ? 443 : 80) }
        return schemeA == schemeB && a.host?.lowercased() == b.host?.lowercased() && port(a, schemeA) == port(b, schemeB)
    }

    public static func == (lhs: ProbeRequest, rhs: ProbeRequest) -> Bool {
        lhs.url == rhs.url && lhs.method == rhs.method
            && lhs.headers.map { [$0.name, $0.value] } == rhs.headers.map { [$0.name, $0.value] }
            && lhs.body == rhs.body && lhs.timeout == rhs.timeout && lhs.tls == rhs.tls
            && lhs.followRedirects == rhs.followRedirects && lhs.maxRedirects == rhs.maxRedirects
            && lhs.ipVersion == rhs.ipVersion && lhs.proxy == rhs.proxy
            && lhs.maxBodyBytes == rhs.maxBodyBytes && lhs.userAgent == rhs.userAgent
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(url)
        hasher.combine(method)
        for header in headers {
            hasher.combine(header.name)
            hasher.combine(header.value)
        }
        hasher.combine(body)
    }
}
