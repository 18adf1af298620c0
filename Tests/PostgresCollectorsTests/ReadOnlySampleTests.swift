@testable import ExporterConfig
import Exposition
import Foundation
import PostgresClient
@testable import PostgresCollectors
import Sampling
import Testing
import TestSupport

/// Every sample runs inside a read-only transaction that no configured query can lift: the
/// instance connects as a role that *can* write (the cluster's superuser), its queries try
/// every known way out, and not one row changes.
@Suite(.serialized, .enabled(if: SharedCluster.available, "MITRA_TEST_PG_* not set: run scripts/pg-test-cluster.sh"))
struct ReadOnlySampleTests {
    let cluster = SharedCluster.current!

    func gauge(_ name: String, _ sql: String) -> SQLQueryConfig {
        SQLQueryConfig(name: name, mode: .gauge, sql: sql, minInterval: .milliseconds(1), maxRows: 100, maxSeries: 100,
                       maxSettleWait: .seconds(60),
                       metrics: [SQLMetricConfig(name: "ro_\(name)", help: "", labels: [], value: .gauge(column: "v"))])
    }

    @Test func configuredQueriesCannotWriteEvenWithAWritingRole() async throws {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let table = "ro_target_\(suffix)", sequence = "ro_seq_\(suffix)", function = "ro_write_\(suffix)"
        let admin = try await cluster.admin()
        try await admin.run("CREATE TABLE \(table) (id int)")
        try await admin.run("CREATE SEQUENCE \(sequence)")
        try await admin.run("CREATE FUNCTION \(function)() RETURNS int VOLATILE LANGUAGE sql AS 'INSERT INTO \(table) VALUES (99) RETURNING 1'")
        defer {
            Task {
                try? await admin.run("DROP TABLE IF EXISTS \(table)")
                try? await admin.run("DROP SEQUENCE IF EXISTS \(sequence)")
                try? await admin.run("DROP FUNCTION IF EXISTS \(function)()")
                await admin.close()
            }
        }
        var instance = cluster.instance(name: "writer", collectors: [.database])
        instance.queries = [
            // Session-level escapes: undone by the rollback that ends every sample.
            gauge("set_config_session", "SELECT 1 AS v, set_config('default_transaction_read_only', 'off', false)"),
            gauge("set_default", "SET default_transaction_read_only = off"),
            gauge("session_characteristics", "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE"),
            // Transaction-level escapes: refused inside the sample's subtransaction.
            gauge("set_config_transaction", "SELECT 1 AS v, set_config('transaction_read_only', 'off', false)"),
            gauge("set_local", "SET LOCAL transaction_read_only = off"),
            gauge("set_transaction", "SET TRANSACTION READ WRITE"),
            // Writes in every disguise.
            gauge("do_block", "DO $$ BEGIN INSERT INTO \(table) VALUES (1); END $$"),
            gauge("do_block_commit", "DO $$ BEGIN INSERT INTO \(table) VALUES (2); COMMIT; END $$"),
            gauge("cte", "WITH w AS (INSERT INTO \(table) VALUES (3) RETURNING 1) SELECT count(*) AS v FROM w"),
            gauge("volatile_function", "SELECT \(function)() AS v"),
            gauge("sequence", "SELECT nextval('\(sequence)') AS v"),
            gauge("insert", "INSERT INTO \(table) VALUES (4) RETURNING id AS v"),
            // Still answering after all the failures above: each failure rolled back to the savepoint.
            gauge("honest", "SELECT 7 AS v"),
            // Leaving the transaction: the connection is closed at once.
            gauge("commit", "COMMIT"),
            gauge("insert_after_commit", "INSERT INTO \(table) VALUES (5) RETURNING id AS v"),
        ]
        let sampler = PostgresSampler(config: instance, logger: LogRecorder().logger)
        defer { Task { await sampler.shutdown() } }
        var results: [SampleResult] = []
        for _ in 0..<3 {  // later samples reconnect after the COMMIT closed the connection
            results.append(await sampler.sample())
        }
        for result in results {
            #expect(value(result, "pg_up") == 1)
            #expect(value(result, "ro_honest") == 7, "\(result.outcomes.map { "\($0.collector): \($0.error ?? "ok")" })")
            let commit = outcome(result, "commit")
            #expect(commit?.error?.contains("ended the sample's read-only transaction") == true, "\(commit?.error ?? "no error")")
            let written = outcome(result, "insert_after_commit")
            #expect(written?.success == false)
        }
        // Leaving the savepoint first: still read-only (the snapshot is taken), and the first
        // failure after it closes the connection, since it can no longer be rolled back to.
        var released = cluster.instance(name: "release", collectors: [.database])
        released.queries = [
            gauge("release", "RELEASE SAVEPOINT mitra_exporter_sample"),
            gauge("set_transaction_after_release", "SET TRANSACTION READ WRITE"),
            gauge("insert_after_release", "INSERT INTO \(table) VALUES (6) RETURNING id AS v"),
        ]
        let releasing = PostgresSampler(config: released, logger: LogRecorder().logger)
        defer { Task { await releasing.shutdown() } }
        for _ in 0..<2 {
            let result = await releasing.sample()
            let refused = outcome(result, "set_transaction_after_release")?.error ?? "no error"
            #expect(refused.contains("released the sample's savepoint"), "\(refused)")
            #expect(outcome(result, "insert_after_release")?.success == false)
        }
        #expect(try await admin.scalar("SELECT count(*) FROM \(table)") == "0")
        #expect(try await admin.scalar("SELECT is_called::text FROM \(sequence)") == "false")
    }

    /// The issue as reported: one query turns the session read-write, a later one writes.
    @Test func aSessionSettingDoesNotOutliveItsSample() async throws {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let table = "ro_business_\(suffix)"
        let admin = try await cluster.admin()
        try await admin.run("CREATE TABLE \(table) (id int)")
        defer {
            Task {
                try? await admin.run("DROP TABLE IF EXISTS \(table)")
                await admin.close()
            }
        }
        var instance = cluster.instance(name: "lift", collectors: [.database])
        instance.queries = [
            gauge("still_read_only", "SELECT (current_setting('default_transaction_read_only') = 'on')::int AS v"),
            gauge("lift", "SELECT 1 AS v, set_config('default_transaction_read_only', 'off', false)"),
            gauge("write", "INSERT INTO \(table) VALUES (1) RETURNING id AS v"),
        ]
        let sampler = PostgresSampler(config: instance, logger: LogRecorder().logger)
        defer { Task { await sampler.shutdown() } }
        for _ in 0..<2 {
            let result = await sampler.sample()
            #expect(value(result, "ro_lift") == 1, "the setting itself is allowed; it only must not help")
            #expect(value(result, "ro_still_read_only") == 1, "a setting made in one sample is gone in the next")
            #expect(outcome(result, "write")?.error?.contains("read-only transaction") == true, "\(outcome(result, "write")?.error ?? "no error")")
        }
        #expect(try await admin.scalar("SELECT count(*) FROM \(table)") == "0")
    }

    /// `key.table` / `key.column` are quoted: a name that is not an identifier never reaches SQL.
    @Test func incrementalKeyIdentifiersAreQuoted() async throws {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let table = "Audit Events \(suffix)"
        let admin = try await cluster.admin()
        try await admin.run(#"CREATE TABLE "\#(table)" ("Event Id" bigserial PRIMARY KEY, outcome text)"#)
        try await admin.run(#"INSERT INTO "\#(table)" (outcome) VALUES ('success'), ('success')"#)
        defer {
            Task {
                try? await admin.run(#"DROP TABLE IF EXISTS "\#(table)""#)
                await admin.close()
            }
        }
        var instance = cluster.instance(name: "quoted", collectors: [.database])
        instance.queries = [SQLQueryConfig(
            name: "events", mode: .incremental(.init(table: #""\#(table)""#, column: #""Event Id""#)),
            sql: #"SELECT count(*) AS n FROM "\#(table)" WHERE "Event Id" > $1 AND "Event Id" <= $2"#,
            minInterval: .milliseconds(1), maxRows: 100, maxSeries: 100,
            maxSettleWait: .seconds(60),
            metrics: [SQLMetricConfig(name: "events_total", help: "", labels: [], value: .counter(column: "n"))])]
        let sampler = PostgresSampler(config: instance, logger: LogRecorder().logger)
        defer { Task { await sampler.shutdown() } }
        let result = await sampler.sample()
        #expect(outcome(result, "events")?.success == true, "\(outcome(result, "events")?.error ?? "")")
    }
}
