import Foundation
import Testing
import TestSupport

/// Series identities (name and labels, without values) of a text-format body.
func seriesIdentities(_ body: String, excludingPrefixes: [String]) -> Set<String> {
    var identities: Set<String> = []
    for line in body.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " ") else { continue }
        let identity = String(line[..<space])
        if excludingPrefixes.contains(where: { identity.hasPrefix($0) }) { continue }
        identities.insert(identity)
    }
    return identities
}

func waitUntilReady(_ base: String, within seconds: Double = 20) throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try curl(["-f", "-o", "/dev/null", "\(base)/-/ready"]).status == 0 { return true }
        usleep(100_000)
    }
    return false
}

/// Names kept from postgres_exporter so its dashboards keep working: counters without
/// `_total` and `..._count` gauges, which promtool's naming lint flags. These lint lines,
/// and only these, are accepted.
let postgresExporterCompatibleLint = try! NSRegularExpression(
    pattern: #"^pg_[a-z_]+ (counter metrics should have "_total" suffix|non-histogram and non-summary metrics should not have "_count" suffix)$"#)

@Suite(.serialized) struct LiveOutputTests {
    @Test func liveOutputWithChecksAndPostgresPassesPromtool() throws {
        let promtool = try #require(which("promtool"), "promtool is missing: install the prometheus package (make deps)")
        var config = """
        checks:
          - {name: refused, url: 'http://127.0.0.1:1/', interval: 2s, timeout: 1s, labels: {endpoint: /}}
        scenarios:
          - name: two-steps
            interval: 2s
            timeout: 1s
            labels: {role: role-junior-agent}
            steps:
              - {name: first, url: 'http://127.0.0.1:1/login'}
              - {name: second, url: 'http://127.0.0.1:1/me'}

        """
        var env: [String: String] = [:]
        if let cluster = TestEnvironment.postgres {
            let (port, user, database) = (cluster.port, cluster.monitorUser, cluster.database)
            env["PGPW"] = cluster.monitorPassword
            config += """
            postgres:
              - name: test
                dsn: "host=127.0.0.1 port=\(port) user=\(user) password=${env:PGPW} dbname=\(database)"
                interval: 2s
                timeout: 1s
                collectors: [database, activity, settings, locks, statements, tables, replication, bgwriter, wal]
                queries:
                  - name: databases
                    sql: SELECT datname AS database, 1 AS present FROM pg_database WHERE NOT datistemplate
                    metrics:
                      - {name: test_database_present, type: gauge, help: A database exists., labels: [database], value: present}

            """
        } else {
            #expect(!TestEnvironment.requiresPostgres, "MITRA_TEST_PG_* variables are missing")
        }
        let file = try TemporaryConfig(config)
        let exporter = try ExporterProcess(arguments: ["--config.file", file.path], environment: env)
        let base = "http://127.0.0.1:\(exporter.port)"
        #expect(try waitUntilReady(base))
        let body = try curl(["-f", "\(base)/metrics"]).output
        #expect(body.contains("probe_success{check=\"refused\",endpoint=\"/\"} 0"))
        if env["PGPW"] != nil {
            #expect(body.contains("pg_up{instance_name=\"test\"} 1"))
            #expect(body.contains("test_database_present{instance_name=\"test\",database=\"postgres\"} 1"))
            #expect(body.contains("mitra_exporter_collector_success{collector=\"postgres/test/query/databases\"} 1"))
        }
        let result = try runCommand(promtool, ["check", "metrics"], stdin: body)
        let problems = result.output.split(separator: "\n").map(String.init).filter { line in
            postgresExporterCompatibleLint.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)) == nil
        }
        #expect(problems.isEmpty, "promtool check metrics: \(problems.joined(separator: "\n"))")
        #expect(!body.contains(env["PGPW"] ?? "\u{0}never"), "a password reached /metrics")

        let openMetrics = try curl(["-f", "-H", "Accept: application/openmetrics-text; version=1.0.0", "\(base)/metrics"]).output
        #expect(openMetrics.hasSuffix("# EOF\n"))
        #expect(openMetrics.contains("# TYPE mitra_probe_runs counter"))
    }

    /// Three replicas with --shard=0/3, 1/3 and 2/3 together export exactly the series one
    /// unsharded exporter does: no gap, no overlap, identical labels.
    @Test func shardsTogetherExportExactlyTheUnshardedSeries() throws {
        let checks = (0..<24).map { "  - {name: endpoint-\($0), url: 'http://127.0.0.1:1/e\($0)', interval: 2s, timeout: 1s, labels: {endpoint: /e\($0)}}" }
        let file = try TemporaryConfig("checks:\n" + checks.joined(separator: "\n") + "\n")
        // Exporter-wide series differ per process by nature; everything else must match.
        let exclude = ["process_", "mitra_exporter_build_info", "mitra_exporter_scrapes_total", "mitra_exporter_config_", "mitra_exporter_log_lines_dropped_total"]
        func identities(shard: String?) throws -> Set<String> {
            let exporter = try ExporterProcess(arguments: ["--config.file", file.path] + (shard.map { ["--shard", $0] } ?? []))
            let base = "http://127.0.0.1:\(exporter.port)"
            #expect(try waitUntilReady(base))
            return seriesIdentities(try curl(["-f", "\(base)/metrics"]).output, excludingPrefixes: exclude)
        }
        let whole = try identities(shard: nil)
        let parts = try ["0/3", "1/3", "2/3"].map { try identities(shard: $0) }
        #expect(whole.contains { $0.hasPrefix("probe_success{check=\"endpoint-23\"") })
        #expect(parts.allSatisfy { !$0.isEmpty }, "a shard got no checks")
        #expect(parts[0].isDisjoint(with: parts[1]) && parts[1].isDisjoint(with: parts[2]) && parts[0].isDisjoint(with: parts[2]))
        #expect(parts[0].union(parts[1]).union(parts[2]) == whole)
    }
}
