import Exposition
import ExporterConfig
import Foundation
import PostgresClient
@testable import PostgresCollectors
import Testing

/// Every built-in collector against the rows PostgreSQL 15, 16 and 18 answered
/// (Recorded/<version>/rows.json, written by scripts/record-pg-rows.sh): the version
/// differences, checked in milliseconds without a server.
@Suite struct RecordedCollectorTests {
    struct Replay: Sendable {
        var version: String
        var queries: RecordedQueries
        var runs: [[PostgresCollectorKind: RecordedRun.Outcome]]

        static func load(_ version: String) async throws -> Replay {
            let queries = try RecordedQueries(version: version)
            let recording = queries.recording
            let runs = try await RecordedRun.run(queries, serverVersion: recording.serverVersion,
                                                 currentDatabase: recording.currentDatabase, isReplica: recording.isReplica)
            return Replay(version: version, queries: queries, runs: runs)
        }

        /// The families a collector rendered in run `run` (0 or 1); records an issue if it failed.
        func families(_ kind: PostgresCollectorKind, run: Int = 1) -> [MetricFamily] {
            guard let outcome = runs[run][kind] else {
                Issue.record("PostgreSQL \(version): \(kind.rawValue) did not run")
                return []
            }
            if let failure = outcome.failure { Issue.record("PostgreSQL \(version): \(kind.rawValue) failed: \(failure.message)") }
            return outcome.families
        }

        func names(_ kind: PostgresCollectorKind, run: Int = 1) -> Set<String> { Set(families(kind, run: run).map(\.name)) }

        func series(_ kind: PostgresCollectorKind, _ name: String, run: Int = 1, _ labels: [String: String] = [:]) -> [Series] {
            families(kind, run: run).filter { $0.name == name }.flatMap(\.series).filter { series in
                labels.allSatisfy { key, wanted in series.labels.contains { $0.name == key && $0.value == wanted } }
            }
        }

        func value(_ kind: PostgresCollectorKind, _ name: String, run: Int = 1, _ labels: [String: String] = [:]) -> Double? {
            let matches = series(kind, name, run: run, labels)
            guard matches.count == 1, case .number(let number) = matches[0].value else { return nil }
            return number
        }
    }

    static let versions = ["15", "16", "18"]

    @Test(arguments: versions)
    func everyStatementIsRecordedAndMatchesItsVersion(version: String) async throws {
        let replay = try await Replay.load(version)
        #expect(replay.queries.misses.isEmpty, "statements missing from \(replay.queries.path): \(replay.queries.misses)")
        #expect(replay.queries.recording.serverVersion / 10000 == Int(version)!)
        #expect(replay.queries.recording.currentDatabase == "mitra_test")
        #expect(replay.queries.recording.isReplica == false)
    }

    /// Every family of every collector: a `pg_` name, help text, a `_total` name only on a
    /// counter (postgres_exporter's counter names without `_total` are kept as they are),
    /// at least one series, finite values.
    @Test(arguments: versions)
    func familiesAreWellFormed(version: String) async throws {
        let replay = try await Replay.load(version)
        for (kind, outcome) in replay.runs[1] {
            for family in outcome.families {
                #expect(!family.series.isEmpty, "\(version) \(kind.rawValue): \(family.name) has no series")
                #expect(family.name.hasPrefix("pg_"))
                #expect(!family.help.isEmpty)
                if family.name.hasSuffix("_total") { #expect(family.type == .counter, "\(version): \(family.name) is a \(family.type)") }
                for series in family.series {
                    guard case .number(let number) = series.value else { Issue.record("\(family.name): not a number"); continue }
                    #expect(number.isFinite)
                }
            }
        }
    }

    @Test(arguments: versions)
    func backgroundWriterKeepsItsNamesAcrossVersions(version: String) async throws {
        let replay = try await Replay.load(version)
        let names = replay.names(.bgwriter)
        for name in ["pg_stat_bgwriter_checkpoints_timed_total", "pg_stat_bgwriter_checkpoints_req_total",
                     "pg_stat_bgwriter_buffers_checkpoint_total", "pg_stat_bgwriter_buffers_clean_total",
                     "pg_stat_bgwriter_buffers_alloc_total", "pg_stat_bgwriter_stats_reset_timestamp_seconds"] {
            #expect(names.contains(name), "PostgreSQL \(version): \(name) missing")
        }
        if version == "18" {
            // Read from pg_stat_checkpointer under the pre-17 name.
            let row = try #require(replay.queries.rows(containing: "pg_stat_checkpointer").first)
            #expect(replay.value(.bgwriter, "pg_stat_bgwriter_checkpoints_timed_total") == Double(try #require(row["checkpoints_timed"] ?? nil)))
            #expect(replay.value(.bgwriter, "pg_stat_bgwriter_buffers_checkpoint_total") == Double(try #require(row["buffers_checkpoint"] ?? nil)))
            #expect(names.contains("pg_stat_checkpointer_restartpoints_timed_total"))
            #expect(names.contains("pg_stat_checkpointer_stats_reset_timestamp_seconds"))
            #expect(!names.contains("pg_stat_bgwriter_buffers_backend_total"), "17 dropped buffers_backend")
            #expect(!names.contains("pg_stat_bgwriter_buffers_backend_fsync_total"))
        } else {
            #expect(replay.queries.rows(containing: "pg_stat_checkpointer").isEmpty)
            let row = try #require(replay.queries.rows(containing: "FROM pg_stat_bgwriter").first)
            #expect(replay.value(.bgwriter, "pg_stat_bgwriter_checkpoints_timed_total") == Double(try #require(row["checkpoints_timed"] ?? nil)))
            #expect(names.contains("pg_stat_bgwriter_buffers_backend_total"))
            #expect(!names.contains { $0.hasPrefix("pg_stat_checkpointer_") })
        }
    }

    @Test(arguments: versions)
    func ioNeeds16AndHasWALFrom18(version: String) async throws {
        let replay = try await Replay.load(version)
        let outcome = try #require(replay.runs[1][.io])
        if version == "15" {
            guard case .unavailable(let reason) = outcome.failure else {
                Issue.record("io on 15 should be unavailable, got \(String(describing: outcome.failure))")
                return
            }
            #expect(reason.contains("PostgreSQL 16 or later"))
            #expect(replay.queries.rows(containing: "pg_stat_io").isEmpty, "no pg_stat_io statement is sent to 15")
            return
        }
        let reads = replay.series(.io, "pg_stat_io_reads_total", ["backend_type": "client backend", "object": "relation", "context": "normal"])
        #expect(reads.count == 1)
        #expect(!replay.series(.io, "pg_stat_io_read_bytes_total").isEmpty, "bytes keep one name on 16 (ops × op_bytes) and 18")
        let walSeries = replay.families(.io).flatMap(\.series).filter { $0.labels.contains(Label("object", "wal")) }
        if version == "18" {
            #expect(!walSeries.isEmpty, "18 reports WAL I/O in pg_stat_io")
        } else {
            #expect(walSeries.isEmpty)
        }
    }

    @Test(arguments: versions)
    func walWriteColumnsOnlyBefore18(version: String) async throws {
        let replay = try await Replay.load(version)
        let names = replay.names(.wal)
        #expect(names.isSuperset(of: ["pg_stat_wal_records_total", "pg_stat_wal_bytes_total", "pg_wal_lsn_bytes"]))
        #expect(names.contains("pg_stat_wal_write_total") == (version != "18"))
        #expect(names.contains("pg_stat_wal_sync_time_seconds_total") == (version != "18"))
        #expect((replay.value(.wal, "pg_wal_lsn_bytes") ?? 0) > 0)
    }

    @Test(arguments: versions)
    func statementsNeedTheExtension(version: String) async throws {
        let replay = try await Replay.load(version)
        if version == "16" {
            // The 16 build has no pg_stat_statements: the collector says so, without a series.
            let outcome = try #require(replay.runs[1][.statements])
            guard case .notInstalled(let message) = outcome.failure else {
                Issue.record("statements on 16 should be notInstalled, got \(String(describing: outcome.failure))")
                return
            }
            #expect(message.contains("CREATE EXTENSION pg_stat_statements"))
            #expect(outcome.families.isEmpty)
            #expect(!replay.queries.recording.statements.contains { $0.sql.contains("pg_stat_statements(false)") })
            return
        }
        // First run: the baseline (no deltas yet); second: the workload in between, as deltas.
        #expect(!replay.names(.statements, run: 0).contains("pg_stat_statements_calls_total"))
        let workload = replay.series(.statements, "pg_stat_statements_calls_total", ["datname": "mitra_test"])
            .filter { series in series.labels.contains { $0.name == "queryid" && $0.value != "other" } }
        #expect(!workload.isEmpty)
        let texts = replay.series(.statements, "pg_stat_statements_query_info")
        #expect(texts.contains { $0.labels.contains { $0.name == "query" && $0.value.contains("lic_schema.policies WHERE id >") } },
                "query text of the workload statement")
        let counted = texts.first { $0.labels.contains { $0.name == "query" && $0.value.contains("lic_schema.policies WHERE id >") } }
        if let counted {
            let queryID = counted.labels.first { $0.name == "queryid" }!.value
            #expect(replay.value(.statements, "pg_stat_statements_calls_total", ["queryid": queryID]) == 5, "five calls between the runs")
        }
    }

    @Test(arguments: versions)
    func databaseSizesAreReadOnceAndReused(version: String) async throws {
        let replay = try await Replay.load(version)
        let first = try #require(replay.value(.database, "pg_database_size_bytes", run: 0, ["datname": "mitra_test"]))
        #expect(first > 0)
        // The second run asks for no size (NULL::bigint) and exports the first run's figure.
        #expect(replay.value(.database, "pg_database_size_bytes", run: 1, ["datname": "mitra_test"]) == first)
        #expect(replay.queries.recording.statements.contains { $0.sql.contains("NULL::bigint AS size_bytes") })
        let row = try #require(replay.queries.rows(containing: "FROM pg_stat_database s", response: 0).first { $0["datname"] == "mitra_test" })
        let datid = try #require(row["datid"] ?? nil)
        #expect(replay.value(.database, "pg_stat_database_xact_commit", run: 0, ["datid": datid, "datname": "mitra_test"])
                == Double(try #require(row["xact_commit"] ?? nil)))
    }

    @Test(arguments: versions)
    func settingsAreScaledToBaseUnits(version: String) async throws {
        let replay = try await Replay.load(version)
        // scripts/pg-test-cluster.sh sets max_connections = 100; shared_buffers is in 8 kB pages.
        #expect(replay.value(.settings, "pg_settings_max_connections") == 100)
        let shared = try #require(replay.queries.rows(containing: "FROM pg_settings").first { $0["name"] == "shared_buffers" })
        #expect(replay.value(.settings, "pg_settings_shared_buffers_bytes") == Double(try #require(shared["setting"] ?? nil))! * 8192)
        #expect(replay.value(.settings, "pg_settings_fsync") == 0, "the test cluster runs with fsync = off")
        #expect(!replay.names(.activity).contains("pg_settings_max_connections"), "settings exports it when it runs")
    }

    @Test(arguments: versions)
    func activityLocksTablesAndReplication(version: String) async throws {
        let replay = try await Replay.load(version)
        for state in ActivityCollector.states {
            #expect(replay.series(.activity, "pg_stat_activity_count", ["datname": "mitra_test", "state": state]).count >= 1,
                    "PostgreSQL \(version): no \(state) series")
        }
        #expect(replay.series(.locks, "pg_locks_count", ["datname": "mitra_test"]).count == 9)
        #expect(replay.value(.replication, "pg_replication_is_replica") == 0)
        let labels = ["datname": "mitra_test", "schemaname": "lic_schema", "relname": "policies"]
        #expect((replay.value(.tables, "pg_stat_user_tables_n_live_tup", labels) ?? 0) > 0)
        #expect(replay.value(.tables, "pg_stat_user_tables_n_tup_ins", labels) == 500)
        #expect(replay.value(.tables, "pg_stat_user_tables_vacuum_count", labels) == 1)
        // Largest table first: the series budget drops the smallest.
        let order = replay.families(.tables).first { $0.name == "pg_stat_user_tables_n_live_tup" }?.series
            .compactMap { $0.labels.first { $0.name == "relname" }?.value }
        #expect(order == ["policies", "agents"])
    }

    /// Table sizes walk the table's files: the second run (within a minute) reads the
    /// statistics only and exports the sizes of the first, in the same size order.
    @Test(arguments: versions)
    func tableSizesAreReadAtMostOnceAMinute(version: String) async throws {
        let replay = try await Replay.load(version)
        let tables = replay.queries.recording.statements.filter { $0.sql.contains("FROM pg_stat_user_tables s") }
        #expect(tables.count == 2)
        #expect(tables.filter { $0.sql.contains("pg_table_size(s.relid)") }.count == 1, "sizes are read by one run only")
        let labels = ["datname": "mitra_test", "schemaname": "lic_schema", "relname": "policies"]
        for name in ["pg_stat_user_tables_table_size_bytes", "pg_stat_user_tables_index_size_bytes"] {
            let first = replay.value(.tables, name, run: 0, labels)
            #expect(first.map { $0 > 0 } == true, "\(name) read by the first run")
            #expect(replay.value(.tables, name, run: 1, labels) == first, "\(name) kept by the second run")
        }
    }

    @Test func aTableWithoutAKnownSizeMakesTheRunReadSizes() async throws {
        let (recording, _) = try RecordedRows.load(version: "15")
        let statsOnly = try #require(recording.statements.first { $0.sql.contains("NULL::bigint AS table_size") })
        var withSizes = try #require(recording.statements.first { $0.sql.contains("pg_table_size(s.relid)") })
        // The first read knew "agents" only; the run after it sees "policies" too.
        var first = withSizes.responses[0]
        let relname = try #require(first.columns?.firstIndex(of: "relname"))
        first.rows = first.rows?.filter { $0[relname] == "agents" }
        withSizes.responses = [first] + withSizes.responses
        let queries = RecordedQueries(recording: RecordedRows(
            serverVersionText: recording.serverVersionText, serverVersion: recording.serverVersion,
            currentDatabase: recording.currentDatabase, isReplica: false, statements: [withSizes, statsOnly]))
        var collector = TablesCollector()
        for _ in 0..<2 {
            let session = CollectorSession(connection: queries, deadline: .now + .seconds(5), config: RecordedRun.config(),
                                           serverVersion: recording.serverVersion, currentDatabase: "mitra_test", isReplica: false)
            var set = MetricSet()
            try await collector.collect(session, into: &set)
        }
        #expect(queries.misses.isEmpty)
        #expect(queries.servedCount(sqlContaining: "pg_table_size(s.relid)") == 2, "the new table made the second run read sizes")
        #expect(collector.sizes?.byTable.count == 2)
    }
}
