import ExporterConfig
import Exposition
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import HTTPProbe

/// A step's expectations over the regexes the config compiled when it was read.
struct CompiledExpectations: Sendable {
    struct Pattern: Sendable {
        let source: String
        let regex: BoundedRegex

        init(_ pattern: ConfigRegex) {
            source = pattern.source
            regex = pattern.compiled
        }

        /// The first match, searched until `deadline`: a pattern that backtracks
        /// catastrophically on a large body (`(a+)+$`) is stopped there instead of holding a
        /// thread for minutes.
        func firstMatch(in text: String, deadline: ContinuousClock.Instant) throws(RegexTimedOut) -> BoundedRegex.Match? {
            do {
                return try regex.firstMatch(in: text, deadline: deadline)
            } catch {
                throw RegexTimedOut(pattern: source, length: text.utf8.count)
            }
        }

        func matches(_ text: String, deadline: ContinuousClock.Instant) throws(RegexTimedOut) -> Bool {
            try firstMatch(in: text, deadline: deadline) != nil
        }

        /// The first capture group, or the whole match when the pattern has none.
        func firstCapture(in text: String, deadline: ContinuousClock.Instant) throws(RegexTimedOut) -> String? {
            guard let match = try firstMatch(in: text, deadline: deadline) else { return nil }
            return match.groups.count > 1 ? match.groups[1] : match.groups[0]
        }
    }

    struct RegexTimedOut: Error {
        var pattern: String
        var length: Int

        var failure: ProbeFailure {
            ProbeFailure(reason: .body, message: "/\(pattern)/ did not finish on \(length) bytes within the timeout; matching was stopped", dueToRegex: true)
        }
    }

    enum CompiledJSONExpectation: Sendable {
        case equals(String)
        case matches(Pattern)
        case exists(Bool)
    }

    enum CompiledExtraction: Sendable {
        case json(JSONPath)
        case header(String)
        case regex(Pattern)
    }

    let statuses: [StatusMatcher]
    let bodyMatches: [Pattern]
    let bodyNotMatches: [Pattern]
    let json: [(path: JSONPath, expectation: CompiledJSONExpectation)]
    let headers: [(name: String, pattern: Pattern)]
    let maxDuration: Double?
    let extractions: [(variable: String, source: CompiledExtraction)]

    init(_ expect: ExpectationsConfig, extract: [ExtractionConfig] = []) {
        statuses = expect.acceptedStatuses
        bodyMatches = expect.bodyMatches.map(Pattern.init)
        bodyNotMatches = expect.bodyNotMatches.map(Pattern.init)
        json = expect.json.map { assertion in
            switch assertion.expectation {
            case .equals(let text): (assertion.path, .equals(text))
            case .matches(let pattern): (assertion.path, .matches(Pattern(pattern)))
            case .exists(let flag): (assertion.path, .exists(flag))
            }
        }
        headers = expect.headers.map { ($0.name, Pattern($0.pattern)) }
        maxDuration = expect.maxDuration?.inSeconds
        extractions = extract.map { item in
            switch item.source {
            case .json(let path): (item.variable, .json(path))
            case .header(let name): (item.variable, .header(name))
            case .regex(let pattern): (item.variable, .regex(Pattern(pattern)))
            }
        }
    }

    private var needsJSON: Bool {
        !json.isEmpty || extractions.contains { if case .json = $0.source { true } else { false } }
    }

    /// Checks a response that arrived without a transport error, in a fixed order (status,
    /// headers, body, JSON, extraction, latency), stopping at the first failure. Returns the
    /// extracted variables on success; on failure, whatever was extracted before it, because
    /// those values are secrets (tokens) that the trace and messages must redact even though
    /// the step failed.
    /// Regexes stop searching at `deadline` (the step fails with reason `body`).
    func evaluate(_ response: ProbeResponse, deadline: ContinuousClock.Instant = .now + .seconds(5)) -> Result<[(String, String)], FailureAfterExtraction> {
        var extracted: [(String, String)] = []
        let result: Result<Void, ProbeFailure>
        do {
            result = try evaluate(response, deadline: deadline, extracting: &extracted)
        } catch {
            result = .failure(error.failure)
        }
        switch result {
        case .success: return .success(extracted)
        case .failure(let failure): return .failure(FailureAfterExtraction(failure: failure, extracted: extracted))
        }
    }

    /// Whether evaluating runs a regex (which may take up to the deadline).
    var usesRegex: Bool {
        !bodyMatches.isEmpty || !bodyNotMatches.isEmpty || !headers.isEmpty
            || json.contains { if case .matches = $0.expectation { true } else { false } }
            || extractions.contains { if case .regex = $0.source { true } else { false } }
    }

    struct FailureAfterExtraction: Error, Sendable {
        var failure: ProbeFailure
        var extracted: [(String, String)]
    }

    private func evaluate(_ response: ProbeResponse, deadline: ContinuousClock.Instant,
                          extracting extracted: inout [(String, String)]) throws(RegexTimedOut) -> Result<Void, ProbeFailure> {
        if !statuses.contains(where: { $0.matches(response.status) }) {
            let accepted = statuses.map(\.description).joined(separator: ", ")
            return .failure(ProbeFailure(reason: .status, message: "got \(response.status), expected \(accepted)"))
        }
        for (name, pattern) in headers {
            guard let value = response.header(name) else {
                return .failure(ProbeFailure(reason: .body, message: "header \(name) is missing", dueToRegex: true))
            }
            if try !pattern.matches(value, deadline: deadline) {
                return .failure(ProbeFailure(reason: .body, message: "header \(name) does not match /\(pattern.source)/", dueToRegex: true))
            }
        }
        let needsText = !bodyMatches.isEmpty || !bodyNotMatches.isEmpty
            || extractions.contains { if case .regex = $0.source { true } else { false } }
        let text = needsText ? response.bodyText : ""
        for pattern in bodyMatches {
            if try !pattern.matches(text, deadline: deadline) {
                return .failure(ProbeFailure(reason: .body, message: "body does not match /\(pattern.source)/", dueToRegex: true))
            }
        }
        for pattern in bodyNotMatches {
            if try pattern.matches(text, deadline: deadline) {
                return .failure(ProbeFailure(reason: .body, message: "body matches /\(pattern.source)/, which it must not", dueToRegex: true))
            }
        }
        var document: JSONValue?
        if needsJSON {
            do {
                document = try JSONValue.parse(response.body)
            } catch {
                let reason: FailureReason = json.isEmpty ? .extract : .json
                return .failure(ProbeFailure(reason: reason, message: "response body is not valid JSON (\(response.body.count) bytes)"))
            }
        }
        if let document {
            for (path, expectation) in json {
                let value = path.evaluate(document)
                switch expectation {
                case .exists(let shouldExist):
                    if (value != nil) != shouldExist {
                        return .failure(ProbeFailure(reason: .json, message: shouldExist ? "\(path) is missing" : "\(path) is present"))
                    }
                case .equals(let expected):
                    guard let value else { return .failure(ProbeFailure(reason: .json, message: "\(path) is missing")) }
                    let actual = JSONPath.text(of: value)
                    if actual != expected {
                        return .failure(ProbeFailure(reason: .json, message: "\(path) is \(Self.shown(actual, at: path)), expected \(Self.shown(expected, at: path))"))
                    }
                case .matches(let pattern):
                    guard let value else { return .failure(ProbeFailure(reason: .json, message: "\(path) is missing")) }
                    let actual = JSONPath.text(of: value)
                    if try !pattern.matches(actual, deadline: deadline) {
                        return .failure(ProbeFailure(reason: .json, message: "\(path) is \(Self.shown(actual, at: path)), which does not match /\(pattern.source)/"))
                    }
                }
            }
        }
        for (variable, source) in extractions {
            let value: String?
            let origin: String
            switch source {
            case .json(let path):
                value = document.flatMap { path.evaluate($0) }.map(JSONPath.text(of:))
                origin = path.description
            case .header(let name):
                value = response.header(name)
                origin = "header \(name)"
            case .regex(let pattern):
                value = try pattern.firstCapture(in: text, deadline: deadline)
                origin = "/\(pattern.source)/"
            }
            guard let value, !value.isEmpty else {
                return .failure(ProbeFailure(reason: .extract, message: "cannot extract \(variable) from \(origin)"))
            }
            extracted.append((variable, value))
        }
        if let maxDuration, response.timings.total > maxDuration {
            return .failure(ProbeFailure(reason: .latency, message: "took \(Self.seconds(response.timings.total)), more than \(Self.seconds(maxDuration))"))
        }
        return .success(())
    }

    /// A value for a failure message; values of credential-looking fields (`$.access_token`)
    /// are never shown.
    static func shown(_ text: String, at path: JSONPath) -> String {
        if case .key(let key) = path.components.last, TraceRedactor.isSensitiveName(key) { return Redactor.placeholder }
        return quoteShort(text)
    }

    static func quoteShort(_ text: String) -> String {
        let short = text.count > 80 ? String(text.prefix(80)) + "…" : text
        return "\"\(short)\""
    }

    static func seconds(_ value: Double) -> String {
        DurationParser.formatSeconds(value, digits: 3)
    }
}
