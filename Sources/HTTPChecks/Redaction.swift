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

    static let sensitiveHeaders: Set<String> = [
        "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key",
        "x-auth-token", "x-access-token", "x-csrf-token", "x-session", "x-amz-security-token",
    ]

    static func isSensitiveName(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return ["password", "passwd", "secret", "token", "api_key", "apikey", "session", "cookie", "otp", "pin"]
            .contains { lowered.contains($0) }
    }

    /// `"password": "..."`, `"access_token":"..."` and the like in JSON text (also when the
    /// text was cut inside the value).
    private static let jsonField = try! NSRegularExpression(
        pattern: #"("[A-Za-z0-9_\-]*(?:password|passwd|secret|token|api_?key|session|otp|pin)[A-Za-z0-9_\-]*"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|\\?$)"#,
        options: [.caseInsensitive])
    /// `token=...` in form bodies and query strings.
    private static let formField = try! NSRegularExpression(
        pattern: #"((?:^|[?&\s])[A-Za-z0-9_\-]*(?:password|passwd|secret|token|api_?key|session)[A-Za-z0-9_\-]*=)[^&\s"]+"#,
        options: [.caseInsensitive])

    func text(_ text: String) -> String {
        var result = base.redact(text)
        let range = NSRange(result.startIndex..., in: result)
        result = Self.jsonField.stringByReplacingMatches(in: result, range: range, withTemplate: "$1\"\(Redactor.placeholder)\"")
        let formRange = NSRange(result.startIndex..., in: result)
        result = Self.formField.stringByReplacingMatches(in: result, range: formRange, withTemplate: "$1\(Redactor.placeholder)")
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
        if Self.sensitiveHeaders.contains(name.lowercased()) {
            // Keep the scheme (`Bearer`, `Basic`) visible: it helps debugging and is no secret.
            if let space = value.firstIndex(of: " ") {
                return String(value[..<space]) + " " + Redactor.placeholder
            }
            return Redactor.placeholder
        }
        return text(value)
    }
}
