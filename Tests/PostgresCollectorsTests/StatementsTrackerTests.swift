import Exposition
import ExporterConfig
import Logging
import Sampling
@testable import PostgresCollectors
import PostgresClient
import Synchronization
import Testing
import TestSupport

/// Delta accounting of pg_stat_statements without a server: resets, eviction, top-K.
@Suite struct StatementsTrackerTests {
    func snapshot(_ entries: [(String, Double, Double)], statsReset: Double? = 100, dealloc: Double? = 0,
                  statsSince: [String: Double] = [:]) -> StatementsSnapshot {
        var result: [StatementKey: StatementsSnapshot.Entry] = [:]
        for (queryID, calls, milliseconds) in entries {
            result[StatementKey(userID: 10, databaseID: 5, queryID: Int64(queryID)!, toplevel: true)] = StatementsSnapshot.Entry(
                counters: StatementCounters(calls: calls, totalMilliseconds: milliseconds, rows: calls),
                statsSince: statsSince[queryID])
        }
        return StatementsSnapshot(entries: result, userNames: [10: "app"], databaseNames: [5: "agentmitra"],
                                  deallocations: dealloc, statsReset: statsReset)
    }

    func key(_ queryID: String) -> StatementSeriesKey { StatementSeriesKey(user: "app", datname: "agentmitra", queryID: queryID) }

    @Test func firstSnapshotIsABaselineOnly() {
        var tracker = StatementsTracker()
        let interval = tracker.ingest(snapshot([("1", 100, 1000)]), top: 10)
        #expect(interval.isBaseline)
        #expect(interval.top.isEmpty)
        #expect(tracker.otherByDatabase.isEmpty)
    }

    @Test func topIsRankedByTimeSpentInTheIntervalNotLifetime() {
        var tracker = StatementsTracker()
        _ = tracker.ingest(snapshot([("101", 1000, 900_000), ("102", 1, 10), ("103", 5, 5)]), top: 1)
        let interval = tracker.ingest(snapshot([("101", 1001, 900_001), ("102", 3, 4010), ("103", 5, 5)]), top: 1)
        #expect(interval.top.map(\.key.queryID) == ["102"])
        #expect(tracker.accumulatedCounters(key("102")).calls == 2)
        #expect(tracker.accumulatedCounters(key("102")).totalMilliseconds == 4000)
        // Everything outside the top K lands in "other" so totals stay right.
        #expect(tracker.otherByDatabase["agentmitra"]?.calls == 1)
        #expect(interval.totalsByDatabase["agentmitra"]?.calls == 3)
        #expect(interval.totalsByDatabase["agentmitra"]?.totalMilliseconds == 4001)
    }

    @Test func fullResetCountsFromZeroWithoutNegativeDeltas() {
        var tracker = StatementsTracker()
        _ = tracker.ingest(snapshot([("1", 10, 100)], statsReset: 100), top: 5)
        _ = tracker.ingest(snapshot([("1", 15, 150)], statsReset: 100), top: 5)
        #expect(tracker.accumulatedCounters(key("1")).calls == 5)
        // pg_stat_statements_reset(), then 20 more calls: more than before the reset, so only
        // stats_reset tells that the counters restarted.
        let interval = tracker.ingest(snapshot([("1", 20, 200)], statsReset: 200), top: 5)
        #expect(interval.fullReset)
        #expect(tracker.accumulatedCounters(key("1")).calls == 25)
    }

    @Test func entryThatWentDownWasRecreatedAndCountsFromZero() {
        var tracker = StatementsTracker()
        _ = tracker.ingest(snapshot([("1", 50, 500)], statsReset: nil, dealloc: nil), top: 5)
        _ = tracker.ingest(snapshot([("1", 3, 30)], statsReset: nil, dealloc: nil), top: 5)
        #expect(tracker.accumulatedCounters(key("1")).calls == 3)
        #expect(tracker.accumulatedCounters(key("1")).totalMilliseconds == 30)
    }

    @Test func changedStatsSinceMeansEvictedAndRecreated() {
        var tracker = StatementsTracker()
        _ = tracker.ingest(snapshot([("1", 5, 50)], statsSince: ["1": 1000]), top: 5)
        let interval = tracker.ingest(snapshot([("1", 9, 90)], dealloc: 1, statsSince: ["1": 2000]), top: 5)
        #expect(tracker.accumulatedCounters(key("1")).calls == 9)
        #expect(interval.evicted == 1)
    }

    @Test func evictedEntriesDisappearAndNewOnesCountWhole() {
        var tracker = StatementsTracker()
        _ = tracker.ingest(snapshot([("1", 5, 50), ("2", 5, 50)]), top: 5)
        _ = tracker.ingest(snapshot([("1", 6, 60), ("3", 2, 20)], dealloc: 1), top: 5)
        #expect(tracker.accumulatedCounters(key("1")).calls == 1)
        #expect(tracker.accumulatedCounters(key("3")).calls == 2)
        #expect(tracker.accumulatedCounters(key("2")).calls == 0)
    }

    @Test func countersNeverDecreaseAcrossRankChanges() {
        var tracker = StatementsTracker()
        var calls: [String: Double] = ["1": 0, "2": 0]
        var previousExported: [String: Double] = [:]
        var previousOther = 0.0
        _ = tracker.ingest(snapshot([("1", 0, 0), ("2", 0, 0)]), top: 1)
        for round in 0..<20 {
            // a and b alternate as the heaviest statement.
            calls["1"]! += Double(round % 2 == 0 ? 10 : 1)
            calls["2"]! += Double(round % 2 == 0 ? 1 : 10)
            _ = tracker.ingest(snapshot([("1", calls["1"]!, calls["1"]! * 10), ("2", calls["2"]!, calls["2"]! * 10)]), top: 1)
            for id in ["1", "2"] {
                let value = tracker.accumulatedCounters(key(id)).calls
                #expect(value >= previousExported[id, default: 0])
                previousExported[id] = value
            }
            let other = tracker.otherByDatabase["agentmitra"]?.calls ?? 0
            #expect(other >= previousOther)
            previousOther = other
        }
        // Sum over all series equals what the server counted.
        let exported = previousExported.values.reduce(0, +) + previousOther
        #expect(exported == calls["1"]! + calls["2"]!)
    }

    @Test func queryTextIsNormalisedAndTruncated() {
        #expect(normaliseQueryText("SELECT  *\n\tFROM   lic_schema.policies\nWHERE id = $1", maxLength: 200)
            == "SELECT * FROM lic_schema.policies WHERE id = $1")
        #expect(normaliseQueryText(String(repeating: "x", count: 50), maxLength: 20).count == 20)
    }
}

@Suite struct MetricSetTests {
    @Test func budgetDropsWholeEntitiesFromTheEnd() {
        var set = MetricSet()
        let a = set.gauge("a", "A.")
        let b = set.gauge("b", "B.")
        for index in 0..<5 {
            set.add(a, [Label("n", "\(index)")], Double(index))
            set.add(b, [Label("n", "\(index)")], Double(index))
            set.nextEntity()
        }
        let (families, dropped) = set.families(limit: 5)
        #expect(dropped == 6)
        #expect(families.map(\.series.count) == [2, 2])
        #expect(families[0].series.map(\.labels) == [[Label("n", "0")], [Label("n", "1")]])
    }

    @Test func nullValuesAddNothing() {
        var set = MetricSet()
        let a = set.gauge("a", "A.")
        set.add(a, [], nil)
        #expect(set.count == 0)
        #expect(set.families(limit: 10).families.isEmpty)
    }
}

@Suite struct BackoffAndConfigTests {
    @Test func backoffDoublesUpToTheCap() {
        let backoff = ReconnectBackoff(initial: .seconds(1), maximum: .seconds(10))
        #expect((1...6).map { backoff.delay(afterFailures: $0) } == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(10), .seconds(10)])
    }

    @Test func postgresEntryWithAllOptions() throws {
        let yaml = """
        postgres:
          - name: agentmitra
            params: {host: 127.0.0.1, port: "5432", user: exporter, password: "${env:PGPW}", dbname: agentmitra}
            timeout: 4s
            statement_timeout: 2s
            lock_timeout: 500ms
            series_budget: 500
            collectors: [database, statements, tables]
            statements: {top: 20, query_text: true, query_text_length: 80}
            tables: {schemas: [lic_schema, public]}
        """
        let config = try ConfigLoader.parse(yaml, file: "t.yml", resolver: SecretResolver(environment: ["PGPW": "p@ss w'rd"]))
        let instance = try #require(config.postgres.first)
        #expect(instance.parameters.first { $0.key == "password" }?.value == "p@ss w'rd")
        #expect(instance.statementTimeout == .seconds(2))
        #expect(instance.lockTimeout == .milliseconds(500))
        #expect(instance.seriesBudget == 500)
        #expect(instance.statements.top == 20 && instance.statements.queryText && instance.statements.queryTextLength == 80)
        #expect(instance.tables.schemas == ["lic_schema", "public"])
        #expect(!instance.connectionDescription.contains("p@ss"))
        #expect(!config.summary.contains("p@ss"))
    }

    @Test func defaultsAreSafe() throws {
        let config = try ConfigLoader.parse("postgres:\n  - name: a\n    dsn: postgresql://u@h/db\n    timeout: 5s\n", file: "t.yml")
        let instance = try #require(config.postgres.first)
        #expect(instance.statementTimeout == .seconds(4))
        #expect(instance.lockTimeout == .seconds(1))
        #expect(instance.seriesBudget == 10_000)
        #expect(instance.statements.top == 100 && !instance.statements.queryText)
        #expect(instance.tables.schemas == ["lic_schema"])
    }

    @Test(arguments: [
        ("postgres:\n  - name: a\n", "t.yml:2:5: postgres[0]: one of \"dsn\" or \"params\" is required"),
        ("postgres:\n  - name: a\n    dsn: x\n    params: {host: h}\n", "t.yml:2:5: postgres[0]: \"dsn\" and \"params\" are exclusive; use one"),
        ("postgres:\n  - name: a\n    dsn: x\n    timeout: 2s\n    statement_timeout: 2s\n",
         "t.yml:5:24: postgres[0].statement_timeout: must be shorter than the timeout 2s so one slow statement cannot use up the run"),
        ("postgres:\n  - name: a\n    dsn: x\n    statements: {top: 0}\n", "t.yml:4:23: postgres[0].statements.top: 0 is out of range 1...10000"),
        ("postgres:\n  - name: a\n    dsn: x\n    tables: {schemas: []}\n", "t.yml:4:23: postgres[0].tables.schemas: must list at least one schema"),
    ])
    func invalidEntries(yaml: String, message: String) {
        #expect {
            _ = try ConfigLoader.parse(yaml, file: "t.yml")
        } throws: { error in
            let messages = (error as? ConfigErrors)?.errors.map(\.description) ?? []
            if !messages.contains(message) { Issue.record("got \(messages)") }
            return messages.contains(message)
        }
    }
}

@Suite struct SamplerWithoutServerTests {
    @Test func schedulerTimeoutPublishesPgUpZeroOnly() {
        let config = PostgresInstanceConfig(name: "slow", dsn: "host=127.0.0.1 port=1 password=hidden-pw", interval: .seconds(15),
                                            timeout: .seconds(5), collectors: [.database, .statements])
        let sampler = PostgresSampler(config: config, logger: Logger(label: "test"))
        let result = sampler.timedOutResult(after: 6)
        #expect(result.families.map(\.name) == ["pg_up"])
        #expect(result.families.first?.series == [Series([Label("instance_name", "slow")], 0)])
        #expect(result.outcomes.map(\.collector) == ["postgres/slow/database", "postgres/slow/statements"])
        #expect(result.outcomes.allSatisfy { !$0.success && $0.error == "timed out after 6s" })
    }
}

/// The hold: a statement out of the top K keeps its series, and its own deltas, for a while.
@Suite struct StatementsHoldTests {
    func snapshot(_ calls: [String: Double]) -> StatementsSnapshot {
        var entries: [StatementKey: StatementsSnapshot.Entry] = [:]
        for (queryID, count) in calls {
            entries[StatementKey(userID: 10, databaseID: 5, queryID: Int64(queryID)!, toplevel: true)] = StatementsSnapshot.Entry(
                counters: StatementCounters(calls: count, totalMilliseconds: count * 10, rows: count),
                statsSince: nil)
        }
        return StatementsSnapshot(entries: entries, userNames: [10: "app"], databaseNames: [5: "agentmitra"],
                                  deallocations: 0, statsReset: 100)
    }

    func exported(_ interval: StatementsTracker.Interval) -> Set<String> {
        Set((interval.top + interval.held).map(\.key.queryID))
    }

    @Test func heldStatementHasNoGapAndCountsItsOwnCalls() {
        var tracker = StatementsTracker()
        let start = ContinuousClock.now
        var calls: [String: Double] = ["1": 0, "2": 0]
        _ = tracker.ingest(snapshot(calls), top: 1, hold: .seconds(600), now: start)
        var previous = 0.0
        for round in 1...10 {
            // "1" and "2" take turns as the heaviest; each interval is 30s.
            calls["1"]! += round % 2 == 0 ? 10 : 1
            calls["2"]! += round % 2 == 0 ? 1 : 10
            let interval = tracker.ingest(snapshot(calls), top: 1, hold: .seconds(600), now: start + .seconds(30 * round))
            // From round 2 on both have ranked once, so both are exported in every run.
            #expect(exported(interval) == (round == 1 ? ["2"] : ["1", "2"]), "round \(round)")
            let value = tracker.accumulatedCounters(StatementSeriesKey(user: "app", datname: "agentmitra", queryID: "1")).calls
            #expect(value >= previous)
            previous = value
        }
        // Held statements keep counting their own calls: only round 1, before "1" ever ranked,
        // went to "other".
        #expect(previous == calls["1"]! - 1)
        #expect(tracker.otherByDatabase["agentmitra"]?.calls == 1)
    }

    @Test func holdExpiresAndTheRestGoesToOther() {
        var tracker = StatementsTracker()
        let start = ContinuousClock.now
        _ = tracker.ingest(snapshot(["1": 0, "2": 0]), top: 1, hold: .seconds(60), now: start)
        _ = tracker.ingest(snapshot(["1": 10, "2": 1]), top: 1, hold: .seconds(60), now: start + .seconds(30))
        // "2" takes the top slot; "1" is held for 60s after it last ranked.
        let held = tracker.ingest(snapshot(["1": 11, "2": 20]), top: 1, hold: .seconds(60), now: start + .seconds(60))
        #expect(held.top.map(\.key.queryID) == ["2"])
        #expect(held.held.map(\.key.queryID) == ["1"])
        let expired = tracker.ingest(snapshot(["1": 12, "2": 40]), top: 1, hold: .seconds(60), now: start + .seconds(90))
        #expect(expired.held.isEmpty)
        // One call of "2" before it ever ranked, one of "1" after its hold expired.
        #expect(tracker.otherByDatabase["agentmitra"]?.calls == 2)
        // Without a hold a statement leaves at once (the behaviour before holds existed).
        var plain = StatementsTracker()
        _ = plain.ingest(snapshot(["1": 0, "2": 0]), top: 1, now: start)
        _ = plain.ingest(snapshot(["1": 10, "2": 1]), top: 1, now: start + .seconds(30))
        #expect(plain.ingest(snapshot(["1": 11, "2": 20]), top: 1, now: start + .seconds(60)).held.isEmpty)
    }

    @Test func serversOlderThan13AreRefusedPerCollector() {
        for kind in PostgresCollectorKind.allCases {
            let reason = kind.unsupportedReason(serverVersion: 120_017)
            #expect(reason == "PostgreSQL 12 is not supported (13 or later is needed; server_version_num 120017); the \(kind.rawValue) collector does not run, SQL-defined queries still do")
            #expect(kind.unsupportedReason(serverVersion: 130_000) == nil)
        }
    }

    @Test func settingsAreScaledLikePostgresExporter() {
        #expect(SettingsCollector.metric(name: "shared_buffers", setting: "16384", unit: "8kB", type: "integer")?.value == 134_217_728)
        #expect(SettingsCollector.metric(name: "shared_buffers", setting: "16384", unit: "8kB", type: "integer")?.name == "pg_settings_shared_buffers_bytes")
        #expect(SettingsCollector.metric(name: "max_wal_size", setting: "1024", unit: "MB", type: "integer")?.value == 1_073_741_824)
        #expect(SettingsCollector.metric(name: "statement_timeout", setting: "1500", unit: "ms", type: "integer")?.value == 1.5)
        #expect(SettingsCollector.metric(name: "statement_timeout", setting: "-1", unit: "ms", type: "integer")?.value == -1)
        #expect(SettingsCollector.metric(name: "autovacuum_naptime", setting: "1", unit: "min", type: "integer")?.name == "pg_settings_autovacuum_naptime_seconds")
        #expect(SettingsCollector.metric(name: "autovacuum_naptime", setting: "1", unit: "min", type: "integer")?.value == 60)
        #expect(SettingsCollector.metric(name: "fsync", setting: "off", unit: "", type: "bool")?.value == 0)
        #expect(SettingsCollector.metric(name: "random_page_cost", setting: "1.1", unit: "", type: "real")?.name == "pg_settings_random_page_cost")
        #expect(SettingsCollector.metric(name: "odd", setting: "1", unit: "furlong", type: "integer") == nil)
    }
}

/// Changed-only reads without a server: the slot table and the tracker's merge.
@Suite struct StatementsChangedOnlyTests {
    /// Keys shaped like real ones: random query ids, a few roles and databases, both toplevel
    /// flags of some statements.
    func keys(_ count: Int, seed: UInt64) -> [(queryID: Int64, owner: Int64)] {
        var state = seed
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state
        }
        var keys: [(queryID: Int64, owner: Int64)] = []
        while keys.count < count {
            let queryID = Int64(bitPattern: next())
            let owner = StatementSlots.owner(databaseID: 16_384 + UInt32(next() % 30), userID: 10 + UInt32(next() % 3))
            keys.append((queryID, owner))
            // The same statement in another database: the same query id, another owner.
            if next() % 4 == 0 { keys.append((queryID, StatementSlots.owner(databaseID: 16_500, userID: 10))) }
        }
        return keys
    }

    @Test func everyKeyFindsItsSlotAndKeepsItsLatestVersion() {
        let all = keys(5_000, seed: 1)
        var slots = StatementSlots(expected: all.count)
        var placed = 0
        for (index, key) in all.enumerated() where slots.record(queryID: key.queryID, owner: key.owner, version: Int64(2 * index + 1)) {
            placed += 1
        }
        // Half full at most: cuckoo hashing places every key (a lost one would only cost a row).
        #expect(placed == all.count)
        #expect(slots.count == all.count)
        #expect(slots.mask == 16_383)
        for (index, key) in all.enumerated() {
            #expect(slots.version(queryID: key.queryID, owner: key.owner) == Int64(2 * index + 1))
        }
        // A new version replaces the old one in place.
        slots.record(queryID: all[7].queryID, owner: all[7].owner, version: 99)
        #expect(slots.version(queryID: all[7].queryID, owner: all[7].owner) == 99)
        #expect(slots.count == all.count)
        #expect(slots.version(queryID: 12_345, owner: all[7].owner) == nil)
        // Free slots hold -1, which no version equals: the server sends what is not known.
        #expect(slots.versions.filter { $0 < 0 }.count == 16_384 - all.count)
    }

    @Test func tablesGrowAndAreTheSameForTheSameReads() {
        let all = keys(3_000, seed: 2)
        var small = StatementSlots(expected: 10)
        var other = StatementSlots(expected: 10)
        for key in all {
            small.record(queryID: key.queryID, owner: key.owner, version: 3)
            other.record(queryID: key.queryID, owner: key.owner, version: 3)
        }
        #expect(small.count == all.count)
        #expect(2 * small.count <= small.versions.count)
        for key in all { #expect(small.version(queryID: key.queryID, owner: key.owner) == 3) }
        // Built from the same rows in the same order, the parameters are the same (recordings
        // of the changed-only read replay).
        #expect(small == other)
    }

    @Test func changedOnlySnapshotsGiveTheSameIntervalsAsFullOnes() {
        func entries(_ calls: [Int64: Double]) -> [StatementKey: StatementsSnapshot.Entry] {
            var result: [StatementKey: StatementsSnapshot.Entry] = [:]
            for (queryID, count) in calls {
                result[StatementKey(userID: 10, databaseID: 5, queryID: queryID, toplevel: true)] = StatementsSnapshot.Entry(
                    counters: StatementCounters(calls: count, totalMilliseconds: count * Double(queryID), rows: count), statsSince: nil)
            }
            return result
        }
        func snapshot(_ calls: [Int64: Double], complete: Bool) -> StatementsSnapshot {
            var snapshot = StatementsSnapshot(entries: entries(calls), userNames: [10: "app"], databaseNames: [5: "agentmitra"],
                                              deallocations: 0, statsReset: 100)
            snapshot.isComplete = complete
            return snapshot
        }
        let states: [[Int64: Double]] = [
            [1: 5, 2: 5, 3: 5, 4: 5],
            [1: 6, 2: 5, 3: 9, 4: 5, 5: 1],
            [1: 6, 2: 8, 3: 9, 4: 5, 5: 1],
            [1: 6, 2: 8, 3: 9, 4: 5, 5: 4, 6: 2],
        ]
        var full = StatementsTracker(), incremental = StatementsTracker()
        let start = ContinuousClock.now
        for (index, state) in states.enumerated() {
            let now = start + .seconds(15 * index)
            let a = full.ingest(snapshot(state, complete: true), top: 2, hold: .seconds(30), now: now)
            // What a changed-only read returns: the entries whose calls changed, or are new.
            let changed = index == 0 ? state : state.filter { states[index - 1][$0.key] != $0.value }
            let b = incremental.ingest(snapshot(changed, complete: index == 0), top: 2, hold: .seconds(30), now: now)
            #expect(a.top.map(\.key) == b.top.map(\.key))
            #expect(a.top.map(\.delta) == b.top.map(\.delta))
            #expect(a.held.map(\.key) == b.held.map(\.key))
            #expect(a.totalsByDatabase == b.totalsByDatabase)
            #expect(full.otherByDatabase == incremental.otherByDatabase)
            for key in a.top.map(\.key) { #expect(full.accumulatedCounters(key) == incremental.accumulatedCounters(key)) }
        }
        // The merge keeps every entry seen; a full read replaces them.
        #expect(incremental.knownEntries == 6)
        _ = incremental.ingest(snapshot([1: 7], complete: true), top: 2, now: start + .seconds(90))
        #expect(incremental.knownEntries == 1)
    }

    /// pg_stat_statements answered from code: `entries` query ids with their calls; a
    /// changed-only read returns those whose version is in neither slot of the parameters.
    final class FakeStatements: PostgresQuerying {
        let calls = Mutex<[Int64: Int64]>([:])
        let reads = Mutex<[String]>([])

        func query(_ sql: String, parameters: [QueryParameter], format: ResultFormat,
                   deadline: ContinuousClock.Instant) async throws(PostgresError) -> QueryResult {
            if sql.contains("pg_extension") { return QueryResult(columns: ["nspname", "extversion", "has_info"], rows: [["public", "1.10", "t"]]) }
            if sql.contains("pg_stat_statements_info") { return QueryResult(columns: ["dealloc", "stats_reset"], rows: [["0", "100"]]) }
            if sql.contains("pg_roles") { return QueryResult(columns: ["kind", "id", "name"], rows: [["user", "10", "app"], ["database", "5", "agentmitra"]]) }
            let owner = StatementSlots.owner(databaseID: 5, userID: 10)
            var known: StatementSlots?
            if case .int8Array(let queryIDs)? = parameters.first, case .int8Array(let owners) = parameters[1],
               case .int8Array(let versions) = parameters[2] {
                var slots = StatementSlots(expected: 0)
                for index in versions.indices where versions[index] >= 0 {
                    slots.record(queryID: queryIDs[index], owner: owners[index], version: versions[index])
                }
                known = slots
            }
            reads.withLock { $0.append(known == nil ? "full" : "changed") }
            let rows: [[String?]] = calls.withLock { $0 }.sorted { $0.key < $1.key }.compactMap { queryID, count in
                let version = count * 2 + 1
                if let known, known.version(queryID: queryID, owner: owner) == version { return nil }
                return ["10", "5", String(queryID), "t", String(count), String(count), String(count), "0", "0", "0", "0", nil,
                        String(owner), String(version)]
            }
            return QueryResult(columns: ["userid", "dbid", "queryid", "toplevel", "calls", "total_ms", "rows", "shared_blks_hit",
                                         "shared_blks_read", "blk_read_time", "blk_write_time", "stats_since", "owner", "version"], rows: rows)
        }
    }

    @Test func mostEntriesChangingMakesTheNextReadAFullOne() async throws {
        let fake = FakeStatements()
        fake.calls.withLock { calls in for queryID in 1...10 { calls[Int64(queryID)] = 1 } }
        var config = PostgresInstanceConfig(name: "fake", dsn: "", interval: .seconds(15), timeout: .seconds(5), collectors: [.statements])
        config.statements.top = 3
        let session = CollectorSession(connection: fake, deadline: .now + .seconds(10), config: config,
                                       serverVersion: 150_000, currentDatabase: "agentmitra", isReplica: false)
        var collector = StatementsCollector(instanceName: "fake", options: config.statements, logger: LogRecorder().logger)
        func sample(changing queryIDs: [Int64]) async throws {
            fake.calls.withLock { calls in for queryID in queryIDs { calls[queryID, default: 0] += 1 } }
            var set = MetricSet()
            try await collector.collect(session, into: &set)
        }
        try await sample(changing: [])
        try await sample(changing: [1, 2])
        try await sample(changing: [1, 2, 3, 4, 5, 6])  // 6 of 10 changed: the next read is a full one
        try await sample(changing: [7])
        try await sample(changing: [8])  // 1 of 10 changed in the full read: changed-only again
        try await sample(changing: [])
        #expect(fake.reads.withLock { $0 } == ["full", "changed", "changed", "full", "changed", "changed"])
        #expect(collector.tracker.accumulatedCounters(StatementSeriesKey(user: "app", datname: "agentmitra", queryID: "1")).calls == 2)
    }
}
