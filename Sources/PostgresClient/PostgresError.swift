import Foundation

/// A failure talking to PostgreSQL. `description` never contains a password or the
/// connection string: libpq's own messages can quote parts of the DSN, so every message is
/// redacted before it is stored here.
public struct PostgresError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Phase: String, Sendable, Hashable {
        /// Reading the connection string or parameters, before any network traffic.
        case conninfo
        case connect
        case query
    }

    public enum Kind: Sendable, Hashable {
        case invalidConnectionString
        case connectionFailed
        /// The connection broke (server restart, network); it must be reopened.
        case connectionLost
        /// The server answered with an error; the connection is still usable.
        case server
        /// The client-side deadline passed; the connection was closed because its state
        /// is unknown (the server-side `statement_timeout` normally fires first).
        case deadlineExceeded
        /// The connection was already closed.
        case closed
        /// A statement ended the read-only sample transaction (`COMMIT`, `ROLLBACK`,
        /// `PREPARE TRANSACTION`); the connection was closed, since the statements after it
        /// would no longer be bound by the transaction.
        case transactionEnded
    }

    public var phase: Phase
    public var kind: Kind
    /// The five-character SQLSTATE when the server sent one (e.g. `57014` for a cancelled
    /// statement, `42P01` for a missing relation, `42501` for a missing privilege).
    public var sqlState: String?
    /// The redacted primary message.
    public var message: String

    public init(phase: Phase, kind: Kind, sqlState: String? = nil, message: String) {
        self.phase = phase
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
    }

    /// Whether the connection that produced this error can no longer be used.
    public var connectionUnusable: Bool {
        switch kind {
        case .connectionFailed, .connectionLost, .deadlineExceeded, .closed, .invalidConnectionString, .transactionEnded: true
        case .server: false
        }
    }

    public var description: String {
        var text = "\(phase.rawValue): \(message)"
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        return text
    }
}

/// Removes known secret values from libpq's text. libpq reports problems in the words of
/// the connection string it was given, so the password and the whole DSN are the secrets.
struct SecretScrubber: Sendable, Hashable {
    private var secrets: [String]

    init(secrets: [String]) {
        // Longest first, so a secret containing another is replaced whole.
        self.secrets = Array(Set(secrets.filter { !$0.isEmpty })).sorted { $0.count > $1.count }
    }

    func scrub(_ text: String) -> String {
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: "<secret>")
        }
        return result
    }

    /// For conninfo parse errors, which quote fragments of the string (possibly a piece of a
    /// password cut at a space): every quoted fragment is hidden.
    func scrubQuotedFragments(_ text: String) -> String {
        var output = ""
        var inQuote = false
        for character in scrub(text) {
            if character == "\"" {
                output.append(character)
                if !inQuote { output += "…" }
                inQuote.toggle()
            } else if !inQuote {
                output.append(character)
            }
        }
        return output
    }
}

extension String {
    /// libpq messages end with a newline and sometimes carry several lines
    /// ("connection to server ... failed: FATAL: ..."); one line reads better in logs.
    func collapsingLibpqMessage() -> String {
        split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: "; ")
    }
}
