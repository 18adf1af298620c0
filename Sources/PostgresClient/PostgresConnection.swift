import CLibPQ
import Dispatch
import Foundation
import Synchronization

/// One libpq connection, owned: the `PGconn` is finished exactly once (by `close()` or, if
/// that never ran, by `deinit`), and every `PGresult` is cleared before a call returns.
///
/// libpq calls block, so they run on a serial dispatch queue of this connection, never on
/// the Swift cooperative pool. Each query is bounded by a client-side deadline as well as
/// the server-side `statement_timeout`: the socket is polled, so a server that stops
/// answering cannot hold a thread forever.
public final class PostgresConnection: Sendable {
    /// The `PGconn`, guarded so that `close()`, `deinit` and queries never race; nil once closed.
    private let handle: Mutex<OpaquePointer?>
    private let queue: DispatchQueue
    private let scrubber: SecretScrubber

    /// `PQserverVersion`: e.g. 150018 for 15.18, 170002 for 17.2.
    public let serverVersion: Int

    private init(connection: sending OpaquePointer, scrubber: SecretScrubber, queue: DispatchQueue) {
        self.serverVersion = Int(PQserverVersion(connection))
        self.handle = Mutex(connection)
        self.scrubber = scrubber
        self.queue = queue
    }

    deinit {
        handle.withLock { connection in
            if let open = connection {
                PQfinish(open)
                connection = nil
            }
        }
    }

    /// Opens a connection; bounded by the settings' `connectTimeout` (libpq `connect_timeout`).
    public static func connect(_ settings: PostgresConnectionSettings) async throws(PostgresError) -> PostgresConnection {
        let queue = DispatchQueue(label: "mitra-exporter.postgres")
        let result: Result<PostgresConnection, PostgresError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(PostgresError) in
                    try connectBlocking(settings, queue: queue)
                })
            }
        }
        return try result.get()
    }

    private static func connectBlocking(_ settings: PostgresConnectionSettings, queue: DispatchQueue) throws(PostgresError) -> PostgresConnection {
        let (parameters, scrubber) = try settings.resolve()
        let connection = withCStringArrays(parameters.map(\.0), parameters.map(\.1)) { keywords, values in
            PQconnectdbParams(keywords, values, 0)
        }
        guard let connection else {
            throw PostgresError(phase: .connect, kind: .connectionFailed, message: "out of memory")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = scrubber.scrub(String(cString: PQerrorMessage(connection)).collapsingLibpqMessage())
            PQfinish(connection)
            throw PostgresError(phase: .connect, kind: .connectionFailed, message: message.isEmpty ? "connection failed" : message)
        }
        // libpq prints server notices (e.g. "table does not exist, skipping") to stderr by
        // default; an exporter's output is its own log lines only.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        return PostgresConnection(connection: connection, scrubber: scrubber, queue: queue)
    }

    /// Whether the connection is open and libpq has not seen it break. Never waits: while a
    /// query holds the connection it counts as open (callers may be on the cooperative pool).
    public var isOpen: Bool {
        let status: Bool? = handle.withLockIfAvailable { connection in
            guard let connection else { return false }
            return PQstatus(connection) == CONNECTION_OK
        }
        return status ?? true
    }

    /// Runs one statement with text parameters (`$1`, `$2`, ...) and returns all its rows.
    /// Fails with `.deadlineExceeded` (and closes the connection) if no answer came by `deadline`.
    public func query(_ sql: String, _ parameters: [String?] = [], deadline: ContinuousClock.Instant) async throws(PostgresError) -> QueryResult {
        let result: Result<QueryResult, PostgresError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(PostgresError) in
                    try self.queryBlocking(sql, parameters, deadline: deadline)
                })
            }
        }
        return try result.get()
    }

    /// Closes the connection (sends Terminate); later queries fail with `.closed`.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.closeNow()
                continuation.resume()
            }
        }
    }

    private func closeNow() {
        handle.withLock { connection in
            if let open = connection {
                PQfinish(open)
                connection = nil
            }
        }
    }

    private func queryBlocking(_ sql: String, _ parameters: [String?], deadline: ContinuousClock.Instant) throws(PostgresError) -> QueryResult {
        let outcome: Result<QueryResult, PostgresError> = handle.withLock { connection in
            guard let open = connection else {
                return .failure(PostgresError(phase: .query, kind: .closed, message: "connection is closed"))
            }
            let result = Result { () throws(PostgresError) in try execute(open, sql, parameters, deadline: deadline) }
            if case .failure(let error) = result, error.kind == .deadlineExceeded || error.kind == .connectionLost {
                // The protocol state is unknown after an abandoned query: never reuse it.
                PQfinish(open)
                connection = nil
            }
            return result
        }
        return try outcome.get()
    }

    private func execute(_ connection: OpaquePointer, _ sql: String, _ parameters: [String?], deadline: ContinuousClock.Instant) throws(PostgresError) -> QueryResult {
        let sent = withOptionalCStrings(parameters) { values in
            PQsendQueryParams(connection, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        guard sent == 1 else { throw connectionError(connection) }

        var rows: QueryResult?
        var failure: PostgresError?
        while true {
            try waitUntilReady(connection, deadline: deadline)
            guard let result = PQgetResult(connection) else { break }
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_TUPLES_OK:
                if rows == nil { rows = Self.copyRows(result) }
            case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
                if rows == nil { rows = QueryResult(columns: [], rows: []) }
            default:
                if failure == nil { failure = serverError(result, connection) }
            }
        }
        if let failure { throw failure }
        return rows ?? QueryResult(columns: [], rows: [])
    }

    /// Polls the socket until libpq has a whole result, or the deadline passes.
    private func waitUntilReady(_ connection: OpaquePointer, deadline: ContinuousClock.Instant) throws(PostgresError) {
        while PQisBusy(connection) == 1 {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else {
                throw PostgresError(phase: .query, kind: .deadlineExceeded,
                                    message: "no answer within the sample deadline; connection closed")
            }
            var descriptor = pollfd(fd: PQsocket(connection), events: Int16(POLLIN), revents: 0)
            guard descriptor.fd >= 0 else { throw connectionError(connection) }
            let waitMilliseconds = Int32(clamping: max(1, remaining.milliseconds))
            let ready = poll(&descriptor, 1, waitMilliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                throw PostgresError(phase: .query, kind: .connectionLost, message: "poll failed: \(String(cString: strerror(errno)))")
            }
            if ready > 0, PQconsumeInput(connection) == 0 {
                throw connectionError(connection)
            }
        }
    }

    private func connectionError(_ connection: OpaquePointer) -> PostgresError {
        let message = scrubber.scrub(String(cString: PQerrorMessage(connection)).collapsingLibpqMessage())
        return PostgresError(phase: .query, kind: .connectionLost, message: message.isEmpty ? "connection lost" : message)
    }

    private func serverError(_ result: OpaquePointer, _ connection: OpaquePointer) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field("C")
        var message = field("M") ?? String(cString: PQresultErrorMessage(result)).collapsingLibpqMessage()
        if message.isEmpty { message = "query failed" }
        message = scrubber.scrub(message)
        let lost = PQstatus(connection) != CONNECTION_OK
        // 57P01..57P03: the server is shutting down or restarting; the session is gone.
        let terminated = sqlState.map { $0.hasPrefix("57P") } ?? false
        return PostgresError(phase: .query, kind: lost || terminated ? .connectionLost : .server, sqlState: sqlState, message: message)
    }

    private static func copyRows(_ result: OpaquePointer) -> QueryResult {
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var rows: [[String?]] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(columnCount)
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                }
            }
            rows.append(values)
        }
        return QueryResult(columns: columns, rows: rows)
    }
}

/// Calls `body` with NULL-terminated C string arrays for libpq's keyword/value API.
private func withCStringArrays<R>(_ keys: [String], _ values: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>, UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let keyCopies = keys.map { strdup($0) }
    let valueCopies = values.map { strdup($0) }
    defer {
        keyCopies.forEach { free($0) }
        valueCopies.forEach { free($0) }
    }
    let keyPointers = keyCopies.map { UnsafePointer($0) } + [nil]
    let valuePointers = valueCopies.map { UnsafePointer($0) } + [nil]
    return keyPointers.withUnsafeBufferPointer { keyBuffer in
        valuePointers.withUnsafeBufferPointer { valueBuffer in
            body(keyBuffer.baseAddress!, valueBuffer.baseAddress!)
        }
    }
}

private func withOptionalCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let copies = strings.map { $0.map { strdup($0) } ?? nil }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { UnsafePointer($0) }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
}
