#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

public struct HTTPRequestConfig: Sendable, Hashable {
    /// May contain `${variable}` references in scenarios.
    public var url: String
    public var method: String = "GET"
    public var headers: [ConfigLabel] = []
    public var body: String?
    /// The body came from `json:`: variables substituted into it are JSON-escaped.
    public var bodyIsJSON = false

    public init(url: String) {
        self.url = url
    }
}

public struct TLSClientConfig: Sendable, Hashable {
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    public var insecureSkipVerify = false
    public var serverName: String?
    public init() {}
}

public enum IPVersionPreference: String, Sendable, Hashable, CaseIterable {
    case any, ipv4, ipv6
}

/// How requests are made (shared by a check, or by every step of a scenario).
public struct HTTPClientConfig: Sendable, Hashable {
    public var tls = TLSClientConfig()
    public var followRedirects = true
    /// Redirects to another scheme, host or port are followed only when this is set, and
    /// then without the request's headers, body and client certificate.
    public var crossHostRedirects = false
    public var maxRedirects = 10
    public var ipVersion = IPVersionPreference.any
    public var proxy: String?
    /// A response body larger than this fails the probe (reason `body`) and is not kept.
    public var maxBodyBytes = 1 << 20
    public init() {}

    static let keys = ["tls", "follow_redirects", "cross_host_redirects", "max_redirects", "ip_version", "proxy", "max_body_size"]

    static func decode(_ object: ConfigObject) -> HTTPClientConfig {
        var client = HTTPClientConfig()
        if let tls = object.value("tls")?.object() {
            client.tls.caFile = tls.value("ca_file")?.readableFile()
            client.tls.certFile = tls.value("cert_file")?.readableFile()
            client.tls.keyFile = tls.value("key_file")?.readableFile()
            client.tls.insecureSkipVerify = tls.value("insecure_skip_verify")?.bool() ?? false
            client.tls.serverName = tls.value("server_name")?.nonEmptyString()
            if tls.contains("cert_file") != tls.contains("key_file") {
                tls.error("cert_file and key_file must be set together")
            }
            tls.finish()
        }
        client.followRedirects = object.value("follow_redirects")?.bool() ?? true
        client.crossHostRedirects = object.value("cross_host_redirects")?.bool() ?? false
        client.maxRedirects = object.value("max_redirects")?.int(in: 0...50) ?? 10
        if let value = object.value("ip_version"), let text = value.string() {
            if let preference = IPVersionPreference(rawValue: text) {
                client.ipVersion = preference
            } else {
                value.error("\"\(text)\" is not an IP version (any, ipv4, ipv6)")
            }
        }
        client.proxy = object.value("proxy")?.httpURL(schemes: ["http", "https", "socks5", "socks5h"])
        client.maxBodyBytes = object.value("max_body_size")?.byteSize(in: 1...(256 << 20)) ?? client.maxBodyBytes
        return client
    }
}

extension HTTPRequestConfig {
    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    static func decode(_ object: ConfigObject) -> HTTPRequestConfig? {
        let url = object.required("url")?.httpURL()
        var request = HTTPRequestConfig(url: url ?? "")
        if let value = object.value("method"), let method = value.nonEmptyString() {
            if methods.contains(method.uppercased()) {
                request.method = method.uppercased()
            } else {
                value.error("\"\(method)\" is not a method (\(methods.sorted().joined(separator: ", ")))")
            }
        }
        request.headers = object.value("headers")?.stringPairs()?.map { ConfigLabel(name: $0.key, value: $0.value) } ?? []
        for header in request.headers where !isValidHeaderName(header.name) {
            object.value("headers")?.error("\"\(header.name)\" is not a valid header name")
        }
        let body = object.value("body")
        let json = object.value("json")
        if body != nil, json != nil {
            object.error("set either body or json, not both")
        }
        if let body {
            request.body = body.string()
        } else if let json {
            request.body = json.jsonText()
            request.bodyIsJSON = true
            if !request.headers.contains(where: { $0.name.lowercased() == "content-type" }) {
                request.headers.append(ConfigLabel(name: "Content-Type", value: "application/json"))
            }
        }
        guard url != nil else { return nil }
        return request
    }

    static func isValidHeaderName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 32 && $0.value < 127 && $0 != ":" }
    }

    /// Names of `${variable}` references in the URL, header values and body.
    public var variableReferences: [String] {
        var names: [String] = []
        for text in [url, body ?? ""] + headers.map(\.value) {
            for name in Self.references(in: text) where !names.contains(name) { names.append(name) }
        }
        return names
    }

    static func references(in text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let start = rest.firstRange(of: "${") {
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else { break }
            names.append(String(rest[start.upperBound..<end]))
            rest = rest[rest.index(after: end)...]
        }
        return names
    }
}
