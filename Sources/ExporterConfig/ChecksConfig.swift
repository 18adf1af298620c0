import Foundation
import Yams

/// `checks:` and `scenarios:` — HTTP checks and multi-step scenarios.
///
/// ```yaml
/// checks:
///   - name: policies
///     url: https://api.example/policies/
///     method: GET                      # default GET
///     headers: {Authorization: "Bearer ${env:TOKEN}"}
///     body: "raw text"                 # or json: {any: yaml}  (sets Content-Type)
///     interval: 15s
///     timeout: 5s
///     labels: {endpoint: /policies/}
///     expect:
///       status: [200, 2xx]             # default 2xx
///       body_matches: ["policy_id"]    # regexes that must match
///       body_not_matches: ["error"]    # regexes that must not match
///       json: {"$[0].status": active, "$.count": {matches: "^[0-9]+$"}, "$.x": {exists: false}}
///       headers: {Content-Type: "^application/json"}   # value regexes; the header must be present
///       max_duration: 1s
///     tls: {ca_file: ..., cert_file: ..., key_file: ..., insecure_skip_verify: false, server_name: ...}
///                                      # server_name is sent as SNI and Host and verified;
///                                      # the connection still goes to the URL's host:port
///     follow_redirects: true
///     max_redirects: 10
///     ip_version: any                  # any, ipv4, ipv6
///     proxy: http://proxy:3128
///     max_body_size: 1MiB              # a larger body fails the check (reason body)
/// scenarios:
///   - name: login-junior-agent
///     variables: {base: "http://127.0.0.1:8000"}
///     (the client options above apply to every step)
///     steps:
///       - name: login
///         method: POST
///         url: ${base}/auth/login
///         json: {phone_number: "+919876540101", password: "${env:PASSWORD}"}
///         extract: {token: "$.access_token", session: {header: X-Session}, id: {regex: "id=(\\d+)"}}
///       - name: me
///         url: ${base}/users/me
///         headers: {Authorization: "Bearer ${token}"}
///         expect: {json: {"$.role": role-junior-agent}}
/// ```

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

public enum StatusMatcher: Sendable, Hashable, CustomStringConvertible {
    case code(Int)
    case classOf(Int)   // 2 for "2xx"

    public func matches(_ status: Int) -> Bool {
        switch self {
        case .code(let code): status == code
        case .classOf(let hundreds): status / 100 == hundreds
        }
    }

    public var description: String {
        switch self {
        case .code(let code): String(code)
        case .classOf(let hundreds): "\(hundreds)xx"
        }
    }

    static func parse(_ value: ConfigValue) -> StatusMatcher? {
        guard let text = value.string() else { return nil }
        if text.count == 3, text.hasSuffix("xx"), let digit = Int(text.prefix(1)), (1...5).contains(digit) {
            return .classOf(digit)
        }
        if let code = Int(text), (100...599).contains(code) { return .code(code) }
        value.error("\"\(text)\" is not a status code (100-599) or class (1xx-5xx)")
        return nil
    }
}

/// A path into a JSON document: `$`, `$.key`, `$.a.b[0]`, `$[0].status`, `$['odd key']`.
public struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public var components: [Component]
    public var description: String

    public static func parse(_ text: String) -> JSONPath? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard rest.first == "$" else { return nil }
        rest = rest.dropFirst()
        var components: [Component] = []
        while let first = rest.first {
            if first == "." {
                rest = rest.dropFirst()
                let key = rest.prefix { $0 != "." && $0 != "[" }
                guard !key.isEmpty else { return nil }
                components.append(.key(String(key)))
                rest = rest.dropFirst(key.count)
            } else if first == "[" {
                rest = rest.dropFirst()
                if let quote = rest.first, quote == "'" || quote == "\"" {
                    rest = rest.dropFirst()
                    guard let end = rest.firstIndex(of: quote) else { return nil }
                    components.append(.key(String(rest[..<end])))
                    rest = rest[rest.index(after: end)...]
                    guard rest.first == "]" else { return nil }
                    rest = rest.dropFirst()
                } else {
                    guard let end = rest.firstIndex(of: "]"), let index = Int(rest[..<end]) else { return nil }
                    components.append(.index(index))
                    rest = rest[rest.index(after: end)...]
                }
            } else {
                return nil
            }
        }
        return JSONPath(components: components, description: text)
    }

    /// The value at this path in a `JSONSerialization` tree, or nil when absent. Negative
    /// indexes count from the end.
    public func evaluate(_ root: Any) -> Any? {
        var current: Any = root
        for component in components {
            switch component {
            case .key(let key):
                guard let object = current as? [String: Any], let next = object[key] else { return nil }
                current = next
            case .index(let index):
                guard let array = current as? [Any] else { return nil }
                let position = index < 0 ? array.count + index : index
                guard array.indices.contains(position) else { return nil }
                current = array[position]
            }
        }
        return current
    }

    /// A JSON scalar as text, for comparisons and extracted variables: strings as they are,
    /// integral numbers without a fraction, `true`/`false`, `null`; containers as compact JSON.
    public static func text(of value: Any) -> String {
        switch value {
        case let string as String:
            return string
        case is NSNull:
            return "null"
        case let number as NSNumber:
            // JSONSerialization makes booleans NSNumbers of ObjC type `c` (char).
            if String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
            let double = number.doubleValue
            if double.rounded() == double, abs(double) < 1e15 { return String(Int64(double)) }
            return String(double)
        default:
            if JSONSerialization.isValidJSONObject(value),
               let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) {
                return String(decoding: data, as: UTF8.self)
            }
            return String(describing: value)
        }
    }
}

public struct JSONAssertion: Sendable, Hashable {
    public enum Expectation: Sendable, Hashable {
        /// The value, as text (see `JSONPath.text(of:)`), equals this.
        case equals(String)
        /// The value, as text, matches this regular expression.
        case matches(String)
        case exists(Bool)
    }

    public var path: JSONPath
    public var expectation: Expectation
}

public struct HeaderExpectation: Sendable, Hashable {
    public var name: String
    /// A regular expression the header's value must match.
    public var pattern: String
}

public struct ExpectationsConfig: Sendable, Hashable {
    /// Accepted status codes; `nil` means 2xx.
    public var statusCodes: [StatusMatcher]?
    public var bodyMatches: [String] = []
    public var bodyNotMatches: [String] = []
    public var json: [JSONAssertion] = []
    public var headers: [HeaderExpectation] = []
    public var maxDuration: Duration?
    public init() {}

    public var acceptedStatuses: [StatusMatcher] { statusCodes ?? [.classOf(2)] }

    static func decode(_ value: ConfigValue?) -> ExpectationsConfig {
        var expect = ExpectationsConfig()
        guard let object = value?.object() else { return expect }
        if let statuses = object.value("status")?.oneOrMany() {
            expect.statusCodes = statuses.compactMap { StatusMatcher.parse($0) }
            if statuses.isEmpty { object.value("status")?.error("must list at least one status code or class") }
        }
        expect.bodyMatches = object.value("body_matches")?.oneOrMany()?.compactMap { $0.regex() } ?? []
        expect.bodyNotMatches = object.value("body_not_matches")?.oneOrMany()?.compactMap { $0.regex() } ?? []
        if let json = object.value("json")?.object() {
            for key in json.keys {
                guard let item = json.value(key) else { continue }
                guard let path = JSONPath.parse(key) else {
                    item.error("\"\(key)\" is not a JSON path (use e.g. $.role, $[0].status, $.items[2].id)")
                    continue
                }
                if let expectation = decodeJSONExpectation(item) {
                    expect.json.append(JSONAssertion(path: path, expectation: expectation))
                }
            }
            json.finish()
        }
        if let headers = object.value("headers")?.object() {
            for key in headers.keys {
                guard let item = headers.value(key), let pattern = item.regex() else { continue }
                expect.headers.append(HeaderExpectation(name: key, pattern: pattern))
            }
            headers.finish()
        }
        expect.maxDuration = object.value("max_duration")?.positiveDuration()
        object.finish()
        return expect
    }

    private static func decodeJSONExpectation(_ item: ConfigValue) -> JSONAssertion.Expectation? {
        switch item.node {
        case .mapping:
            guard let object = item.object() else { return nil }
            var result: JSONAssertion.Expectation?
            let present = ["equals", "matches", "exists"].filter { object.contains($0) }
            if present.count != 1 {
                object.error("needs exactly one of equals, matches, exists")
            }
            if let value = object.value("equals"), let text = value.scalarText() { result = .equals(text) }
            if let value = object.value("matches"), let pattern = value.regex() { result = .matches(pattern) }
            if let value = object.value("exists"), let flag = value.bool() { result = .exists(flag) }
            object.finish()
            return present.count == 1 ? result : nil
        case .scalar:
            return item.scalarText().map { .equals($0) }
        default:
            item.error("expected a value, or a mapping with equals, matches or exists")
            return nil
        }
    }
}

/// Where a scenario variable comes from.
public enum ExtractionSource: Sendable, Hashable {
    case json(JSONPath)
    case header(String)
    /// The first capture group (or the whole match) of a regex over the body.
    case regex(String)
}

public struct ExtractionConfig: Sendable, Hashable {
    public var variable: String
    public var source: ExtractionSource
}

public struct CheckConfig: Sendable, Hashable {
    public var name: String
    public var request: HTTPRequestConfig
    public var client: HTTPClientConfig
    public var interval: Duration
    public var timeout: Duration
    public var labels: [ConfigLabel]
    public var expect: ExpectationsConfig

    static let reservedLabels: Set<String> = ["check", "scenario", "step", "phase", "result", "reason", "le", "collector", "version"]

    static func decode(_ value: ConfigValue, defaults: SamplingDefaults) -> CheckConfig? {
        guard let object = value.object() else { return nil }
        let name = object.required("name")?.exportedNonEmptyString()
        let schedule = Schedule.decode(object, defaults: defaults)
        let request = HTTPRequestConfig.decode(object)
        let client = HTTPClientConfig.decode(object)
        let labels = LabelsDecoder.decode(object.value("labels"), reserved: reservedLabels)
        let expect = ExpectationsConfig.decode(object.value("expect"))
        if let request {
            let used = request.variableReferences
            if let first = used.first {
                object.error("checks have no variables, but ${\(first)} is used (use a scenario, or $${ for a literal)")
            }
        }
        if let maxDuration = expect.maxDuration, maxDuration > schedule.timeout {
            object.value("expect")?.object()?.value("max_duration")?.error(
                "max_duration \(DurationParser.format(maxDuration)) is longer than the timeout \(DurationParser.format(schedule.timeout))")
        }
        object.finish()
        guard let name, let request else { return nil }
        return CheckConfig(name: name, request: request, client: client, interval: schedule.interval, timeout: schedule.timeout,
                           labels: labels, expect: expect)
    }
}

public struct ScenarioStepConfig: Sendable, Hashable {
    public var name: String
    public var request: HTTPRequestConfig
    public var expect: ExpectationsConfig
    public var extract: [ExtractionConfig] = []
}

public struct ScenarioConfig: Sendable, Hashable {
    public var name: String
    public var interval: Duration
    /// Bounds the whole scenario; each step gets what is left of it.
    public var timeout: Duration
    public var labels: [ConfigLabel]
    public var client: HTTPClientConfig
    /// Fixed values available to every step as `${name}`.
    public var variables: [ConfigLabel]
    public var steps: [ScenarioStepConfig]

    static func decode(_ value: ConfigValue, defaults: SamplingDefaults) -> ScenarioConfig? {
        guard let object = value.object() else { return nil }
        let name = object.required("name")?.exportedNonEmptyString()
        let schedule = Schedule.decode(object, defaults: defaults)
        let labels = LabelsDecoder.decode(object.value("labels"), reserved: CheckConfig.reservedLabels)
        let client = HTTPClientConfig.decode(object)
        var variables: [ConfigLabel] = []
        var defined: Set<String> = []
        if let pairs = object.value("variables")?.object() {
            for key in pairs.keys {
                guard let item = pairs.value(key) else { continue }
                guard ExtractionConfig.isValidName(key) else {
                    item.error("\"\(key)\" is not a valid variable name (letters, digits, _; not starting with a digit)")
                    continue
                }
                if let text = item.string() {
                    variables.append(ConfigLabel(name: key, value: text))
                    defined.insert(key)
                }
            }
            pairs.finish()
        }
        var steps: [ScenarioStepConfig] = []
        if let stepsValue = object.required("steps"), let items = stepsValue.list() {
            if items.isEmpty { stepsValue.error("a scenario needs at least one step") }
            var stepNames: Set<String> = []
            for item in items {
                guard let stepObject = item.object() else { continue }
                let stepName = stepObject.required("name")?.exportedNonEmptyString()
                if let stepName {
                    if stepNames.contains(stepName) {
                        stepObject.value("name")?.error("duplicate step name \"\(stepName)\"")
                    }
                    stepNames.insert(stepName)
                }
                let request = HTTPRequestConfig.decode(stepObject)
                let expect = ExpectationsConfig.decode(stepObject.value("expect"))
                if let request {
                    for variable in request.variableReferences where !defined.contains(variable) {
                        stepObject.error("${\(variable)} is not defined before this step (set it in variables, or extract it in an earlier step)")
                    }
                }
                var extract: [ExtractionConfig] = []
                if let extractObject = stepObject.value("extract")?.object() {
                    for key in extractObject.keys {
                        guard let value = extractObject.value(key) else { continue }
                        guard ExtractionConfig.isValidName(key) else {
                            value.error("\"\(key)\" is not a valid variable name (letters, digits, _; not starting with a digit)")
                            continue
                        }
                        if let source = ExtractionConfig.decodeSource(value) {
                            extract.append(ExtractionConfig(variable: key, source: source))
                            defined.insert(key)
                        }
                    }
                    extractObject.finish()
                }
                for key in stepObject.keys where HTTPClientConfig.keys.contains(key) {
                    stepObject.value(key)?.error("set \(key) on the scenario; it applies to every step")
                }
                stepObject.finish()
                if let stepName, let request {
                    steps.append(ScenarioStepConfig(name: stepName, request: request, expect: expect, extract: extract))
                }
            }
        }
        object.finish()
        guard let name else { return nil }
        return ScenarioConfig(name: name, interval: schedule.interval, timeout: schedule.timeout, labels: labels,
                              client: client, variables: variables, steps: steps)
    }
}

extension ExtractionConfig {
    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !CharacterSet.decimalDigits.contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && CharacterSet.alphanumerics.contains($0)) }
    }

    static func decodeSource(_ value: ConfigValue) -> ExtractionSource? {
        if case .scalar = value.node {
            guard let text = value.string() else { return nil }
            guard let path = JSONPath.parse(text) else {
                value.error("\"\(text)\" is not a JSON path (or write {header: Name} or {regex: pattern})")
                return nil
            }
            return .json(path)
        }
        guard let object = value.object() else { return nil }
        let present = ["json", "header", "regex"].filter { object.contains($0) }
        if present.count != 1 { object.error("needs exactly one of json, header, regex") }
        var source: ExtractionSource?
        if let item = object.value("json"), let text = item.string() {
            if let path = JSONPath.parse(text) { source = .json(path) } else { item.error("\"\(text)\" is not a JSON path") }
        }
        if let header = object.value("header")?.nonEmptyString() { source = .header(header) }
        if let pattern = object.value("regex")?.regex() { source = .regex(pattern) }
        object.finish()
        return present.count == 1 ? source : nil
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
        while let start = rest.range(of: "${") {
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else { break }
            names.append(String(rest[start.upperBound..<end]))
            rest = rest[rest.index(after: end)...]
        }
        return names
    }
}

extension ConfigValue {
    /// One value or a list of them.
    func oneOrMany() -> [ConfigValue]? {
        if case .sequence = node { return list() }
        return [self]
    }

    /// A regular expression that compiles.
    func regex() -> String? {
        guard let pattern = string() else { return nil }
        do {
            _ = try NSRegularExpression(pattern: pattern)
            return pattern
        } catch {
            self.error("\"\(pattern)\" is not a valid regular expression")
            return nil
        }
    }

    /// A scalar's text as written (numbers, booleans and strings alike).
    func scalarText() -> String? {
        guard case .scalar(let scalar) = node else {
            error("expected a scalar value, got \(kindDescription)")
            return nil
        }
        if scalar.style == .plain {
            // Composed nodes carry an unresolved tag; resolve it as the YAML core schema would.
            switch Resolver.default.resolveTag(of: node) {
            case .null: return "null"
            case .bool: if let flag = bool() { return flag ? "true" : "false" }
            default: break
            }
        }
        return string()
    }

    /// A path to a file that exists and can be read now (it is read again on each use).
    func readableFile() -> String? {
        guard let path = nonEmptyString() else { return nil }
        if !FileManager.default.isReadableFile(atPath: path) {
            error("file \(path) does not exist or cannot be read")
            return nil
        }
        return path
    }

    /// A byte count: `1048576`, `512KiB`, `1MiB`, `2MB`.
    func byteSize(in range: ClosedRange<Int>) -> Int? {
        guard case .scalar(let scalar) = node else {
            error("expected a size such as 1MiB, got \(kindDescription)")
            return nil
        }
        let text = scalar.string.trimmingCharacters(in: .whitespaces)
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1)]
        var number = text
        var multiplier = 1
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            number = String(text.dropLast(suffix.count)).trimmingCharacters(in: .whitespaces)
            multiplier = factor
            break
        }
        guard let count = Int(number), count >= 0 else {
            error("\"\(text)\" is not a size (use e.g. 65536, 512KiB, 1MiB)")
            return nil
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: multiplier)
        guard !overflow, range.contains(bytes) else {
            error("\(text) is out of range \(range.lowerBound)...\(range.upperBound) bytes")
            return nil
        }
        return bytes
    }

    /// The YAML value as JSON text, with `${env:..}`/`${file:..}` expanded in strings.
    func jsonText() -> String? {
        var failed = false
        let text = jsonFragment(&failed)
        return failed ? nil : text
    }

    private func jsonFragment(_ failed: inout Bool) -> String {
        switch node {
        case .mapping:
            guard let object = object() else { failed = true; return "" }
            var members: [String] = []
            for key in object.keys {
                guard let value = object.value(key) else { continue }
                members.append(JSONText.quote(key) + ":" + value.jsonFragment(&failed))
            }
            object.finish()
            return "{" + members.joined(separator: ",") + "}"
        case .sequence:
            guard let items = list() else { failed = true; return "" }
            return "[" + items.map { $0.jsonFragment(&failed) }.joined(separator: ",") + "]"
        case .scalar(let scalar):
            if scalar.style == .plain {
                switch Resolver.default.resolveTag(of: node) {
                case .null: return "null"
                case .bool: return bool() == true ? "true" : "false"
                case .int:
                    if let number = Int(scalar.string) { return String(number) }
                case .float:
                    if let number = Double(scalar.string), number.isFinite, !scalar.string.hasPrefix(".") { return String(number) }
                default: break
                }
            }
            guard let text = string() else { failed = true; return "" }
            return JSONText.quote(text)
        case .alias:
            error("aliases are not supported here")
            failed = true
            return ""
        }
    }
}

public enum JSONText {
    /// A JSON string literal.
    public static func quote(_ text: String) -> String {
        "\"" + escape(text) + "\""
    }

    /// The inside of a JSON string literal (no quotes).
    public static func escape(_ text: String) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            default:
                if scalar.value < 0x20 {
                    output += String(format: "\\u%04x", scalar.value)
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        return output
    }
}
