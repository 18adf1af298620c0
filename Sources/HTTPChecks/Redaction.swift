import ExporterConfig
import Foundation

/// Removes credentials from anything shown to people (traces, error messages): secrets from
/// the config, values extracted during a run (tokens), credential-bearing headers, and
/// credential-looking fields in JSON or form bodies.
struct TraceRedactor: Sendable {
    let base: Redactor

    init(_ base: Redactor, extracted: [String] = []) {
        self.base = extracted.isEmpty ? base : base.adding(extracted)
    }

    /// Headers that carry credentials whatever they are called, plus any name containing
    /// one of `sensitiveHeaderWords` (`X-Refresh-Token`, `X-Api-Key`, `X-Session-Id`).
    static let sensitiveHeaders: Set<String> = ["authorization", "proxy-authorization", "cookie", "set-cookie"]
    static let sensitiveHeaderWords = ["token", "secret", "key", "auth", "session", "password", "credential"]
    /// JSON and form field names containing one of these hold credentials (`jwt`,
    /// `refresh_token`, `passcode`, `otp`). Over-matching (`token_type`) only hides a harmless value.
    static let sensitiveFieldWords = ["token", "jwt", "secret", "password", "pass", "pwd", "key", "auth", "session", "otp", "pin", "credential", "cookie"]

    static func isSensitiveName(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return sensitiveFieldWords.contains { lowered.contains($0) }
    }

    func isSensitiveHeader(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return Self.sensitiveHeaders.contains(lowered) || Self.sensitiveHeaderWords.contains { lowered.contains($0) }
            || base.sensitiveNames.contains(lowered)
    }

    private static let fieldWords = sensitiveFieldWords.joined(separator: "|")
    /// `"password": "..."`, `"jwt":"..."`, `"pin": 1234` and the like in JSON text (also when
    /// the text was cut inside the value).
    private static let jsonField = try! NSRegularExpression(
        pattern: #"("[A-Za-z0-9_\-]*(?:"# + fieldWords + #")[A-Za-z0-9_\-]*"\s*:\s*)(?:"(?:[^"\\]|\\.)*(?:"|\\?$)|[^\s,\]}\[{"]+)"#,
        options: [.caseInsensitive])
    /// `token=...` in form bodies and query strings.
    private static let formField = try! NSRegularExpression(
        pattern: #"((?:^|[?&\s])[A-Za-z0-9_\-]*(?:"# + fieldWords + #")[A-Za-z0-9_\-]*=)[^&\s"]+"#,
        options: [.caseInsensitive])

    /// The same two patterns for the configured `redact_names`, matched whole.
    private static func configuredFieldPatterns(_ names: Set<String>) -> [(NSRegularExpression, String)] {
        guard !names.isEmpty else { return [] }
        let alternatives = names.sorted().map { NSRegularExpression.escapedPattern(for: $0) }.joined(separator: "|")
        let json = try? NSRegularExpression(pattern: #"("(?:"# + alternatives + #")"\s*:\s*)(?:"(?:[^"\\]|\\.)*(?:"|\\?$)|[^\s,\]}\[{"]+)"#,
                                            options: [.caseInsensitive])
        let form = try? NSRegularExpression(pattern: #"((?:^|[?&\s])(?:"# + alternatives + #")=)[^&\s"]+"#, options: [.caseInsensitive])
        return [json.map { ($0, "$1\"\(Redactor.placeholder)\"") }, form.map { ($0, "$1\(Redactor.placeholder)") }].compactMap { $0 }
    }

    func text(_ text: String) -> String {
        var result = base.redact(text)
        let patterns = [(Self.jsonField, "$1\"\(Redactor.placeholder)\""), (Self.formField, "$1\(Redactor.placeholder)")]
            + Self.configuredFieldPatterns(base.sensitiveNames)
        for (pattern, template) in patterns {
            result = pattern.stringByReplacingMatches(in: result, range: NSRange(result.startIndex..., in: result), withTemplate: template)
        }
        return result
    }

    /// Text cut at a length limit may end with the start of a secret; drop that start.
    func droppingPartialSecret(atEndOf text: String) -> String {
        for secret in base.secrets where secret.count > 3 {
            var length = min(secret.count - 1, text.count)
            while length >= 4 {
                if text.hasSuffix(secret.prefix(length)) { return String(text.dropLast(length)) + Redactor.placeholder }
                length -= 1
            }
        }
        return text
    }

    func header(name: String, value: String) -> String {
        if isSensitiveHeader(name) {
            // Keep the scheme (`Bearer`, `Basic`) visible: it helps debugging and is no secret.
            if let space = value.firstIndex(of: " ") {
                return String(value[..<space]) + " " + Redactor.placeholder
            }
            return Redactor.placeholder
        }
        return text(value)
    }
}
