import Exposition
import ExporterConfig
import Foundation
import PostgresClient
@testable import PostgresCollectors
import Sampling
import Testing
import TestSupport

/// Tests that stop and restart the server, each on a cluster of its own.
@Suite(.serialized, .enabled(if: SharedCluster.available && getuid() == 0, "needs MITRA_TEST_PG_* and root (runuser) to start private clusters"))
struct ServerLifecycleTests {
    let shared = SharedCluster.current!
    let quickBackoff = ReconnectBackoff(initial: .milliseconds(100), maximum: .milliseconds(400))

    func monitorInstance(_ cluster: PrivateCluster, collectors: [PostgresCollectorKind] = [.database, .activity, .locks]) -> PostgresInstanceConfig {
        shared.instance(name: "private", dsn: shared.keyValue(user: shared.monitorUser, password: shared.monitorPassword, port: cluster.port),
                        collectors: collectors, timeout: .seconds(3))
    }

    /// Sessions opened by the exporter, seen from a separate observer session.
    func exporterSessions(_ cluster: PrivateCluster, applicationName: String = "mitra-exporter") async throws -> Int {
        let observer = try await PostgresConnection.connect(PostgresConnectionSettings(
            target: .connectionString(shared.keyValue(user: shared.monitorUser, password: shared.monitorPassword, port: cluster.port)),
            applicationName: "mitra-test-observer", connectTimeout: .seconds(3)))
        let count = try await observer.scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", [applicationName])
        await observer.close()
        return Int(count ?? "") ?? -1
    }

    @Test func serverDownAtStartExportsOnlyPgUpThenRecovers() async throws {
        let cluster = try await PrivateCluster.start(script: shared.script)
        try await cluster.control("stop")
        let sampler = PostgresSampler(config: monitorInstance(cluster), logger: LogRecorder().logger, backoff: quickBackoff)

        let started = ContinuousClock.now
        let down = await sampler.sample()
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(down.families.map(\.name) == ["pg_up"])
        #expect(value(down, "pg_up", ["instance_name": "private"]) == 0)
        #expect(down.outcomes.count == 3 && down.outcomes.allSatisfy { !$0.success && $0.error?.contains("connect:") == true })
        // Within the backoff the next run does not even try.
        let waiting = await sampler.sample()
        #expect(waiting.outcomes.first?.error?.contains("next connection attempt in") == true)

        try await cluster.control("start")
        try await Task.sleep(for: .milliseconds(500))
        let up = await sampler.sample()
        #expect(value(up, "pg_up") == 1)
        #expect(up.outcomes.allSatisfy { $0.success })
        await sampler.shutdown()
        try await cluster.destroy()
    }

    @Test func restartsMidRunReconnectWithoutLeakingConnections() async throws {
        let cluster = try await PrivateCluster.start(script: shared.script)
        let sampler = PostgresSampler(config: monitorInstance(cluster), logger: LogRecorder().logger, backoff: quickBackoff)
        #expect(value(await sampler.sample(), "pg_up") == 1)
        for round in 0..<20 {
            if round.isMultiple(of: 5) {
                // Down during a run: pg_up 0 and nothing else, then back.
                try await cluster.control("stop")
                let down = await sampler.sample()
                #expect(down.families.map(\.name) == ["pg_up"])
                try await cluster.control("start")
                try await Task.sleep(for: .milliseconds(450))
            } else {
                try await cluster.control("restart")
            }
            let result = await sampler.sample()
            #expect(value(result, "pg_up") == 1, "round \(round): \(result.outcomes.first?.error ?? "")")
            #expect(try await exporterSessions(cluster) == 1, "round \(round)")
        }
        await sampler.shutdown()
        var remaining = -1
        for _ in 0..<30 {
            remaining = try await exporterSessions(cluster)
            if remaining == 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(remaining == 0)
        try await cluster.destroy()
    }

    @Test func replicationLagOnPrimaryAndStandby() async throws {
        let primary = try await PrivateCluster.start(script: shared.script)
        let standbyDirectory = primary.directory + "-standby"
        let standbyPort = String(try freeLoopbackPort())
        let pgBin = shared.bin
        func asPostgres(_ arguments: [String]) -> Int32 {
            spawnAndWait(["/usr/bin/env", "runuser", "-u", "postgres", "--"] + arguments)
        }
        #expect(spawnAndWait(["/usr/bin/env", "install", "-d", "-o", "postgres", "-m", "700", standbyDirectory]) == 0)
        #expect(asPostgres(["\(pgBin)/pg_basebackup", "-h", primary.directory, "-p", primary.port, "-U", "postgres",
                            "-D", "\(standbyDirectory)/data", "-R", "-X", "stream", "--checkpoint=fast"]) == 0)
        let extra = "\nport = \(standbyPort)\nunix_socket_directories = '\(standbyDirectory)'\n"
        let conf = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(standbyDirectory)/data/postgresql.conf"))
        try conf.seekToEnd()
        try conf.write(contentsOf: Data(extra.utf8))
        try conf.close()
        #expect(asPostgres(["\(pgBin)/pg_ctl", "-D", "\(standbyDirectory)/data", "-l", "\(standbyDirectory)/server.log",
                            "-w", "-t", "30", "start"]) == 0)

        let onPrimary = PostgresSampler(config: monitorInstance(primary, collectors: [.replication, .wal]), logger: LogRecorder().logger)
        var standbyConfig = monitorInstance(primary, collectors: [.replication, .wal] + (shared.hasStatements ? [.statements] : []))
        standbyConfig.dsn = shared.keyValue(user: shared.monitorUser, password: shared.monitorPassword, port: standbyPort)
        let onStandby = PostgresSampler(config: standbyConfig, logger: LogRecorder().logger)
        // The standby may need a moment to connect to the primary.
        var primaryResult = await onPrimary.sample()
        for _ in 0..<50 {
            if !series(primaryResult, "pg_stat_replication_lag_bytes").isEmpty { break }
            try await Task.sleep(for: .milliseconds(100))
            primaryResult = await onPrimary.sample()
        }
        let standbyResult = await onStandby.sample()
        await onPrimary.shutdown()
        await onStandby.shutdown()
        _ = asPostgres(["\(pgBin)/pg_ctl", "-D", "\(standbyDirectory)/data", "-m", "fast", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: standbyDirectory)
        try await primary.destroy()

        #expect(value(primaryResult, "pg_replication_is_replica") == 0)
        let standbys = series(primaryResult, "pg_stat_replication_lag_bytes", ["state": "streaming"])
        #expect(standbys.count == 1)
        #expect(value(standbyResult, "pg_replication_is_replica") == 1)
        #expect((value(standbyResult, "pg_replication_lag_seconds") ?? -1) >= 0)
        #expect((value(standbyResult, "pg_replication_lag_bytes") ?? -1) >= 0)
        // On a standby the WAL position is not exported, and every collector still works.
        #expect(series(standbyResult, "pg_wal_lsn_bytes").isEmpty)
        #expect(standbyResult.outcomes.allSatisfy { $0.success }, "\(standbyResult.outcomes.compactMap(\.error))")
    }

    /// One sample's rendered output, values normalised, against Golden/postgres-sample.prom
    /// (PostgreSQL 15) or Golden/postgres-sample-pgNN.prom (other versions): the files show
    /// exactly which families each version has. Regenerate with MITRA_UPDATE_GOLDEN=1 after an
    /// intended change.
    @Test func goldenRenderedSample() async throws {
        let cluster = try await PrivateCluster.start(script: shared.script)
        let admin = try await PostgresConnection.connect(PostgresConnectionSettings(
            target: .connectionString(shared.keyValue(port: cluster.port)), applicationName: "mitra-test-admin", readOnly: false))
        try await admin.run("CREATE TABLE lic_schema.policies (policy_id int PRIMARY KEY, status text)")
        try await admin.run("INSERT INTO lic_schema.policies VALUES (1, 'active'), (2, 'lapsed')")
        await admin.close()
        // The admin backend exits asynchronously; sampling before it has gone would count it.
        for _ in 0..<50 {
            if try await exporterSessions(cluster, applicationName: "mitra-test-admin") == 0 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        var config = monitorInstance(cluster, collectors: shared.supportedCollectors.filter { $0 != .statements })
        config.labels = [ConfigLabel(name: "env", value: "test")]
        let sampler = PostgresSampler(config: config, logger: LogRecorder().logger)
        let result = await sampler.sample()
        await sampler.shutdown()
        try await cluster.destroy()
        #expect(result.outcomes.allSatisfy { $0.success }, "\(result.outcomes.compactMap(\.error))")

        let rendered = normalise(Renderer.render(Renderer.merge(result.families), format: .prometheusText))
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(shared.version == 15 ? "Golden/postgres-sample.prom" : "Golden/postgres-sample-pg\(shared.version).prom")
        if TestEnvironment.updatesGoldenFiles {
            try FileManager.default.createDirectory(at: golden.deletingLastPathComponent(), withIntermediateDirectories: true)
            try rendered.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(rendered == expected)
    }

    /// Values and object ids differ between runs; names, HELP, TYPE, labels and order must not.
    /// Values that are fixed for a fresh cluster are kept.
    func normalise(_ text: String) -> String {
        let fixedValues: Set<String> = ["pg_up", "pg_settings_max_connections", "pg_replication_is_replica",
                                        "pg_replication_lag_seconds", "mitra_exporter_series_dropped_total"]
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " ") else { return String(line) }
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            if fixedValues.contains(name) { return String(line) }
            var series = String(line[..<space])
            if let range = series.range(of: #"datid="[0-9]+""#, options: .regularExpression) {
                series.replaceSubrange(range, with: "datid=\"<oid>\"")
            }
            return series + " <value>"
        }.joined(separator: "\n")
    }
}
