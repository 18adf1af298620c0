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

public struct JSONAssertion: Sendable, Hashable {
    public enum Expectation: Sendable, Hashable {
        /// The value, as text (see `JSONPath.text(of:)`), equals this.
        case equals(String)
        /// The value, as text, matches this regular expression.
        case matches(ConfigRegex)
        case exists(Bool)
    }

    public var path: JSONPath
    public var expectation: Expectation
}

public struct HeaderExpectation: Sendable, Hashable {
    public var name: String
    /// A regular expression the header's value must match.
    public var pattern: ConfigRegex
}

public struct ExpectationsConfig: Sendable, Hashable {
    /// Accepted status codes; `nil` means 2xx.
    public var statusCodes: [StatusMatcher]?
    public var bodyMatches: [ConfigRegex] = []
    public var bodyNotMatches: [ConfigRegex] = []
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
