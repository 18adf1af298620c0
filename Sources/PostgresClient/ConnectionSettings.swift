import CLibPQ
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Where to connect: a libpq connection string (URL `postgresql://...` or `key=value ...`)
/// or explicit key/value parameters (for passwords that are awkward to quote).
public enum PostgresConnectionTarget: Sendable, Hashable {
    case connectionString(String)
    case parameters([Parameter])

    public struct Parameter: Sendable, Hashable {
        public var key: String
        public var value: String
        public init(_ key: String, _ value: String) {
            self.key = key
            self.value = value
        }
    }
}

/// How the exporter's session is opened. The session settings make a monitoring connection
/// harmless to the server: it cannot write, cannot hold locks or transactions for long, and
/// every statement is cut off server-side before the sampler's own deadline.
public struct PostgresConnectionSettings: Sendable, Hashable {
    public var target: PostgresConnectionTarget
    public var applicationName: String
    public var connectTimeout: Duration
    public var statementTimeout: Duration
    public var lockTimeout: Duration
    public var idleInTransactionSessionTimeout: Duration
    public var readOnly: Bool

    public init(
        target: PostgresConnectionTarget,
        applicationName: String = "mitra-exporter",
        connectTimeout: Duration = .seconds(5),
        statementTimeout: Duration = .seconds(4),
        lockTimeout: Duration = .seconds(1),
        idleInTransactionSessionTimeout: Duration = .seconds(10),
        readOnly: Bool = true
    ) {
        self.target = target
        self.applicationName = applicationName
        self.connectTimeout = connectTimeout
        self.statementTimeout = statementTimeout
        self.lockTimeout = lockTimeout
        self.idleInTransactionSessionTimeout = idleInTransactionSessionTimeout
        self.readOnly = readOnly
    }

    /// The keyword/value pairs handed to `PQconnectdbParams`, with the secrets to scrub from
    /// libpq's messages. The connection string is parsed by libpq itself
    /// (`PQconninfoParse`), so URL percent-encoding and key/value quoting follow libpq's rules
    /// exactly; our settings are then merged in (our `options` are appended to the user's).
    func resolve() throws(PostgresError) -> (parameters: [(String, String)], scrubber: SecretScrubber) {
        var parameters: [(String, String)]
        var secrets: [String] = []
        switch target {
        case .connectionString(let dsn):
            secrets.append(dsn)
            parameters = try Self.parse(dsn)
        case .parameters(let given):
            parameters = given.map { ($0.key, $0.value) }
            if let message = Self.unknownKeyword(in: parameters.map(\.0)) {
                throw PostgresError(phase: .conninfo, kind: .invalidConnectionString, message: message)
            }
        }
        secrets += parameters.filter { $0.0 == "password" }.map(\.1)
        let scrubber = SecretScrubber(secrets: secrets)

        var userOptions = ""
        parameters.removeAll { key, value in
            switch key {
            case "options":
                userOptions = value
                return true
            case "application_name", "connect_timeout", "fallback_application_name":
                return true
            default:
                return false
            }
        }
        parameters.append(("application_name", applicationName))
        // libpq counts whole seconds and treats 1 as 2; round up so the bound is never shorter.
        let connectSeconds = max(2, Int(connectTimeout.inSecondsRoundedUp))
        parameters.append(("connect_timeout", String(connectSeconds)))
        var options = [
            "-c statement_timeout=\(statementTimeout.milliseconds)",
            "-c lock_timeout=\(lockTimeout.milliseconds)",
            "-c idle_in_transaction_session_timeout=\(idleInTransactionSessionTimeout.milliseconds)",
        ]
        if readOnly { options.insert("-c default_transaction_read_only=on", at: 0) }
        let combined = ([userOptions] + options).filter { !$0.isEmpty }.joined(separator: " ")
        parameters.append(("options", combined))
        return (parameters, scrubber)
    }

    private static func parse(_ dsn: String) throws(PostgresError) -> [(String, String)] {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(dsn, &errorMessage) else {
            var message = "invalid connection string"
            if let errorMessage {
                let text = String(cString: errorMessage).collapsingLibpqMessage()
                PQfreemem(errorMessage)
                message += ": " + SecretScrubber(secrets: [dsn]).scrubQuotedFragments(text)
            }
            throw PostgresError(phase: .conninfo, kind: .invalidConnectionString, message: message)
        }
        defer { PQconninfoFree(options) }
        var result: [(String, String)] = []
        var cursor = options
        while let keyword = cursor.pointee.keyword {
            if let value = cursor.pointee.val {
                result.append((String(cString: keyword), String(cString: value)))
            }
            cursor += 1
        }
        return result
    }

    private static func unknownKeyword(in keys: [String]) -> String? {
        guard let defaults = PQconndefaults() else { return nil }
        defer { PQconninfoFree(defaults) }
        var known: Set<String> = []
        var cursor = defaults
        while let keyword = cursor.pointee.keyword {
            known.insert(String(cString: keyword))
            cursor += 1
        }
        let unknown = keys.filter { !known.contains($0) }
        return unknown.isEmpty ? nil : "unknown connection parameter(s): \(unknown.joined(separator: ", "))"
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    var inSecondsRoundedUp: Int64 {
        let (seconds, attoseconds) = components
        return attoseconds > 0 ? seconds + 1 : seconds
    }
}
