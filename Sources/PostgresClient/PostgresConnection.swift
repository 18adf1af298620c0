import CLibPQ
import Dispatch
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
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
    /// Whether a read-only sample transaction is open (`beginReadOnlySample` until
    /// `endSample`). Only touched on `queue`, under `handle`'s lock.
    private let inSample = Mutex(false)

    /// The savepoint every sample statement runs under; see `beginReadOnlySample`.
    static let sampleSavepoint = "mitra_exporter_sample"

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

    /// Runs one statement with text parameters (`$1`, `$2`, ...) and returns all its rows, in
    /// the given format. Fails with `.deadlineExceeded` (and closes the connection) if no
    /// answer came by `deadline`.
    public func query(_ sql: String, _ parameters: [String?] = [], format: ResultFormat = .text,
                      deadline: ContinuousClock.Instant) async throws(PostgresError) -> QueryResult {
        try await query(sql, parameters: parameters.map(QueryParameter.text), format: format, deadline: deadline)
    }

    /// Runs one statement with parameters of any kind (`$1`, `$2`, ...); see the text-only
    /// `query(_:_:format:deadline:)`.
    public func query(_ sql: String, parameters: [QueryParameter], format: ResultFormat = .text,
                      deadline: ContinuousClock.Instant) async throws(PostgresError) -> QueryResult {
        let result: Result<QueryResult, PostgresError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(PostgresError) in
                    try self.queryBlocking(sql, parameters, format: format, deadline: deadline)
                })
            }
        }
        return try result.get()
    }

    /// Opens the read-only transaction a sample runs in. Everything up to `endSample` is
    /// bound by it, whatever the statements do:
    ///
    /// - `BEGIN … READ ONLY` makes every write fail (INSERT, UPDATE, DELETE, DDL, data-modifying
    ///   CTEs, volatile functions that write, `nextval`), whatever the role could do.
    /// - A first query takes the snapshot and a savepoint opens a subtransaction, so neither
    ///   `SET TRANSACTION READ WRITE` nor `set_config('transaction_read_only', 'off', …)`
    ///   is accepted from here on ("must be set before any query", "inside a read-only
    ///   transaction").
    /// - `endSample` rolls back, which also undoes session settings a statement changed
    ///   (`SET default_transaction_read_only = off`, `set_config(…, false)`, `SET ROLE`):
    ///   nothing carries over into the next sample.
    /// - A statement that ends the transaction (`COMMIT`, `ROLLBACK`) is caught right after
    ///   it returns and the connection is closed before anything else runs on it.
    /// - A statement that fails rolls back to the savepoint, so the next one still runs
    ///   (inside the same read-only transaction), as it would have without a transaction.
    public func beginReadOnlySample(deadline: ContinuousClock.Instant) async throws(PostgresError) {
        try await onQueue { () throws(PostgresError) in try self.controlSample(.begin, deadline: deadline) }
    }

    /// Ends the sample transaction with a rollback: a sample never commits anything. A
    /// connection that cannot roll back is closed.
    public func endSample(deadline: ContinuousClock.Instant) async {
        try? await onQueue { () throws(PostgresError) in try self.controlSample(.end, deadline: deadline) }
    }

    private enum SampleControl {
        case begin, end
    }

    /// Runs `body` on the connection's queue.
    private func onQueue(_ body: @escaping @Sendable () throws(PostgresError) -> Void) async throws(PostgresError) {
        let result: Result<Void, PostgresError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(PostgresError) in try body() })
            }
        }
        try result.get()
    }

    /// Begins or ends a sample on the open connection; any failure closes it, since a
    /// connection whose transaction state is unknown must not run another statement.
    private func controlSample(_ operation: SampleControl, deadline: ContinuousClock.Instant) throws(PostgresError) {
        let outcome: Result<Void, PostgresError> = handle.withLock { connection in
            guard let open = connection else {
                return .failure(PostgresError(phase: .query, kind: .closed, message: "connection is closed"))
            }
            let result = Result { () throws(PostgresError) in
                switch operation {
                case .begin:
                    if PQtransactionStatus(open) != PQTRANS_IDLE {
                        // A sample that was cut short left its transaction open.
                        _ = try execute(open, "ROLLBACK", [], deadline: deadline, simple: true)
                    }
                    _ = try execute(open, "BEGIN TRANSACTION ISOLATION LEVEL READ COMMITTED READ ONLY; SELECT 1; SAVEPOINT \(Self.sampleSavepoint)",
                                    [], deadline: deadline, simple: true)
                    inSample.withLock { $0 = true }
                case .end:
                    inSample.withLock { $0 = false }
                    if PQtransactionStatus(open) != PQTRANS_IDLE {
                        _ = try execute(open, "ROLLBACK", [], deadline: deadline, simple: true)
                    }
                }
            }
            if case .failure = result {
                PQfinish(open)
                connection = nil
            }
            return result
        }
        try outcome.get()
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

    private func queryBlocking(_ sql: String, _ parameters: [QueryParameter], format: ResultFormat,
                               deadline: ContinuousClock.Instant) throws(PostgresError) -> QueryResult {
        let outcome: Result<QueryResult, PostgresError> = handle.withLock { connection in
            guard let open = connection else {
                return .failure(PostgresError(phase: .query, kind: .closed, message: "connection is closed"))
            }
            var result = Result { () throws(PostgresError) in try execute(open, sql, parameters, format: format, deadline: deadline) }
            if inSample.withLock({ $0 }) {
                result = keepSampleTransaction(open, after: result, deadline: deadline)
            }
            if case .failure(let error) = result, error.kind == .deadlineExceeded || error.kind == .connectionLost || error.kind == .transactionEnded {
                // The protocol state is unknown after an abandoned query: never reuse it.
                PQfinish(open)
                connection = nil
            }
            return result
        }
        return try outcome.get()
    }

    /// After a statement inside a sample: a failed statement rolls back to the sample's
    /// savepoint (so the next one can run), and a statement that left the transaction fails
    /// the call with `.transactionEnded` (the caller closes the connection).
    private func keepSampleTransaction(_ connection: OpaquePointer, after result: Result<QueryResult, PostgresError>,
                                       deadline: ContinuousClock.Instant) -> Result<QueryResult, PostgresError> {
        if case .failure(let error) = result, error.connectionUnusable { return result }
        switch PQtransactionStatus(connection) {
        case PQTRANS_INTRANS:
            return result
        case PQTRANS_INERROR:
            do {
                _ = try execute(connection, "ROLLBACK TO SAVEPOINT \(Self.sampleSavepoint)", [], deadline: deadline, simple: true)
                return result
            } catch {
                return .failure(PostgresError(phase: .query, kind: .transactionEnded,
                                              message: "the statement released the sample's savepoint and failed; connection closed"))
            }
        default:
            return .failure(PostgresError(phase: .query, kind: .transactionEnded,
                                          message: "the statement ended the sample's read-only transaction (COMMIT, ROLLBACK and the like are not allowed); connection closed"))
        }
    }

    /// `simple` sends the text with the simple-query protocol, which allows several
    /// statements and no parameters: only for the exporter's own transaction control.
    private func execute(_ connection: OpaquePointer, _ sql: String, _ parameters: [QueryParameter], format: ResultFormat = .text,
                         deadline: ContinuousClock.Instant, simple: Bool = false) throws(PostgresError) -> QueryResult {
        // The extended protocol (`PQsendQueryParams`, even without parameters) accepts one
        // statement only, so a configured query cannot smuggle `COMMIT; INSERT …` past the
        // checks made after each statement.
        let sent = simple ? PQsendQuery(connection, sql) : withParameters(parameters) { types, values, lengths, formats in
            PQsendQueryParams(connection, sql, Int32(parameters.count), types, values, lengths, formats, format == .binary ? 1 : 0)
        }
        guard sent == 1 else { throw connectionError(connection) }

        var rows: QueryResult?
        var failure: PostgresError?
        while true {
            try waitUntilReady(connection, deadline: deadline)
            guard let result = PQgetResult(connection) else { break }
            // A result with rows is kept (read in place); every other one is cleared here.
            if PQresultStatus(result) == PGRES_TUPLES_OK, rows == nil, failure == nil {
                switch QueryResult.adopting(result, format: format) {
                case .success(let adopted):
                    rows = adopted
                    continue
                case .failure(let unsupported):
                    failure = PostgresError(phase: .query, kind: .server, message: "column \"\(unsupported.column)\" has type oid \(unsupported.typeOID), which the exporter cannot read in binary format")
                }
            }
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_TUPLES_OK:
                break
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

/// Calls `body` with `PQsendQueryParams`' four parallel arrays (types, values, lengths,
/// formats) for the parameters; the value pointers are valid during the call only.
private func withParameters<R>(_ parameters: [QueryParameter],
                               _ body: (UnsafePointer<Oid>?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> R) -> R {
    let buffers: [UnsafeMutableRawBufferPointer?] = parameters.map { parameter in
        guard let length = parameter.wireLength else { return nil }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(length, 1), alignment: 8)
        parameter.write(into: buffer)
        return buffer
    }
    defer { buffers.forEach { $0?.deallocate() } }
    let pointers = buffers.map { $0.map { UnsafePointer($0.baseAddress!.assumingMemoryBound(to: CChar.self)) } }
    let types = parameters.map { Oid($0.wireType.type) }
    // Lengths count for binary values only (text ones are NUL-terminated).
    let lengths = parameters.map { Int32(clamping: $0.wireLength ?? 0) }
    let formats = parameters.map(\.wireType.format)
    return pointers.withUnsafeBufferPointer { values in
        types.withUnsafeBufferPointer { types in
            lengths.withUnsafeBufferPointer { lengths in
                formats.withUnsafeBufferPointer { formats in
                    body(types.baseAddress, values.baseAddress, lengths.baseAddress, formats.baseAddress)
                }
            }
        }
    }
}
