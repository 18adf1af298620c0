import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresClient
import Synchronization

/// The request context of the public API: Hummingbird's core context plus the peer
/// address, which the login audit records as `client_ip`.
struct DemoRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let clientIP: String?
    /// When the request arrived: login durations count from here, so injected latency on
    /// /auth/login shows in `auth_events.duration_ms` as it would for a slow backend.
    let arrived: ContinuousClock.Instant

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.clientIP = source.channel.remoteAddress?.ipAddress
        self.arrived = .now
    }
}

/// An answer from a handler: a status and a JSON body.
struct APIResponse: Sendable {
    var status: HTTPResponse.Status
    var json: String

    static func ok(_ json: String) -> APIResponse { APIResponse(status: .ok, json: json) }
}

/// A failure a handler reports to the client, FastAPI-style: `{"detail": "..."}`.
struct APIError: Error {
    var status: HTTPResponse.Status
    var detail: String
    var headers: HTTPFields = [:]

    static let notAuthenticated = APIError(status: .unauthorized, detail: "Not authenticated",
                                           headers: [.wwwAuthenticate: "Bearer"])
}

enum Access: Sendable {
    /// No token needed.
    case anonymous
    /// Any valid token.
    case authenticated
    /// A valid token whose role has this permission.
    case permission(Permission)
}

/// One route of the public API: everything the shared request path needs to know about it.
struct Endpoint: Sendable {
    var method: HTTPRequest.Method
    /// The route template, as written to `api_request_log.route` and named in the switches.
    var route: String
    var access: Access
    var handler: @Sendable (Request, DemoRequestContext, Session?) async throws -> APIResponse
}

/// Shared state of a running demo backend.
struct DemoWorld: Sendable {
    let database: DatabasePool
    let tokens: TokenStore
    let switches: SwitchBoard
    let audit: AuditLog
    let logger: Logger
    /// How long a request waits while the API "hangs" before giving up with 503.
    var hangLimit: Duration = .seconds(120)
    var serviceToken: ServiceToken?
}

enum JSON {
    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    static func detail(_ text: String) -> String { encode(["detail": text]) }

    /// Decodes a request body; FastAPI answers 422 for a body that does not fit the schema.
    static func decodeBody<T: Decodable>(_ type: T.Type, _ request: Request, context: DemoRequestContext) async throws -> T {
        var request = request
        let buffer = try await request.collectBody(upTo: 64 * 1024)
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw APIError(status: .unprocessableContent, detail: "invalid request body: \(describe(error))")
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing field \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type for \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.dataCorrupted: "not JSON"
        default: "unreadable"
        }
    }
}

extension DemoWorld {
    /// The path every request takes: failure switches, authentication, authorisation, the
    /// handler, then the audit row. Errors become JSON answers here and nowhere else.
    func respond(to request: Request, context: DemoRequestContext, endpoint: Endpoint) async throws -> Response {
        let started = ContinuousClock.now
        let occurredAt = EpochTime.now
        var headers: HTTPFields = [.contentType: "application/json"]
        let answer: APIResponse
        do {
            answer = try await process(request, context: context, endpoint: endpoint)
        } catch let error as APIError {
            headers.append(contentsOf: error.headers)
            answer = APIResponse(status: error.status, json: JSON.detail(error.detail))
        } catch let error as PostgresError {
            logger.warning("\(endpoint.method) \(endpoint.route): database: \(error)")
            answer = APIResponse(status: .serviceUnavailable, json: JSON.detail("database unavailable"))
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            logger.error("\(endpoint.method) \(endpoint.route): \(error)")
            answer = APIResponse(status: .internalServerError, json: JSON.detail("internal error"))
        }
        let elapsed = started.duration(to: .now)
        let milliseconds = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        audit.record(AuditLog.APIRequest(occurredAt: occurredAt, method: endpoint.method.rawValue, route: endpoint.route,
                                         status: answer.status.code, durationMilliseconds: milliseconds))
        logger.debug("\(endpoint.method) \(endpoint.route) \(answer.status.code) \(milliseconds)ms")
        return Response(status: answer.status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: answer.json)))
    }

    private func process(_ request: Request, context: DemoRequestContext, endpoint: Endpoint) async throws -> APIResponse {
        if try await switches.waitWhileHanging(limit: hangLimit) {
            throw APIError(status: .serviceUnavailable, detail: "service unavailable")
        }
        let faults = switches.current
        if faults.maintenance {
            throw APIError(status: .serviceUnavailable, detail: "down for maintenance")
        }
        if let seconds = faults.latencySeconds[endpoint.route], seconds > 0 {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        }
        if faults.failingRoutes.contains(endpoint.route) {
            throw APIError(status: .internalServerError, detail: "internal server error (injected)")
        }
        var session: Session?
        switch endpoint.access {
        case .anonymous:
            break
        case .authenticated:
            session = try await authenticate(request)
        case .permission(let permission):
            let authenticated = try await authenticate(request)
            guard AccessControl.allows(authenticated.role, permission) else {
                throw APIError(status: .forbidden, detail: "\(authenticated.role.rawValue) lacks permission \(permission.rawValue)")
            }
            session = authenticated
        }
        return try await endpoint.handler(request, context, session)
    }

    private func authenticate(_ request: Request) async throws -> Session {
        guard let header = request.headers[.authorization] else { throw APIError.notAuthenticated }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw APIError.notAuthenticated }
        let token = String(parts[1]).trimmingCharacters(in: .whitespaces)
        if let session = tokens.session(for: token) { return session }
        if let service = serviceToken, constantTimeEqual(token, service.token) {
            return try await service.session(database)
        }
        throw APIError.notAuthenticated
    }
}

/// A long-lived bearer token for monitoring, as real backends issue to their probes: it
/// acts as one named user (by phone number), resolved from the database on first use.
/// Using it is not a login, so it writes no `auth_events` row.
final class ServiceToken: Sendable {
    let token: String
    let phoneNumber: String
    private let resolved = Mutex<Session?>(nil)

    init(token: String, phoneNumber: String) {
        self.token = token
        self.phoneNumber = phoneNumber
    }

    func session(_ database: DatabasePool) async throws -> Session {
        if let session = resolved.withLock({ $0 }) { return session }
        // The password comparison in the login query is ignored here; an empty one never matches.
        guard let row = try await database.query(DemoWorld.loginSQL, [phoneNumber, ""]).namedRows.first,
              row["status"] == "active", let userID = row["user_id"], let tenantID = row["tenant_id"],
              let role = row["role_id"].flatMap(Role.init(rawValue:))
        else {
            throw APIError(status: .unauthorized, detail: "service token user \(phoneNumber) is missing or inactive")
        }
        let session = Session(userID: userID, tenantID: tenantID, role: role, agentID: row["agent_id"],
                              policyholderID: row["policyholder_id"], fullName: row.string("full_name"))
        resolved.withLock { $0 = session }
        return session
    }
}
