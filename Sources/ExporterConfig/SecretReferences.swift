import Foundation

/// Expands `${env:NAME}` and `${file:/path}` references in config strings. `$${` writes a
/// literal `${`. References without a scheme (`${token}`) are left for scenario variables.
/// Every expanded value is recorded as a secret so it can be redacted from all output.
public struct SecretResolver: Sendable {
    public var environment: [String: String]
    public var readFile: @Sendable (String) throws -> String

    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        readFile: @escaping @Sendable (String) throws -> String = SecretResolver.readSecretFile
    ) {
        self.environment = environment
        self.readFile = readFile
    }

    public struct Failure: Error, Sendable {
        public var message: String
        public init(message: String) {
            self.message = message
        }
    }

    public static func readSecretFile(_ path: String) throws -> String {
        guard case .success(let data) = FileContents.read(path) else {
            throw Failure(message: "cannot read secret file \(path)")
        }
        guard var text = String(data: data, encoding: .utf8) else {
            throw Failure(message: "secret file \(path) is not UTF-8")
        }
        // A trailing newline is an editor artefact, never part of a password.
        while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
        return text
    }

    /// Returns the expanded string and the secret values it now contains.
    public func expand(_ text: String) throws(Failure) -> (value: String, secrets: [String]) {
        guard text.contains("${") else { return (text, []) }
        var output = ""
        var secrets: [String] = []
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            let before = rest[..<start.lowerBound]
            if before.hasSuffix("$") {
                output += before.dropLast()
                output += "${"
                rest = rest[start.upperBound...]
                continue
            }
            output += before
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                throw Failure(message: "unterminated reference \"${\" (write $${ for a literal)")
            }
            let reference = rest[start.upperBound..<end]
            rest = rest[rest.index(after: end)...]
            if reference.hasPrefix("env:") {
                let name = String(reference.dropFirst(4))
                guard !name.isEmpty else { throw Failure(message: "empty environment variable name in ${env:}") }
                guard let value = environment[name] else {
                    throw Failure(message: "environment variable \(name) is not set (referenced as ${env:\(name)})")
                }
                output += value
                if !value.isEmpty { secrets.append(value) }
            } else if reference.hasPrefix("file:") {
                let path = String(reference.dropFirst(5))
                do {
                    let value = try readFile(path)
                    output += value
                    if !value.isEmpty { secrets.append(value) }
                } catch let failure as Failure {
                    throw failure
                } catch {
                    throw Failure(message: "cannot read secret file \(path)")
                }
            } else if reference.contains(":") {
                throw Failure(message: "unknown reference scheme in \"${\(reference)}\" (use env: or file:)")
            } else {
                // A scenario variable, resolved at run time.
                output += "${\(reference)}"
            }
        }
        output += rest
        return (output, secrets)
    }
}

/// Replaces known secret values (and the password part of connection strings) with `<secret>`.
/// Used on every error message, log line and page that could carry config-derived text.
public struct Redactor: Sendable, Hashable {
    /// Every form in which a secret may appear: the value itself and the encodings the
    /// exporter produces from it (JSON-escaped in bodies, percent-encoded in URLs and
    /// forms, base64 as in basic auth). Longest first.
    public private(set) var secrets: [String]
    /// The values as resolved or extracted, before encoding.
    private var plainSecrets: [String]
    /// Header and JSON field names (lowercased) redacted in traces in addition to the
    /// built-in patterns: `redact_names:` in the config.
    public private(set) var sensitiveNames: Set<String>

    /// Values shorter than this are not searched for: a one- or two-character "secret"
    /// would blank out ordinary words and cannot be told apart from them.
    public static let minimumSecretLength = 4

    public init(secrets: some Sequence<String> = [], sensitiveNames: some Sequence<String> = []) {
        let plain = Array(Set(secrets.filter { $0.count >= Self.minimumSecretLength }))
        plainSecrets = plain.sorted()
        // Longest first, so a secret that contains another is replaced whole.
        self.secrets = Array(Set(plain.flatMap(Self.encodings))).sorted { $0.count > $1.count || ($0.count == $1.count && $0 < $1) }
        self.sensitiveNames = Set(sensitiveNames.map { $0.lowercased() })
    }

    public static let placeholder = "<secret>"

    public func adding(_ more: some Sequence<String>) -> Redactor {
        Redactor(secrets: plainSecrets + Array(more), sensitiveNames: sensitiveNames)
    }

    /// The value and how it looks JSON-escaped, percent-encoded (RFC 3986 and form style)
    /// and base64-encoded (standard and URL alphabet, with and without padding).
    static func encodings(of secret: String) -> [String] {
        var forms = [secret, JSONText.escape(secret)]
        var unreserved = CharacterSet.alphanumerics
        unreserved.insert(charactersIn: "-._~")
        if let percent = secret.addingPercentEncoding(withAllowedCharacters: unreserved) {
            forms.append(percent)
            forms.append(percent.replacingOccurrences(of: "%20", with: "+"))
            forms.append(Self.lowercasingPercentEscapes(percent))
        }
        let base64 = Data(secret.utf8).base64EncodedString()
        let unpadded = String(base64.prefix { $0 != "=" })
        forms += [base64, unpadded,
                  unpadded.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")]
        return forms.filter { $0.count >= minimumSecretLength }
    }

    private static func lowercasingPercentEscapes(_ text: String) -> String {
        var output = ""
        var remaining = 0
        for character in text {
            if character == "%" { remaining = 2; output.append(character); continue }
            output += remaining > 0 ? character.lowercased() : String(character)
            remaining = max(0, remaining - 1)
        }
        return output
    }

    /// Runs of base64 characters long enough to hide a secret with something around it
    /// (`Basic dXNlcjpwYXNzd29yZA==` holds `user:password`, whose encoding does not contain
    /// the password's own encoding).
    private static let base64Run = try! NSRegularExpression(pattern: "[A-Za-z0-9+/_-]{8,}={0,2}")

    public func redact(_ text: String) -> String {
        var result = text
        if secrets.contains(where: { text.contains($0) }) {
            // One pass, so a placeholder already written is never matched again.
            var output = ""
            var index = text.startIndex
            while index < text.endIndex {
                if let secret = secrets.first(where: { text[index...].hasPrefix($0) }) {
                    output += Redactor.placeholder
                    index = text.index(index, offsetBy: secret.count)
                } else {
                    output.append(text[index])
                    index = text.index(after: index)
                }
            }
            result = output
        }
        if !plainSecrets.isEmpty { result = redactEncodedCombinations(result) }
        return Redactor.redactConnectionPasswords(result)
    }

    /// Replaces base64 runs whose decoded text contains a secret.
    private func redactEncodedCombinations(_ text: String) -> String {
        let matches = Self.base64Run.matches(in: text, range: NSRange(text.startIndex..., in: text))
        guard !matches.isEmpty else { return text }
        var output = text
        for match in matches.reversed() {
            guard let range = Range(match.range, in: output) else { continue }
            var run = output[range].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while run.count % 4 != 0 { run += "=" }
            guard let data = Data(base64Encoded: run) else { continue }
            let decoded = String(decoding: data, as: UTF8.self)
            if plainSecrets.contains(where: { decoded.contains($0) }) {
                output.replaceSubrange(range, with: Redactor.placeholder)
            }
        }
        return output
    }

    /// Redacts `password=...` (key/value DSNs, libpq messages) and `scheme://user:pass@`
    /// (URL DSNs) even when the password did not come from a secret reference.
    public static func redactConnectionPasswords(_ text: String) -> String {
        var result = text
        if result.contains("://"), result.contains("@") {
            result = redactURLUserInfo(result)
        }
        if result.range(of: "password", options: .caseInsensitive) != nil {
            result = redactKeyValuePassword(result)
        }
        return result
    }

    private static func redactURLUserInfo(_ text: String) -> String {
        var output = ""
        var rest = Substring(text)
        while let scheme = rest.range(of: "://") {
            output += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            // Passwords may hold '/', '@' or ':' when not percent-encoded: take the last '@'
            // before the next whitespace or quote, so a redaction errs towards hiding too much.
            let authorityEnd = rest.firstIndex(where: { $0 == " " || $0 == "\"" || $0 == "'" || $0 == "\n" || $0 == "\t" }) ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":"),
               !authority[..<colon].contains("/") {
                output += authority[...colon]
                output += Redactor.placeholder
                output += authority[at...]
                rest = rest[authorityEnd...]
            }
        }
        output += rest
        return output
    }

    private static func redactKeyValuePassword(_ text: String) -> String {
        var output = ""
        var rest = Substring(text)
        while let match = rest.range(of: "password", options: .caseInsensitive) {
            output += rest[..<match.upperBound]
            rest = rest[match.upperBound...]
            var cursor = rest.startIndex
            while cursor < rest.endIndex, rest[cursor] == " " { cursor = rest.index(after: cursor) }
            guard cursor < rest.endIndex, rest[cursor] == "=" || rest[cursor] == ":" else { continue }
            cursor = rest.index(after: cursor)
            while cursor < rest.endIndex, rest[cursor] == " " { cursor = rest.index(after: cursor) }
            output += rest[rest.startIndex..<cursor]
            rest = rest[cursor...]
            var valueEnd = rest.startIndex
            if rest.first == "'" || rest.first == "\"" {
                let quote = rest.first!
                valueEnd = rest.index(after: rest.startIndex)
                while valueEnd < rest.endIndex, rest[valueEnd] != quote {
                    if rest[valueEnd] == "\\" { valueEnd = rest.index(after: valueEnd) }
                    if valueEnd < rest.endIndex { valueEnd = rest.index(after: valueEnd) }
                }
                if valueEnd < rest.endIndex { valueEnd = rest.index(after: valueEnd) }
            } else {
                while valueEnd < rest.endIndex, !rest[valueEnd].isWhitespace, rest[valueEnd] != "&", rest[valueEnd] != "," {
                    valueEnd = rest.index(after: valueEnd)
                }
            }
            if valueEnd > rest.startIndex {
                output += Redactor.placeholder
                rest = rest[valueEnd...]
            }
        }
        output += rest
        return output
    }
}
