import Foundation
import Logging
import PostgresClient
import ServiceLifecycle
import Synchronization

/// A few libpq connections shared by all requests. Each `PostgresConnection` runs its
/// statements one at a time on its own queue, so requests are spread round-robin over the
/// connections instead of being checked out; a connection that breaks is replaced on the
/// next use, which is how the API recovers from a database restart.
actor DatabasePool {
    private let settings: PostgresConnectionSettings
    private var connections: [PostgresConnection?]
    private var nextIndex = 0
    let queryTimeout: Duration

    init(settings: PostgresConnectionSettings, size: Int, queryTimeout: Duration = .seconds(5)) {
        self.settings = settings
        self.connections = Array(repeating: nil, count: max(1, size))
        self.queryTimeout = queryTimeout
    }

    private func connection() async throws(PostgresError) -> (PostgresConnection, Int) {
        let index = nextIndex
        nextIndex = (nextIndex + 1) % connections.count
        if let existing = connections[index], existing.isOpen {
            return (existing, index)
        }
        let fresh = try await PostgresConnection.connect(settings)
        connections[index] = fresh
        return (fresh, index)
    }

    private func discard(_ connection: PostgresConnection, at index: Int) async {
        if connections[index] === connection { connections[index] = nil }
        await connection.close()
    }

    /// Runs one statement; a connection that failed in a way that leaves it unusable is
    /// dropped so the next request reconnects.
    nonisolated func query(_ sql: String, _ parameters: [String?] = []) async throws(PostgresError) -> QueryResult {
        let (connection, index) = try await connection()
        do throws(PostgresError) {
            return try await connection.query(sql, parameters, deadline: .now + queryTimeout)
        } catch {
            if error.connectionUnusable { await discard(connection, at: index) }
            throw error
        }
    }

    /// The first column of the first row, for statements that build their JSON in SQL.
    nonisolated func json(_ sql: String, _ parameters: [String?] = []) async throws(PostgresError) -> String? {
        try await query(sql, parameters).rows.first?.first ?? nil
    }

    func closeAll() async {
        for case let connection? in connections { await connection.close() }
        connections = connections.map { _ in nil }
    }
}

/// Rows for the audit tables, buffered in memory and inserted in batches by `AuditWriter`,
/// so that writing the audit trail never adds a database round trip to a request.
final class AuditLog: Sendable {
    struct LoginAttempt: Sendable {
        /// Seconds since 1970, as text (`EpochTime.now`).
        var occurredAt: String
        var userID: String?
        var role: String?
        var tenantID: String?
        var outcome: String
        var clientIP: String?
        var durationMilliseconds: Int
    }

    struct APIRequest: Sendable {
        /// Seconds since 1970, as text (`EpochTime.now`).
        var occurredAt: String
        var method: String
        var route: String
        var status: Int
        var durationMilliseconds: Int
    }

    private struct Buffers {
        var logins: [LoginAttempt] = []
        var requests: [APIRequest] = []
        var dropped = 0
    }

    /// Beyond this many unwritten rows (the database has been down for a while) new rows are
    /// dropped and counted rather than growing memory without bound.
    let capacity: Int
    private let buffers = Mutex(Buffers())

    init(capacity: Int = 50_000) {
        self.capacity = capacity
    }

    func record(_ attempt: LoginAttempt) {
        buffers.withLock { buffers in
            if buffers.logins.count < capacity { buffers.logins.append(attempt) } else { buffers.dropped += 1 }
        }
    }

    func record(_ request: APIRequest) {
        buffers.withLock { buffers in
            if buffers.requests.count < capacity { buffers.requests.append(request) } else { buffers.dropped += 1 }
        }
    }

    fileprivate func take() -> (logins: [LoginAttempt], requests: [APIRequest], dropped: Int) {
        buffers.withLock { buffers in
            defer { buffers = Buffers() }
            return (buffers.logins, buffers.requests, buffers.dropped)
        }
    }

    /// Puts rows back at the front after a failed insert, within the capacity.
    fileprivate func putBack(logins: [LoginAttempt], requests: [APIRequest]) {
        buffers.withLock { buffers in
            buffers.logins = Array((logins + buffers.logins).prefix(capacity))
            buffers.requests = Array((requests + buffers.requests).prefix(capacity))
        }
    }

    var pendingCount: Int { buffers.withLock { $0.logins.count + $0.requests.count } }
}

/// Inserts buffered audit rows every `interval` over a connection of its own.
struct AuditWriter: Sendable {
    let log: AuditLog
    let settings: PostgresConnectionSettings
    let interval: Duration
    let logger: Logger

    private final class ConnectionHolder: Sendable {
        let connection = Mutex<PostgresConnection?>(nil)
    }

    func run() async {
        let holder = ConnectionHolder()
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: interval)
            await flush(holder)
        }
        // Shutting down: one last flush so the final requests are not lost.
        await flush(holder)
        if let connection = holder.connection.withLock({ $0 }) { await connection.close() }
    }

    private func flush(_ holder: ConnectionHolder) async {
        let (logins, requests, dropped) = log.take()
        if dropped > 0 {
            logger.warning("audit: buffer full, dropped rows", metadata: ["dropped": "\(dropped)"])
        }
        guard !logins.isEmpty || !requests.isEmpty else { return }
        var pendingLogins = logins
        var pendingRequests = requests
        do throws(PostgresError) {
            var connection = holder.connection.withLock { $0 }
            if connection == nil || connection?.isOpen == false {
                connection = try await PostgresConnection.connect(settings)
                holder.connection.withLock { $0 = connection }
            }
            guard let connection else { return }
            let deadline = ContinuousClock.now + .seconds(5)
            if !logins.isEmpty {
                _ = try await connection.query(Self.insertLogins, [
                    PostgresArray.literal(logins.map(\.occurredAt)),
                    PostgresArray.literal(logins.map(\.userID)),
                    PostgresArray.literal(logins.map(\.role)),
                    PostgresArray.literal(logins.map(\.tenantID)),
                    PostgresArray.literal(logins.map(\.outcome)),
                    PostgresArray.literal(logins.map(\.clientIP)),
                    PostgresArray.literal(logins.map { String($0.durationMilliseconds) }),
                ], deadline: deadline)
                pendingLogins = []
            }
            if !requests.isEmpty {
                _ = try await connection.query(Self.insertRequests, [
                    PostgresArray.literal(requests.map(\.occurredAt)),
                    PostgresArray.literal(requests.map(\.method)),
                    PostgresArray.literal(requests.map(\.route)),
                    PostgresArray.literal(requests.map { String($0.status) }),
                    PostgresArray.literal(requests.map { String($0.durationMilliseconds) }),
                ], deadline: deadline)
                pendingRequests = []
            }
        } catch {
            if error.connectionUnusable {
                let broken = holder.connection.withLock { connection in
                    defer { connection = nil }
                    return connection
                }
                await broken?.close()
            }
            // A batch whose statement was cut off mid-flight may have committed; retrying it
            // could count rows twice, so only batches that surely did not commit go back.
            let surelyUncommitted = error.kind == .server || error.phase != .query
            if surelyUncommitted {
                log.putBack(logins: pendingLogins, requests: pendingRequests)
            }
            logger.warning("audit: insert: \(error)", metadata: [
                "rows": "\(pendingLogins.count + pendingRequests.count)",
                "kept": "\(surelyUncommitted)",
            ])
        }
    }

    private static let insertLogins = """
        INSERT INTO lic_schema.auth_events (occurred_at, user_id, role_id, tenant_id, outcome, client_ip, duration_ms)
        SELECT to_timestamp(t), u, r, tn, o, ip, d
        FROM unnest($1::float8[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::inet[], $7::int[]) AS x(t, u, r, tn, o, ip, d)
        """

    private static let insertRequests = """
        INSERT INTO lic_schema.api_request_log (occurred_at, method, route, status, duration_ms)
        SELECT to_timestamp(t), m, r, s, d
        FROM unnest($1::float8[], $2::text[], $3::text[], $4::int[], $5::int[]) AS x(t, m, r, s, d)
        """
}

enum PostgresArray {
    /// A PostgreSQL array literal (`{"a","b",NULL}`) for a text parameter cast to `type[]`.
    static func literal(_ values: [String?]) -> String {
        "{" + values.map { value in
            guard let value else { return "NULL" }
            return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }.joined(separator: ",") + "}"
    }

    static func literal(_ values: [String]) -> String {
        literal(values.map { Optional($0) })
    }
}

enum EpochTime {
    /// Wall-clock time for the audit rows' `occurred_at`, with microseconds.
    static var now: String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return "\(spec.tv_sec).\(String(format: "%06d", spec.tv_nsec / 1000))"
    }
}
