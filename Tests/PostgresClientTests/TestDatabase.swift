import Foundation
import PostgresClient
import Testing
import TestSupport

/// The throwaway cluster started by `scripts/pg-test-cluster.sh` (its `env` command prints
/// the variables TestEnvironment reads). Without them the integration tests are skipped,
/// unless MITRA_TEST_REQUIRE_PG=1 says they must run.
typealias TestDatabase = PostgresTestCluster

extension PostgresTestCluster {
    static var current: PostgresTestCluster? { TestEnvironment.postgres }

    static var available: Bool { current != nil }

    /// URL form; the password is percent-encoded, as a user would write it.
    func url(user: String? = nil, password: String? = nil, database: String? = nil) -> String {
        let encode = { (text: String) in
            text.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")) ?? text
        }
        return "postgresql://\(encode(user ?? self.user)):\(encode(password ?? self.password))@\(host):\(port)/\(database ?? self.database)"
    }

    /// Key/value form; values single-quoted with `\` and `'` escaped, per libpq's rules.
    func keyValue(user: String? = nil, password: String? = nil, database: String? = nil) -> String {
        let quote = { (text: String) in
            "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        }
        return "host=\(host) port=\(port) user=\(quote(user ?? self.user)) password=\(quote(password ?? self.password)) dbname=\(quote(database ?? self.database))"
    }

    func settings(_ target: PostgresConnectionTarget? = nil, applicationName: String = "mitra-exporter",
                  statementTimeout: Duration = .seconds(4)) -> PostgresConnectionSettings {
        PostgresConnectionSettings(target: target ?? .connectionString(url()), applicationName: applicationName,
                                   connectTimeout: .seconds(3), statementTimeout: statementTimeout)
    }

    /// A superuser connection for setting up fixtures (writable, unlike the exporter's).
    func adminConnection() async throws -> PostgresConnection {
        var settings = settings(applicationName: "mitra-test-admin")
        settings.readOnly = false
        return try await PostgresConnection.connect(settings)
    }
}

func soon(_ seconds: Double = 5) -> ContinuousClock.Instant {
    .now + .milliseconds(Int(seconds * 1000))
}
