@testable import ExporterConfig
import Exposition
import Foundation
import Logging
import PostgresClient
@testable import PostgresCollectors
import Sampling
import Testing

/// The exporter's own kind of session: read-only, bounded.
func monitorSession(_ cluster: SharedCluster) async throws -> PostgresConnection {
    try await PostgresConnection.connect(PostgresConnectionSettings(
        target: .connectionString(cluster.keyValue()), statementTimeout: .seconds(10)))
}

/// Reads a family's series as `[labels joined: value]` for exact comparisons.
func seriesValues(_ families: [MetricFamily], _ name: String) -> [String: Double] {
    var values: [String: Double] = [:]
    for family in families where family.name == name {
        for series in family.series {
            let key = series.labels.filter { $0.name != "instance_name" }.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
            switch series.value {
            case .number(let number): values[key] = number
            case .histogram(let histogram):
                values[key + ",count"] = Double(histogram.count)
                values[key + ",sum"] = histogram.sum
                for bucket in histogram.buckets { values[key + ",le=\(Renderer.formatNumber(bucket.upperBound))"] = Double(bucket.count) }
            }
        }
    }
    return values
}

@Suite(.serialized, .enabled(if: SharedCluster.available, "MITRA_TEST_PG_* not set: run scripts/pg-test-cluster.sh"))
struct SQLQueryCollectorTests {
    let cluster = SharedCluster.current!

    static let loginQuery = """
        SELECT role_id AS role, outcome, count(*) AS attempts,
               count(*) FILTER (WHERE duration_ms <= 250) AS le_0_25,
               count(*) FILTER (WHERE duration_ms <= 500) AS le_0_5,
               count(*) FILTER (WHERE duration_ms <= 1000) AS le_1,
               coalesce(sum(duration_ms), 0) / 1000.0 AS duration_sum
        FROM TABLE_NAME WHERE event_id > $1 AND event_id <= $2
        GROUP BY 1, 2
        """

    func loginCollector(table: String, maxSettleWait: Duration = .seconds(120)) -> SQLQueryCollector {
        let config = SQLQueryConfig(
            name: "login_attempts", mode: .incremental(.init(table: table, column: "event_id")), sql: Self.loginQuery.replacingOccurrences(of: "TABLE_NAME", with: table),
            minInterval: .milliseconds(1), maxRows: 1000, maxSeries: 1000,
            maxSettleWait: maxSettleWait,
            metrics: [
                SQLMetricConfig(name: "agentmitra_login_attempts_total", help: "Logins.", labels: ["role", "outcome"],
                                value: .counter(column: "attempts")),
                SQLMetricConfig(name: "agentmitra_login_duration_seconds", help: "Login time.", labels: ["role", "outcome"],
                                value: .histogram(.init(buckets: [0.25, 0.5, 1], bucketColumns: ["le_0_25", "le_0_5", "le_1"],
                                                        sumColumn: "duration_sum", countColumn: "attempts"))),
            ])
        return SQLQueryCollector(config: config, instanceName: "test", instanceLabels: [Label("instance_name", "test")],
                                 defaultInterval: .seconds(15), logger: Logger(label: "test"))
    }

    func makeTable(_ writer: PostgresConnection, _ name: String) async throws {
        try await writer.run("DROP TABLE IF EXISTS \(name)")
        try await writer.run("""
            CREATE TABLE \(name) (event_id bigserial PRIMARY KEY, occurred_at timestamptz NOT NULL DEFAULT now(),
                                  role_id text, outcome text NOT NULL, duration_ms integer)
            """)
    }

    func insert(_ writer: PostgresConnection, _ table: String, role: String, outcome: String, durationMs: Int, count: Int = 1) async throws {
        try await writer.run("INSERT INTO \(table) (role_id, outcome, duration_ms) SELECT $1, $2, $3::int FROM generate_series(1, $4::int)",
                             [role, outcome, String(durationMs), String(count)])
    }

    /// Samples until the counter reaches `expected` (a bounded number of times), returning
    /// the values seen so a test can check nothing was ever over-counted.
    func sampleUntil(_ collector: SQLQueryCollector, _ monitor: PostgresConnection, total expected: Double,
                     attempts: Int = 40) async -> (families: [MetricFamily], history: [Double]) {
        var history: [Double] = []
        var families: [MetricFamily] = []
        for _ in 0..<attempts {
            let result = await collector.collect(execute: { sql, parameters throws(PostgresError) in
                try await monitor.query(sql, parameters, deadline: .now + .seconds(10))
            })
            #expect(result.outcome?.success == true, "\(result.outcome?.error ?? "")")
            families = result.families
            let total = seriesValues(families, "agentmitra_login_attempts_total").values.reduce(0, +)
            history.append(total)
            if total >= expected { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return (families, history)
    }

    @Test func countsExactlyPerRoleAndOutcomeAcrossSamples() async throws {
        let writer = try await cluster.admin()
        let monitor = try await monitorSession(cluster)
        let table = "lic_schema.auth_events_exact"
        try await makeTable(writer, table)
        // Rows from before the exporter started are not counted.
        try await insert(writer, table, role: "role-junior-agent", outcome: "success", durationMs: 100, count: 50)
        let collector = loginCollector(table: table)
        _ = await sampleUntil(collector, monitor, total: 0, attempts: 1)
        #expect(collector.watermark == 50)

        try await insert(writer, table, role: "role-junior-agent", outcome: "success", durationMs: 200, count: 7)
        try await insert(writer, table, role: "role-junior-agent", outcome: "invalid_credentials", durationMs: 600, count: 2)
        try await insert(writer, table, role: "role-super-admin", outcome: "success", durationMs: 1500, count: 3)
        var (families, history) = await sampleUntil(collector, monitor, total: 12)
        #expect(history.last == 12)
        #expect(seriesValues(families, "agentmitra_login_attempts_total") == [
            "role=role-junior-agent,outcome=success": 7,
            "role=role-junior-agent,outcome=invalid_credentials": 2,
            "role=role-super-admin,outcome=success": 3,
        ])
        let histogram = seriesValues(families, "agentmitra_login_duration_seconds")
        #expect(histogram["role=role-junior-agent,outcome=success,le=0.25"] == 7)
        #expect(histogram["role=role-junior-agent,outcome=invalid_credentials,le=0.5"] == 0)
        #expect(histogram["role=role-junior-agent,outcome=invalid_credentials,le=1"] == 2)
        #expect(histogram["role=role-super-admin,outcome=success,le=1"] == 0)
        #expect(histogram["role=role-super-admin,outcome=success,count"] == 3)
        #expect(histogram["role=role-super-admin,outcome=success,sum"] == 4.5)

        try await insert(writer, table, role: "role-junior-agent", outcome: "success", durationMs: 100, count: 5)
        (families, history) = await sampleUntil(collector, monitor, total: 17)
        #expect(seriesValues(families, "agentmitra_login_attempts_total")["role=role-junior-agent,outcome=success"] == 12)
        #expect(history.allSatisfy { $0 <= 17 })
        await writer.close()
        await monitor.close()
    }

    /// 20,000 new keys at once, and a count that fails for ranges of more than 3,000 keys (as
    /// a count over millions of rows hits the statement timeout): the counter narrows its
    /// range, catches up exactly, then counts whole ranges again.
    @Test func aCounterThatFellBehindCatchesUpInSmallerRanges() async throws {
        let writer = try await cluster.admin()
        let monitor = try await monitorSession(cluster)
        let table = "lic_schema.auth_events_backfill"
        try await makeTable(writer, table)
        let failingSQL = Self.loginQuery.replacingOccurrences(of: "TABLE_NAME", with: table)
            .replacingOccurrences(of: "WHERE event_id > $1 AND event_id <= $2",
                                  with: "WHERE event_id > $1 AND event_id <= $2 AND 1 / (CASE WHEN $2::bigint - $1::bigint > 3000 THEN 0 ELSE 1 END) = 1")
        let base = loginCollector(table: table)
        let collector = SQLQueryCollector(
            config: SQLQueryConfig(name: base.config.name, mode: base.config.mode, sql: failingSQL, minInterval: .milliseconds(1),
                                   maxRows: 1000, maxSeries: 1000, maxSettleWait: .seconds(120), metrics: base.config.metrics),
            instanceName: "test", instanceLabels: [Label("instance_name", "test")], defaultInterval: .seconds(15), logger: Logger(label: "test"))
        _ = await sampleUntil(collector, monitor, total: 0, attempts: 1)
        try await insert(writer, table, role: "role-junior-agent", outcome: "success", durationMs: 100, count: 20_000)
        var totals: [Double] = []
        var failures = 0
        for _ in 0..<200 {
            let result = await collector.collect(execute: { sql, parameters throws(PostgresError) in
                try await monitor.query(sql, parameters, deadline: .now + .seconds(10))
            })
            // No outcome: the run was skipped (called again within min_interval).
            if result.outcome?.success == false { failures += 1 }
            totals.append(seriesValues(result.families, "agentmitra_login_attempts_total").values.reduce(0, +))
            if totals.last == 20_000 { break }
            try? await Task.sleep(for: .milliseconds(20))
        }
        #expect(totals.last == 20_000, "caught up: \(totals)")
        #expect(totals.allSatisfy { $0 <= 20_000 })
        #expect(failures == 3, "20,000 → 10,000 → 5,000 → 2,500 keys: three failed samples, then none")
        #expect(collector.watermark == 20_000)
        // Caught up: the limit is lifted, a range of 2,000 keys is counted in one sample.
        try await insert(writer, table, role: "role-junior-agent", outcome: "success", durationMs: 100, count: 2_000)
        let (_, history) = await sampleUntil(collector, monitor, total: 22_000)
        #expect(history.last == 22_000)
        await writer.close()
        await monitor.close()
    }

    /// A transaction takes a key, stays open while later keys commit, then commits: its row
    /// must be counted once, and none of the others twice.
    @Test func slowConcurrentInsertIsNeitherMissedNorCountedTwice() async throws {
        let writer = try await cluster.admin()
        let slowWriter = try await cluster.admin()
        let monitor = try await monitorSession(cluster)
        let table = "lic_schema.auth_events_inflight"
        try await makeTable(writer, table)
        let collector = loginCollector(table: table)
        _ = await sampleUntil(collector, monitor, total: 0, attempts: 1)

        try await slowWriter.run("BEGIN")
        try await insert(slowWriter, table, role: "role-policyholder", outcome: "success", durationMs: 100)
        try await insert(writer, table, role: "role-support-staff", outcome: "success", durationMs: 100, count: 10)
        // While the slow transaction is open, the ten visible rows (keys above its key) must wait.
        var history: [Double] = []
        for _ in 0..<6 {
            let (_, seen) = await sampleUntil(collector, monitor, total: .infinity, attempts: 1)
            history += seen
        }
        #expect(history.allSatisfy { $0 == 0 }, "counted past an in-flight key: \(history)")
        try await slowWriter.run("COMMIT")
        let (families, after) = await sampleUntil(collector, monitor, total: 11)
        #expect(after.last == 11)
        #expect(seriesValues(families, "agentmitra_login_attempts_total") == [
            "role=role-policyholder,outcome=success": 1, "role=role-support-staff,outcome=success": 10,
        ])
        // Further samples with no new rows change nothing.
        let (_, steady) = await sampleUntil(collector, monitor, total: .infinity, attempts: 3)
        #expect(steady.allSatisfy { $0 == 11 })
        await writer.close()
        await slowWriter.close()
        await monitor.close()
    }

    @Test func truncationIsDetectedAndCountingContinues() async throws {
        let writer = try await cluster.admin()
        let monitor = try await monitorSession(cluster)
        let table = "lic_schema.auth_events_truncated"
        try await makeTable(writer, table)
        try await insert(writer, table, role: "r", outcome: "success", durationMs: 1, count: 20)
        let collector = loginCollector(table: table)
        _ = await sampleUntil(collector, monitor, total: 0, attempts: 1)
        try await insert(writer, table, role: "r", outcome: "success", durationMs: 1, count: 4)
        _ = await sampleUntil(collector, monitor, total: 4)
        try await writer.run("TRUNCATE \(table) RESTART IDENTITY")
        try await insert(writer, table, role: "r", outcome: "success", durationMs: 1, count: 3)
        let (_, history) = await sampleUntil(collector, monitor, total: 7)
        #expect(history.last == 7, "counters never go backwards and the new rows are counted: \(history)")
        #expect(history.allSatisfy { $0 >= 4 && $0 <= 7 })
        await writer.close()
        await monitor.close()
    }

    @Test func gaugeModeExportsRowsAndRejectsDuplicateLabelSets() async throws {
        let writer = try await cluster.admin()
        let monitor = try await monitorSession(cluster)
        try await writer.run("DROP TABLE IF EXISTS lic_schema.policies_gauge")
        try await writer.run("CREATE TABLE lic_schema.policies_gauge (status text)")
        try await writer.run("INSERT INTO lic_schema.policies_gauge SELECT CASE WHEN g % 4 = 0 THEN 'lapsed' ELSE 'active' END FROM generate_series(1, 100) g")
        let execute: SQLQueryCollector.Execute = { sql, parameters throws(PostgresError) in
            try await monitor.query(sql, parameters, deadline: .now + .seconds(10))
        }
        func gauge(_ sql: String) -> SQLQueryCollector {
            SQLQueryCollector(config: SQLQueryConfig(
                name: "policies", mode: .gauge, sql: sql, minInterval: .milliseconds(1), maxRows: 1000, maxSeries: 1000,
                maxSettleWait: .seconds(60),
                metrics: [SQLMetricConfig(name: "agentmitra_policies", help: "Policies by status.", labels: ["status"],
                                          value: .gauge(column: "policies"))]),
                instanceName: "test", instanceLabels: [Label("instance_name", "test")], defaultInterval: .seconds(15), logger: Logger(label: "t"))
        }
        let good = await gauge("SELECT status, count(*) AS policies FROM lic_schema.policies_gauge GROUP BY status").collect(execute: execute)
        #expect(good.outcome?.success == true)
        #expect(seriesValues(good.families, "agentmitra_policies") == ["status=active": 75, "status=lapsed": 25])

        let duplicate = await gauge("SELECT status, 1 AS policies FROM lic_schema.policies_gauge").collect(execute: execute)
        #expect(duplicate.outcome?.success == false)
        #expect(duplicate.outcome?.error?.contains("two rows have the same labels {status=\"active\"} for agentmitra_policies") == true)
        #expect(seriesValues(duplicate.families, "agentmitra_policies").isEmpty)

        let missing = await gauge("SELECT status, count(*) AS n FROM lic_schema.policies_gauge GROUP BY status").collect(execute: execute)
        #expect(missing.outcome?.error == "query policies: metric agentmitra_policies reads column \"policies\", which the result does not have (columns: status, n)")

        let badSQL = await gauge("SELECT status, count(*) AS policies FROM lic_schema.no_such_table GROUP BY status").collect(execute: execute)
        #expect(badSQL.outcome?.error?.contains("relation \"lic_schema.no_such_table\" does not exist") == true, "\(badSQL.outcome?.error ?? "")")
        await writer.close()
        await monitor.close()
    }
}
