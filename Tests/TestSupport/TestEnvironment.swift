import Foundation

/// Everything the tests read from their environment, read here and nowhere else.
///
/// `make test` (scripts/test.sh) starts a throwaway PostgreSQL cluster with
/// scripts/pg-test-cluster.sh, whose `env` command prints the MITRA_TEST_PG_* variables, and
/// sets MITRA_TEST_REQUIRE_PG=1 so that a broken setup fails instead of skipping.
public enum TestEnvironment {
    static let variables = ProcessInfo.processInfo.environment

    /// The shared throwaway cluster, or nil when MITRA_TEST_PG_* are not set (the integration
    /// tests are then skipped).
    public static let postgres: PostgresTestCluster? = PostgresTestCluster(variables)

    /// Whether the PostgreSQL integration tests must run (MITRA_TEST_REQUIRE_PG=1).
    public static var requiresPostgres: Bool { variables["MITRA_TEST_REQUIRE_PG"] == "1" }

    /// The exporter binary the end-to-end tests run (MITRA_EXPORTER_BIN), when set.
    public static var exporterBinary: String? { variables["MITRA_EXPORTER_BIN"] }

    /// Golden files are rewritten instead of compared (MITRA_UPDATE_GOLDEN=1).
    public static var updatesGoldenFiles: Bool { variables["MITRA_UPDATE_GOLDEN"] == "1" }

    /// How long the config fuzzer runs (MITRA_FUZZ_SECONDS, default 4).
    public static var fuzzSeconds: Double { variables["MITRA_FUZZ_SECONDS"].flatMap(Double.init) ?? 4 }

    /// The PostgreSQL client programs (psql) to use, when PG_BIN is set.
    public static var postgresBinDirectory: String? { variables["PG_BIN"] }

    /// The environment to hand to a child process, with `changes` applied (nil removes).
    public static func childEnvironment(_ changes: [String: String?] = [:]) -> [String: String] {
        var environment = variables
        for (name, value) in changes { environment[name] = value }
        return environment
    }
}

/// The cluster described by MITRA_TEST_PG_*.
public struct PostgresTestCluster: Sendable {
    public var host: String
    public var port: String
    /// A superuser, for fixtures.
    public var user: String
    public var password: String
    public var database: String
    /// A database without the pg_stat_statements extension.
    public var noExtensionDatabase: String?
    /// The exporter's own role (pg_monitor, read only).
    public var monitorUser: String
    public var monitorPassword: String
    /// scripts/pg-test-cluster.sh, for tests that start private clusters.
    public var clusterScript: String?
    /// The server's major version (15 is Debian's; 16 and 18 come from PyPI wheels).
    public var version: Int
    /// The server's bin directory.
    public var bin: String
    /// Whether the build has pg_stat_statements (the 16 wheel does not).
    public var hasStatements: Bool

    init?(_ variables: [String: String]) {
        func value(_ name: String) -> String? { variables["MITRA_TEST_PG_\(name)"] }
        guard let host = value("HOST"), let port = value("PORT"), let user = value("USER"), let password = value("PASSWORD"),
              let database = value("DATABASE"), let monitorUser = value("MONITOR_USER"), let monitorPassword = value("MONITOR_PASSWORD")
        else { return nil }
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        noExtensionDatabase = value("NOEXT_DATABASE")
        self.monitorUser = monitorUser
        self.monitorPassword = monitorPassword
        clusterScript = value("CLUSTER_SCRIPT")
        version = value("VERSION").flatMap { Int($0) } ?? 15
        bin = value("BIN") ?? "/usr/lib/postgresql/15/bin"
        hasStatements = value("HAS_STATEMENTS") != "0"
    }
}
