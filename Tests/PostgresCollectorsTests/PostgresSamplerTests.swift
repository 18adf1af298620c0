import Exposition
import ExporterConfig
import Foundation
import Logging
import PostgresClient
@testable import PostgresCollectors
import Sampling
import Testing
import TestSupport

/// Collectors against the shared real server. Serialized: they assert exact counts of
/// sessions, locks and statements that parallel tests would disturb.
@Suite(.serialized, .enabled(if: SharedCluster.available, "MITRA_TEST_PG_* not set: run scripts/pg-test-cluster.sh"))
struct PostgresSamplerTests {
    let cluster = SharedCluster.current!

    /// A table of its own per test, in lic_schema, with `rows` rows.
    func makeTable(_ admin: PostgresConnection, rows: Int) async throws -> String {
        let name = "t_\(UUID().uuidString.prefix(8).lowercased())"
        try await admin.run("CREATE TABLE lic_schema.\(name) (id int PRIMARY KEY, note text)")
        try await admin.run("GRANT SELECT ON lic_schema.\(name) TO \(cluster.monitorUser)")
        if rows > 0 {
            try await admin.run("INSERT INTO lic_schema.\(name) SELECT g, 'n' || g FROM generate_series(1, \(rows)) g")
        }
        return name
    }

    /// A login role with no monitoring grants (password "unprivileged-pw").
    func makeUnprivilegedRole(_ admin: PostgresConnection) async throws {
        try await admin.run("""
            DO $$ BEGIN
              IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mitra_unprivileged') THEN
                CREATE ROLE mitra_unprivileged LOGIN PASSWORD 'unprivileged-pw';
              END IF;
            END $$
            """)
    }

    @Test func everyCollectorSucceedsAndSeriesCarryTheInstanceName() async throws {
        let sampler = PostgresSampler(config: cluster.instance(collectors: cluster.supportedCollectors), logger: LogRecorder().logger)
        let result = await sampler.sample()
        await sampler.shutdown()
        #expect(result.outcomes.count == cluster.supportedCollectors.count)
        for outcome in result.outcomes {
            #expect(outcome.success, "\(outcome.collector): \(outcome.error ?? "")")
            #expect(outcome.collector.hasPrefix("postgres/testdb/"))
        }
        #expect(value(result, "pg_up") == 1)
        #expect(sampler.id == "postgres/testdb")
        for family in result.families {
            for series in family.series {
                #expect(series.labels.first == Label("instance_name", "testdb"), "\(family.name)")
            }
        }
        #expect(value(result, "pg_settings_max_connections") == 100)
        #expect((value(result, "pg_database_size_bytes", ["datname": cluster.database]) ?? 0) > 1_000_000)
        #expect(value(result, "pg_replication_is_replica") == 0)
        #expect(value(result, "pg_replication_lag_seconds") == 0)
        #expect((value(result, "pg_stat_wal_records_total") ?? 0) > 0)
        #expect(value(result, "pg_stat_bgwriter_checkpoints_timed_total") != nil)
        #expect(series(result, "mitra_exporter_series_dropped_total").count == cluster.supportedCollectors.count)
    }

    /// A figure that means the same on every version has one name: the checkpoint counters
    /// come from pg_stat_checkpointer on 17+ and pg_stat_bgwriter before, under the same names.
    @Test func checkpointFamiliesKeepOneNameOnEveryVersion() async throws {
        let sampler = PostgresSampler(config: cluster.instance(collectors: [.bgwriter, .wal, .settings]), logger: LogRecorder().logger)
        let result = await sampler.sample()
        await sampler.shutdown()
        #expect(result.outcomes.allSatisfy { $0.success }, "\(result.outcomes.compactMap(\.error))")
        for name in ["pg_stat_bgwriter_checkpoints_timed_total", "pg_stat_bgwriter_checkpoints_req_total",
                     "pg_stat_bgwriter_checkpoint_write_time_total", "pg_stat_bgwriter_checkpoint_sync_time_total",
                     "pg_stat_bgwriter_buffers_checkpoint_total", "pg_stat_bgwriter_buffers_clean_total",
                     "pg_stat_bgwriter_buffers_alloc_total", "pg_stat_wal_records_total", "pg_stat_wal_bytes_total",
                     "pg_settings_max_connections", "pg_settings_shared_buffers_bytes", "pg_settings_checkpoint_timeout_seconds",
                     "pg_settings_autovacuum_vacuum_scale_factor", "pg_settings_track_io_timing"] {
            #expect(series(result, name).count == 1, "PostgreSQL \(cluster.version): \(name)")
        }
        // The 17+ view's own names for the same figures are not exported a second time.
        for name in ["pg_stat_checkpointer_num_timed_total", "pg_stat_checkpointer_num_requested_total",
                     "pg_stat_checkpointer_write_time_total", "pg_stat_checkpointer_sync_time_total",
                     "pg_stat_checkpointer_buffers_written_total"] {
            #expect(series(result, name).isEmpty, "\(name)")
        }
        #expect(series(result, "pg_stat_checkpointer_restartpoints_done_total").count == (cluster.version >= 17 ? 1 : 0))
        #expect(value(result, "pg_settings_shared_buffers_bytes") == 134_217_728.0)
        #expect(value(result, "pg_settings_checkpoint_timeout_seconds") == 300)
        #expect(value(result, "pg_settings_track_io_timing") == 1)
        #expect(value(result, "pg_settings_fsync") == 0)
    }

    @Test func ioCollectorReadsPgStatIOOrSaysItIsUnavailable() async throws {
        let admin = try await cluster.admin()
        let table = try await makeTable(admin, rows: 200)
        try await admin.run("CHECKPOINT")
        await admin.close()
        let recorder = LogRecorder()
        let sampler = PostgresSampler(config: cluster.instance(collectors: [.database, .io]), logger: recorder.logger)
        let result = await sampler.sample()
        _ = await sampler.sample()
        await sampler.shutdown()
        #expect(outcome(result, "database")?.success == true)
        let io = try #require(outcome(result, "io"))
        guard cluster.version >= 16 else {
            #expect(!io.success)
            #expect(io.error?.contains("pg_stat_io needs PostgreSQL 16 or later (server is \(cluster.version))") == true, "\(io.error ?? "")")
            #expect(series(result, "pg_stat_io_reads_total").isEmpty)
            #expect(recorder.messages.filter { $0.1.contains("io: collector failed") }.count == 1)
            return
        }
        #expect(io.success, "\(io.error ?? "")")
        let normal = ["backend_type": "client backend", "object": "relation", "context": "normal"]
        #expect((value(result, "pg_stat_io_hits_total", normal) ?? 0) > 0, "\(table)")
        #expect((value(result, "pg_stat_io_extends_total", normal) ?? 0) > 0)
        #expect((value(result, "pg_stat_io_extend_bytes_total", normal) ?? 0) >= 8192)
        #expect(value(result, "pg_stat_io_read_time_seconds_total", normal) != nil)
        // The checkpointer's writes: what pg_stat_bgwriter.buffers_checkpoint counted before 17.
        #expect((value(result, "pg_stat_io_writes_total", ["backend_type": "checkpointer", "object": "relation", "context": "normal"]) ?? 0) > 0)
        // NULL (not applicable) combinations have no series: checkpointer never reads.
        #expect(series(result, "pg_stat_io_hits_total", ["backend_type": "checkpointer"]).isEmpty)
        if cluster.version >= 18 {
            // WAL writes and fsyncs, which pg_stat_wal no longer has from 18.
            #expect(!series(result, "pg_stat_io_writes_total", ["object": "wal"]).isEmpty)
            #expect(!series(result, "pg_stat_io_fsyncs_total", ["object": "wal"]).isEmpty)
        }
    }

    @Test func tableAndDatabaseCountersAreExact() async throws {
        let admin = try await cluster.admin()
        let sampler = PostgresSampler(config: cluster.instance(collectors: [.database, .tables]), logger: LogRecorder().logger)
        let before = await sampler.sample()
        let insertedBefore = try #require(value(before, "pg_stat_database_tup_inserted", ["datname": cluster.database]))

        let table = try await makeTable(admin, rows: 10)
        for _ in 0..<3 { try await admin.run("SELECT count(*) FROM lic_schema.\(table)") }
        try await admin.run("SET enable_seqscan = off")
        for id in 1...4 { try await admin.run("SELECT note FROM lic_schema.\(table) WHERE id = $1", ["\(id)"]) }
        try await admin.run("UPDATE lic_schema.\(table) SET note = 'x' WHERE id <= 2")
        try await admin.run("DELETE FROM lic_schema.\(table) WHERE id = 10")
        // Backends flush their statistics when they exit.
        await admin.close()
        try await Task.sleep(for: .milliseconds(300))

        let after = await sampler.sample()
        await sampler.shutdown()
        let labels = ["schemaname": "lic_schema", "relname": table, "datname": cluster.database]
        #expect(value(after, "pg_stat_user_tables_n_tup_ins", labels) == 10)
        #expect(value(after, "pg_stat_user_tables_n_tup_upd", labels) == 2)
        #expect(value(after, "pg_stat_user_tables_n_tup_del", labels) == 1)
        #expect(value(after, "pg_stat_user_tables_n_live_tup", labels) == 9)
        #expect(value(after, "pg_stat_user_tables_n_dead_tup", labels) == 3)
        // Three counts, plus the heap scan that built the primary key index.
        #expect(value(after, "pg_stat_user_tables_seq_scan", labels) == 4)
        // Four lookups, plus the UPDATE and DELETE that found their rows through the index.
        #expect(value(after, "pg_stat_user_tables_idx_scan", labels) == 6)
        #expect((value(after, "pg_stat_user_tables_table_size_bytes", labels) ?? 0) > 0)
        #expect((value(after, "pg_stat_user_tables_index_size_bytes", labels) ?? 0) > 0)
        #expect(value(after, "pg_stat_user_tables_last_vacuum_age_seconds", labels) == nil)
        let insertedAfter = try #require(value(after, "pg_stat_database_tup_inserted", ["datname": cluster.database]))
        // The ten rows plus the catalog rows CREATE TABLE, its index and GRANT wrote.
        #expect(insertedAfter - insertedBefore >= 10)
        // Schemas outside the configured list are not read.
        #expect(series(after, "pg_stat_user_tables_n_tup_ins").allSatisfy { $0.labels.contains(Label("schemaname", "lic_schema")) })
    }

    @Test func activityCountsSessionsByState() async throws {
        let sessions = [try await cluster.admin(database: cluster.noExtensionDatabase),
                        try await cluster.admin(database: cluster.noExtensionDatabase)]
        for session in sessions { try await session.run("BEGIN"); try await session.run("SELECT 1") }
        try await Task.sleep(for: .milliseconds(200))
        // Connected to the same database, so its own (active) session would show if counted.
        let sampler = PostgresSampler(config: cluster.instance(dsn: cluster.keyValue(database: cluster.noExtensionDatabase), collectors: [.activity]),
                                      logger: LogRecorder().logger)
        let result = await sampler.sample()
        await sampler.shutdown()
        for session in sessions { await session.close() }
        #expect(value(result, "pg_stat_activity_count",
                      ["datname": cluster.noExtensionDatabase, "state": "idle in transaction", "wait_event_type": "Client"]) == 2)
        #expect((value(result, "pg_stat_activity_max_tx_duration", ["datname": cluster.noExtensionDatabase]) ?? 0) >= 0.2)
        #expect(value(result, "pg_stat_activity_max_query_duration_seconds", ["datname": cluster.noExtensionDatabase]) == 0)
        // Like postgres_exporter: a zero series for every state, so quiet databases have series.
        for state in ["active", "idle", "idle in transaction", "idle in transaction (aborted)", "fastpath function call", "disabled"] {
            #expect(value(result, "pg_stat_activity_count", ["datname": "postgres", "state": state, "wait_event_type": ""]) != nil, "\(state)")
            #expect(value(result, "pg_stat_activity_count", ["datname": cluster.noExtensionDatabase, "state": state, "wait_event_type": ""]) == 0, "\(state)")
        }
        #expect(series(result, "pg_stat_activity_count", ["datname": cluster.noExtensionDatabase]).count == 7)
        #expect(series(result, "pg_stat_activity_count", ["datname": "template0"]).isEmpty)
    }

    @Test func blockedProcessIsSeenAndTheBlockedCollectorFailsAlone() async throws {
        let holder = try await cluster.admin()
        let table = try await makeTable(holder, rows: 1)
        try await holder.run("BEGIN")
        try await holder.run("LOCK TABLE lic_schema.\(table) IN ACCESS EXCLUSIVE MODE")
        let waiter = try await cluster.admin(lockTimeout: .seconds(8))
        async let blocked = try waiter.run("SELECT count(*) FROM lic_schema.\(table)")
        try await Task.sleep(for: .milliseconds(300))

        // statement_timeout below lock_timeout: the tables collector waits on the lock until the
        // server cancels it; every other collector still reports.
        let sampler = PostgresSampler(
            config: cluster.instance(collectors: [.database, .locks, .tables, .activity], timeout: .seconds(4),
                                     statementTimeout: .milliseconds(500), lockTimeout: .seconds(3)),
            logger: LogRecorder().logger)
        let started = ContinuousClock.now
        let result = await sampler.sample()
        let elapsed = ContinuousClock.now - started
        await sampler.shutdown()
        try await holder.run("ROLLBACK")
        _ = try await blocked
        await holder.close()
        await waiter.close()

        #expect(value(result, "pg_blocked_processes") == 1)
        #expect((value(result, "pg_locks_count", ["datname": cluster.database, "mode": "accessexclusivelock"]) ?? 0) >= 1)
        #expect(series(result, "pg_locks_count", ["datname": cluster.database]).count == 9)
        #expect(value(result, "pg_up") == 1)
        let tables = try #require(outcome(result, "tables"))
        #expect(!tables.success)
        #expect(tables.error?.contains("57014") == true, "\(tables.error ?? "")")
        #expect(outcome(result, "database")?.success == true)
        #expect(outcome(result, "locks")?.success == true)
        #expect(outcome(result, "activity")?.success == true)
        #expect(series(result, "pg_stat_user_tables_seq_scan").isEmpty)
        #expect(elapsed < .seconds(4))
    }

    @Test(.enabled(if: SharedCluster.hasStatements, "this build has no pg_stat_statements")) func statementsCountExactCallsPerIntervalAndSurviveReset() async throws {
        let admin = try await cluster.admin()
        let table = try await makeTable(admin, rows: 20)
        let sql = "SELECT id FROM lic_schema.\(table) WHERE id <= $1"
        let sampler = PostgresSampler(config: cluster.instance(collectors: [.statements]), logger: LogRecorder().logger)
        let baseline = await sampler.sample()
        #expect(outcome(baseline, "statements")?.success == true)

        for _ in 0..<7 { try await admin.run(sql, ["3"]) }
        let queryID = try #require(try await admin.scalar(
            "SELECT queryid::text FROM pg_stat_statements WHERE query LIKE $1 AND query NOT LIKE '%pg_stat_statements%'", ["%\(table) WHERE id <= $1%"]))
        let labels = ["queryid": queryID, "user": cluster.user, "datname": cluster.database]
        let first = await sampler.sample()
        #expect(value(first, "pg_stat_statements_calls_total", labels) == 7)
        #expect(value(first, "pg_stat_statements_rows_total", labels) == 21)
        #expect((value(first, "pg_stat_statements_seconds_total", labels) ?? -1) > 0)
        #expect((value(first, "pg_stat_statements_mean_exec_seconds", ["datname": cluster.database]) ?? -1) > 0)
        #expect((value(first, "pg_stat_statements_query_mean_exec_seconds", labels) ?? -1) > 0)

        try await admin.run("SELECT pg_stat_statements_reset()")
        for _ in 0..<3 { try await admin.run(sql, ["1"]) }
        let second = await sampler.sample()
        // 7 before the reset and 3 after: the exporter's counter keeps growing.
        #expect(value(second, "pg_stat_statements_calls_total", labels) == 10)
        #expect(value(second, "pg_stat_statements_rows_total", labels) == 24)
        let other = series(first, "pg_stat_statements_calls_total", ["queryid": "other"])
        let otherAfter = series(second, "pg_stat_statements_calls_total", ["queryid": "other"])
        for series in other {
            let later = otherAfter.first { $0.labels == series.labels }
            if case .number(let before) = series.value, case .number(let after)? = later?.value {
                #expect(after >= before)
            }
        }
        await sampler.shutdown()
        await admin.close()
    }

    @Test(.enabled(if: SharedCluster.hasStatements, "this build has no pg_stat_statements")) func queryTextIsOptionalNormalisedAndTruncated() async throws {
        let admin = try await cluster.admin()
        let table = try await makeTable(admin, rows: 3)
        var config = cluster.instance(collectors: [.statements])
        config.statements.queryText = true
        config.statements.queryTextLength = 40
        let sampler = PostgresSampler(config: config, logger: LogRecorder().logger)
        _ = await sampler.sample()
        try await admin.run("SELECT   note\n  FROM lic_schema.\(table)\n WHERE id = $1", ["2"])
        let result = await sampler.sample()
        await sampler.shutdown()
        await admin.close()
        let texts = series(result, "pg_stat_statements_query_info", ["user": cluster.user]).compactMap { series in
            series.labels.first { $0.name == "query" }?.value
        }
        #expect(texts.contains("SELECT note FROM lic_schema.\(table)…"), "\(texts)")
        #expect(texts.allSatisfy { $0.count <= 40 })

        let plain = PostgresSampler(config: cluster.instance(collectors: [.statements]), logger: LogRecorder().logger)
        _ = await plain.sample()
        let withoutText = await plain.sample()
        await plain.shutdown()
        #expect(series(withoutText, "pg_stat_statements_query_info").isEmpty)
    }

    @Test(.enabled(if: SharedCluster.hasStatements, "this build has no pg_stat_statements")) func topKPutsTheRestInOtherAndKeepsTotals() async throws {
        let admin = try await cluster.admin()
        let table = try await makeTable(admin, rows: 5)
        let sampler = PostgresSampler(config: cluster.instance(collectors: [.statements], top: 1), logger: LogRecorder().logger)
        _ = await sampler.sample()
        try await admin.run("SELECT pg_sleep(0.05), count(*) FROM lic_schema.\(table)")
        for _ in 0..<4 { try await admin.run("SELECT note FROM lic_schema.\(table) WHERE id = $1", ["1"]) }
        let result = await sampler.sample()
        await sampler.shutdown()
        await admin.close()
        let named = series(result, "pg_stat_statements_calls_total").filter { !$0.labels.contains(Label("queryid", "other")) }
        #expect(named.count == 1)
        #expect(value(result, "pg_stat_statements_calls_total", ["queryid": "other", "datname": cluster.database]) != nil)
        // The slowest statement of the interval is the named one.
        #expect((value(result, "pg_stat_statements_seconds_total", ["user": cluster.user]).map { $0 >= 0.05 }) == true)
    }

    @Test func missingExtensionDisablesOnlyStatementsWithOneLogLine() async throws {
        let recorder = LogRecorder()
        let sampler = PostgresSampler(
            config: cluster.instance(dsn: cluster.keyValue(database: cluster.noExtensionDatabase), collectors: [.database, .statements]),
            logger: recorder.logger)
        var last: SampleResult?
        for _ in 0..<3 { last = await sampler.sample() }
        await sampler.shutdown()
        let result = try #require(last)
        #expect(value(result, "pg_up") == 1)
        #expect(outcome(result, "database")?.success == true)
        let statements = try #require(outcome(result, "statements"))
        #expect(!statements.success)
        #expect(statements.error?.contains("pg_stat_statements is not installed") == true)
        #expect(statements.error?.contains("looked for again every 10m") == true)
        let warnings = recorder.messages.filter { $0.0 == .warning && $0.1.contains("statements") }
        #expect(warnings.count == 1)
        // Later runs do not ask the server again until the slow re-check is due.
        let missing = try #require(await sampler.statementsMissing)
        let untilRecheck = ContinuousClock.now.duration(to: missing.recheckAt)
        #expect(untilRecheck > .seconds(590) && untilRecheck <= .seconds(600))
    }

    /// A role with neither pg_monitor nor pg_read_all_stats, on a server where a view was
    /// revoked from PUBLIC: that collector fails with a hint, once in the log, and every other
    /// one still reports.
    @Test func revokedViewFailsOnlyItsCollector() async throws {
        let admin = try await cluster.admin()
        try await makeUnprivilegedRole(admin)
        try await admin.run("REVOKE SELECT ON pg_catalog.pg_stat_bgwriter FROM PUBLIC")
        let recorder = LogRecorder()
        let sampler = PostgresSampler(
            config: cluster.instance(dsn: cluster.keyValue(user: "mitra_unprivileged", password: "unprivileged-pw"),
                                     collectors: cluster.supportedCollectors.filter { $0 != .statements }),
            logger: recorder.logger)
        let result = await sampler.sample()
        _ = await sampler.sample()
        await sampler.shutdown()
        try await admin.run("GRANT SELECT ON pg_catalog.pg_stat_bgwriter TO PUBLIC")
        await admin.close()

        #expect(value(result, "pg_up") == 1)
        let bgwriter = try #require(outcome(result, "bgwriter"))
        #expect(!bgwriter.success)
        #expect(bgwriter.error?.contains("42501") == true && bgwriter.error?.contains("grant the pg_monitor role") == true, "\(bgwriter.error ?? "")")
        for other in result.outcomes where !other.collector.hasSuffix("/bgwriter") {
            #expect(other.success, "\(other.collector): \(other.error ?? "")")
        }
        #expect(series(result, "pg_stat_bgwriter_checkpoints_timed_total").isEmpty)
        #expect(!series(result, "pg_stat_database_xact_commit").isEmpty)
        #expect(recorder.messages.filter { $0.1.contains("bgwriter: collector failed") }.count == 1)
    }

    /// top 1 and two statements taking turns as the heaviest: each keeps its series in every
    /// run (held while out of the top K), and its counter never goes down.
    @Test(.enabled(if: SharedCluster.hasStatements, "this build has no pg_stat_statements"))
    func statementLeavingTheTopKKeepsItsSeries() async throws {
        let admin = try await cluster.admin()
        let table = try await makeTable(admin, rows: 5)
        let heavy = "SELECT pg_sleep(0.02), count(*) FROM lic_schema.\(table) WHERE id > $1"
        let light = "SELECT note FROM lic_schema.\(table) WHERE id = $1"
        var config = cluster.instance(collectors: [.statements], top: 1)
        config.statements.hold = .seconds(600)
        let sampler = PostgresSampler(config: config, logger: LogRecorder().logger)
        _ = await sampler.sample()
        try await admin.run(heavy, ["0"])
        try await admin.run(light, ["1"])
        let ids = try await admin.run(
            "SELECT queryid::text, query FROM pg_stat_statements WHERE query LIKE $1 AND query NOT LIKE '%pg_stat_statements%'", ["%\(table)%"])
        let heavyID = try #require(ids.namedRows.first { $0.string("query").contains("pg_sleep") }?.string("queryid"))
        // First the heavy statement takes the single top slot. The server is shared with other
        // tests, and a slow statement of theirs can take the slot for one interval; it has no
        // delta in the next, so a few bounded tries get the heavy one in.
        var previous = 0.0
        for _ in 0..<5 where previous == 0 {
            try await admin.run(heavy, ["0"])
            previous = value(await sampler.sample(), "pg_stat_statements_calls_total", ["queryid": heavyID]) ?? 0
        }
        try #require(previous > 0, "the heavy statement never ranked first")
        let atEntry = previous
        for round in 1...4 {
            // Odd rounds: the heavy statement is idle, so the light one takes the single top slot.
            if round % 2 == 0 { try await admin.run(heavy, ["0"]) } else { for _ in 0..<3 { try await admin.run(light, ["1"]) } }
            let result = await sampler.sample()
            let calls = try #require(value(result, "pg_stat_statements_calls_total", ["queryid": heavyID]), "round \(round): no series")
            #expect(calls >= previous)
            previous = calls
        }
        await sampler.shutdown()
        await admin.close()
        // Two more calls (rounds 2 and 4) on top of what it had on entering; none lost to
        // "other" while held.
        #expect(previous == atEntry + 2)
    }

    @Test func monitorRoleWithoutSuperuserReadsEverything() async throws {
        let sampler = PostgresSampler(
            config: cluster.instance(dsn: cluster.keyValue(user: cluster.monitorUser, password: cluster.monitorPassword),
                                     collectors: cluster.supportedCollectors),
            logger: LogRecorder().logger)
        _ = await sampler.sample()
        let admin = try await cluster.admin()
        try await admin.run("SELECT count(*) FROM pg_class WHERE relname = $1", ["monitor-test"])
        await admin.close()
        let result = await sampler.sample()
        await sampler.shutdown()
        for outcome in result.outcomes {
            #expect(outcome.success, "\(outcome.collector): \(outcome.error ?? "")")
        }
        // pg_read_all_stats (part of pg_monitor) shows other users' statements with their query ids.
        #expect(!cluster.hasStatements || series(result, "pg_stat_statements_calls_total", ["user": cluster.user]).contains { !$0.labels.contains(Label("queryid", "")) })
    }

    @Test(.enabled(if: SharedCluster.hasStatements, "this build has no pg_stat_statements")) func missingPrivilegeFailsOnlyThatCollectorWithAHint() async throws {
        let admin = try await cluster.admin()
        try await makeUnprivilegedRole(admin)
        // Servers hardened this way let only monitoring roles read pg_stat_statements.
        try await admin.run("REVOKE EXECUTE ON FUNCTION pg_stat_statements(boolean) FROM PUBLIC")
        try await admin.run("GRANT EXECUTE ON FUNCTION pg_stat_statements(boolean) TO pg_read_all_stats")
        let recorder = LogRecorder()
        let sampler = PostgresSampler(
            config: cluster.instance(dsn: cluster.keyValue(user: "mitra_unprivileged", password: "unprivileged-pw"),
                                     collectors: cluster.supportedCollectors),
            logger: recorder.logger)
        let result = await sampler.sample()
        _ = await sampler.sample()
        await sampler.shutdown()
        try await admin.run("GRANT EXECUTE ON FUNCTION pg_stat_statements(boolean) TO PUBLIC")
        await admin.close()

        #expect(value(result, "pg_up") == 1)
        let statements = try #require(outcome(result, "statements"))
        #expect(!statements.success)
        #expect(statements.error?.contains("42501") == true)
        #expect(statements.error?.contains("grant the pg_monitor role") == true)
        for other in result.outcomes where !other.collector.hasSuffix("/statements") {
            #expect(other.success, "\(other.collector): \(other.error ?? "")")
        }
        #expect(recorder.messages.filter { $0.1.contains("statements: collector failed") }.count == 1)
    }

    @Test func wrongPasswordIsClearAndNeverShown() async throws {
        let secret = "N0t-the-p@ssword"
        let recorder = LogRecorder()
        let sampler = PostgresSampler(config: cluster.instance(dsn: cluster.keyValue(password: secret)), logger: recorder.logger)
        let result = await sampler.sample()
        await sampler.shutdown()
        #expect(value(result, "pg_up") == 0)
        #expect(result.families.map(\.name) == ["pg_up"])
        let errors = result.outcomes.compactMap(\.error)
        #expect(errors.count == result.outcomes.count)
        #expect(errors.allSatisfy { $0.contains("connect:") && $0.contains("password authentication failed") })
        let everything = errors.joined() + recorder.messages.map(\.1).joined() + Renderer.render(result.families, format: .prometheusText)
        #expect(!everything.contains(secret))
        #expect(!everything.contains("N0t"))
    }

    @Test func seriesBudgetDropsLowestRankedAndCountsDrops() async throws {
        let admin = try await cluster.admin()
        for _ in 0..<3 { _ = try await makeTable(admin, rows: 1) }
        await admin.close()
        let recorder = LogRecorder()
        let sampler = PostgresSampler(config: cluster.instance(collectors: [.database, .tables], seriesBudget: 150), logger: recorder.logger)
        let result = await sampler.sample()
        _ = await sampler.sample()
        let again = await sampler.sample()
        await sampler.shutdown()
        let total = result.families.reduce(0) { $0 + $1.series.count }
        #expect(total <= 150)
        #expect(!series(result, "pg_stat_database_xact_commit").isEmpty)
        let dropped = try #require(value(result, "mitra_exporter_series_dropped_total", ["collector": "postgres/testdb/tables"]))
        #expect(dropped > 0)
        #expect(value(again, "mitra_exporter_series_dropped_total", ["collector": "postgres/testdb/tables"]) == dropped * 3)
        #expect(recorder.messages.filter { $0.1.contains("tables: series budget") }.count == 1)
    }

    @Test func sampleStaysWithinItsTimeoutWhenTheServerIsSlow() async throws {
        // The preflight and every collector share one deadline; a collector starting after it
        // is skipped rather than run late.
        let admin = try await cluster.admin()
        let table = try await makeTable(admin, rows: 1)
        try await admin.run("BEGIN")
        try await admin.run("LOCK TABLE lic_schema.\(table) IN ACCESS EXCLUSIVE MODE")
        let sampler = PostgresSampler(
            config: cluster.instance(collectors: [.tables, .statements], timeout: .seconds(1),
                                     statementTimeout: .milliseconds(900), lockTimeout: .milliseconds(900)),
            logger: LogRecorder().logger)
        let started = ContinuousClock.now
        let result = await sampler.sample()
        let elapsed = ContinuousClock.now - started
        await sampler.shutdown()
        try await admin.run("ROLLBACK")
        await admin.close()
        #expect(elapsed < .milliseconds(1500))
        #expect(outcome(result, "tables")?.success == false)
    }
}
