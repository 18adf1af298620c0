import Foundation
@testable import PostgresClient
import Testing
import TestSupport

@Test func integrationEnvironmentIsPresentWhenRequired() {
    // `make test` starts the cluster and sets MITRA_TEST_REQUIRE_PG=1, so a broken setup
    // fails loudly instead of silently skipping every PostgreSQL test.
    if TestEnvironment.requiresPostgres {
        #expect(TestDatabase.available, "MITRA_TEST_PG_* variables are missing; run scripts/pg-test-cluster.sh env")
    }
}

@Suite struct ConnectionSettingsTests {
    @Test func sessionOptionsAreAppendedAndOurApplicationNameWins() throws {
        let settings = PostgresConnectionSettings(
            target: .connectionString("host=db application_name=other options='-c work_mem=8MB' password=s3cret"),
            connectTimeout: .milliseconds(1500), statementTimeout: .milliseconds(2500), lockTimeout: .seconds(1),
            idleInTransactionSessionTimeout: .seconds(10))
        let (parameters, _) = try settings.resolve()
        let values = Dictionary(parameters, uniquingKeysWith: { _, last in last })
        #expect(values["application_name"] == "mitra-exporter")
        #expect(values["connect_timeout"] == "2")
        #expect(values["options"] == "-c work_mem=8MB -c default_transaction_read_only=on -c statement_timeout=2500 -c lock_timeout=1000 -c idle_in_transaction_session_timeout=10000")
        #expect(parameters.filter { $0.0 == "application_name" }.count == 1)
        #expect(values["password"] == "s3cret")
    }

    @Test func urlPasswordIsPercentDecodedByLibpq() throws {
        let settings = PostgresConnectionSettings(target: .connectionString("postgresql://u:p%40ss%20w%3Ard@h:5433/db?sslmode=disable"))
        let values = Dictionary(try settings.resolve().parameters, uniquingKeysWith: { _, last in last })
        #expect(values["password"] == "p@ss w:rd")
        #expect(values["port"] == "5433")
        #expect(values["sslmode"] == "disable")
    }

    @Test func malformedConnectionStringErrorHidesPasswordFragments() {
        let settings = PostgresConnectionSettings(target: .connectionString("host=h password=hunter2 zebra7 dbname=x"))
        #expect {
            _ = try settings.resolve()
        } throws: { error in
            let text = "\(error)"
            return (error as? PostgresError)?.phase == .conninfo && !text.contains("zebra7") && !text.contains("hunter2")
        }
    }

    @Test func unknownParameterIsRejectedBeforeConnecting() {
        let settings = PostgresConnectionSettings(target: .parameters([.init("host", "h"), .init("passwrd", "x")]))
        #expect(throws: PostgresError.self) { _ = try settings.resolve() }
    }
}

@Suite(.enabled(if: TestDatabase.available, "MITRA_TEST_PG_* not set: run scripts/pg-test-cluster.sh"))
struct PostgresConnectionTests {
    let db = TestDatabase.current!

    @Test(arguments: ["url", "keyValue", "parameters"])
    func connectsWithHostilePasswordInEveryForm(form: String) async throws {
        let target: PostgresConnectionTarget = switch form {
        case "url": .connectionString(db.url())
        case "keyValue": .connectionString(db.keyValue())
        default: .parameters([.init("host", db.host), .init("port", db.port), .init("user", db.user),
                              .init("password", db.password), .init("dbname", db.database)])
        }
        let connection = try await PostgresConnection.connect(db.settings(target))
        let result = try await connection.query("SELECT current_user AS who, $1::int + 1 AS answer", ["41"], deadline: soon())
        #expect(result.namedRows.first?["who"] == db.user)
        #expect(result.namedRows.first?["answer"] == "42")
        #expect(connection.serverVersion >= 130000)
        await connection.close()
    }

    /// `int8[]` parameters go in binary; the server reads them as the text form says.
    @Test func int8ArrayParametersArriveIntact() async throws {
        let connection = try await PostgresConnection.connect(db.settings(.connectionString(db.keyValue())))
        let values: [Int64] = [0, 1, -1, .max, .min, 16_384 << 32 | 10]
        let result = try await connection.query(
            "SELECT $1::text AS text, cardinality($1) AS n, $1[4] AS fourth, $2::text AS empty, $3 AS plain",
            parameters: [.int8Array(values), .int8Array([]), .text("x")], deadline: soon())
        let row = try #require(result.namedRows.first)
        #expect(row["text"] == QueryParameter.int8Array(values).text)
        #expect(row["text"] == "{0,1,-1,9223372036854775807,-9223372036854775808,70368744177674}")
        #expect(row["n"] == "6")
        #expect(row["fourth"] == String(Int64.max))
        #expect(row["empty"] == "{}")
        #expect(row["plain"] == "x")
        await connection.close()
    }

    /// The same row in both formats reads the same through every accessor, and a result
    /// outlives its connection (it owns libpq's result, not the connection's buffers).
    @Test func binaryAndTextResultsReadAlike() async throws {
        let connection = try await PostgresConnection.connect(db.settings())
        let sql = """
            SELECT 9007199254740993::int8 AS big, -7::int4 AS small, 3::int2 AS tiny, 4294967295::oid AS id,
                   2.5::float8 AS ratio, 0.1::float4 AS single, 'NaN'::float8 AS nan, '-Infinity'::float8 AS minus,
                   true AS yes, false AS no, 'käse'::text AS word, 'pg_class'::name AS relname, NULL::int8 AS nothing,
                   12::float8 AS whole
            FROM generate_series(1, 2)
            """
        let text = try await connection.query(sql, deadline: soon())
        let binary = try await connection.query(sql, format: .binary, deadline: soon())
        await connection.close()
        for result in [text, binary] {
            let row = try #require(result.namedRows.first)
            #expect(result.rowCount == 2)
            #expect(result.int64(row: 0, column: 0) == 9_007_199_254_740_993, "an int8 beyond 2^53 stays exact")
            #expect(result.int64(row: 1, column: 1) == -7)
            #expect(result.int64(row: 0, column: 2) == 3)
            #expect(result.int64(row: 0, column: 3) == 4_294_967_295)
            #expect(row.double("ratio") == 2.5)
            #expect(row.double("single").map { abs($0 - 0.1) < 1e-7 } == true)
            #expect(row.double("nan")?.isNaN == true)
            #expect(row.double("minus") == -.infinity)
            #expect(row.double("yes") == 1 && row.double("no") == 0)
            #expect(row["yes"] == "t" && row["no"] == "f")
            #expect(row["word"] == "käse" && row["relname"] == "pg_class")
            #expect(row["nothing"] == nil && result.isNull(row: 0, column: 12) && result.int64(row: 0, column: 12) == nil)
            #expect(row["big"] == "9007199254740993" && row["small"] == "-7" && row["ratio"] == "2.5")
            #expect(row["nan"] == "NaN" && row["minus"] == "-Infinity" && row["whole"] == "12")
            #expect(result.double(row: 0, column: 10) == nil, "a word is not a number")
        }
        #expect(text == binary, "both formats give the same rows as text")
    }

    @Test func binaryResultRefusesATypeItCannotRead() async throws {
        let connection = try await PostgresConnection.connect(db.settings())
        await #expect {
            _ = try await connection.query("SELECT 1 AS fine, 1.5::numeric AS exact", format: .binary, deadline: soon())
        } throws: { error in
            let message = (error as? PostgresError)?.message ?? ""
            return message.contains("\"exact\"") && message.contains("1700")
        }
        // The connection is still usable.
        let after = try await connection.query("SELECT 2 AS two", format: .binary, deadline: soon())
        #expect(after.int64(row: 0, column: 0) == 2)
        await connection.close()
    }

    @Test func sessionIsReadOnlyAndBounded() async throws {
        let connection = try await PostgresConnection.connect(db.settings(statementTimeout: .milliseconds(1500)))
        let result = try await connection.query("""
            SELECT current_setting('application_name') AS app, current_setting('default_transaction_read_only') AS ro,
                   current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt,
                   current_setting('idle_in_transaction_session_timeout') AS it
            """, deadline: soon())
        let row = try #require(result.namedRows.first)
        #expect(row["app"] == "mitra-exporter")
        #expect(row["ro"] == "on")
        #expect(row["st"] == "1500ms")
        #expect(row["lt"] == "1s")
        #expect(row["it"] == "10s")
        await connection.close()
    }

    @Test func readOnlySessionRefusesWrites() async throws {
        let connection = try await PostgresConnection.connect(db.settings())
        let error = await #expect(throws: PostgresError.self) {
            _ = try await connection.query("CREATE TABLE public.should_not_exist (id int)", deadline: soon())
        }
        #expect(error?.sqlState == "25006")
        #expect(error?.kind == .server)
        // A server error leaves the session usable.
        #expect(try await connection.query("SELECT 1 AS one", deadline: soon()).rows == [["1"]])
        await connection.close()
    }

    @Test func statementTimeoutCancelsServerSide() async throws {
        let connection = try await PostgresConnection.connect(db.settings(statementTimeout: .milliseconds(200)))
        let started = ContinuousClock.now
        let error = await #expect(throws: PostgresError.self) {
            _ = try await connection.query("SELECT pg_sleep(5)", deadline: soon())
        }
        #expect(error?.sqlState == "57014")
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(connection.isOpen)
        await connection.close()
    }

    @Test func clientDeadlineClosesTheConnection() async throws {
        let connection = try await PostgresConnection.connect(db.settings(statementTimeout: .seconds(10)))
        let started = ContinuousClock.now
        let error = await #expect(throws: PostgresError.self) {
            _ = try await connection.query("SELECT pg_sleep(3)", deadline: soon(0.3))
        }
        #expect(error?.kind == .deadlineExceeded)
        #expect(ContinuousClock.now - started < .seconds(1))
        #expect(!connection.isOpen)
        let closed = await #expect(throws: PostgresError.self) {
            _ = try await connection.query("SELECT 1", deadline: soon())
        }
        #expect(closed?.kind == .closed)
    }

    @Test func isOpenDoesNotWaitForARunningQuery() async throws {
        let connection = try await PostgresConnection.connect(db.settings())
        async let running = connection.query("SELECT pg_sleep(0.8)", deadline: soon())
        try await Task.sleep(for: .milliseconds(200))
        let started = ContinuousClock.now
        #expect(connection.isOpen)
        #expect(ContinuousClock.now - started < .milliseconds(100))
        _ = try await running
        await connection.close()
        #expect(!connection.isOpen)
    }

    @Test(arguments: ["url", "keyValue"])
    func wrongPasswordErrorNamesThePhaseButNotThePassword(form: String) async throws {
        let secret = "Wr0ng-p@ss w0rd"
        let dsn = form == "url" ? db.url(password: secret) : db.keyValue(password: secret)
        let error = await #expect(throws: PostgresError.self) {
            _ = try await PostgresConnection.connect(db.settings(.connectionString(dsn)))
        }
        let text = String(describing: try #require(error))
        #expect(error?.phase == .connect)
        #expect(text.contains("password authentication failed"))
        #expect(!text.contains("Wr0ng"))
        #expect(!text.contains(db.password))
    }

    @Test func unreachableServerFailsWithinConnectTimeout() async throws {
        let started = ContinuousClock.now
        let error = await #expect(throws: PostgresError.self) {
            _ = try await PostgresConnection.connect(db.settings(.connectionString("host=127.0.0.1 port=1 user=x password=topsecret dbname=x")))
        }
        #expect(error?.kind == .connectionFailed)
        #expect(!"\(error!)".contains("topsecret"))
        #expect(ContinuousClock.now - started < .seconds(4))
    }

    @Test func connectionsAreReleasedByCloseAndByDeinit() async throws {
        let name = "mitra-leak-\(UInt32.random(in: 0...UInt32.max))"
        for round in 0..<10 {
            let connection = try await PostgresConnection.connect(db.settings(applicationName: name))
            _ = try await connection.query("SELECT 1", deadline: soon())
            if round.isMultiple(of: 2) { await connection.close() }
        }
        let admin = try await db.adminConnection()
        // Backends exit asynchronously after Terminate; allow them a moment.
        var remaining = -1
        for _ in 0..<50 {
            let rows = try await admin.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", [name], deadline: soon())
            remaining = Int(rows.rows[0][0] ?? "") ?? -1
            if remaining == 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        await admin.close()
        #expect(remaining == 0)
    }
}
