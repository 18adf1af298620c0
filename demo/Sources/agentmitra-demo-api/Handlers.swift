import Foundation
import Hummingbird
import PostgresClient

/// The ten endpoints of the Agent Mitra backend's test checklist.
extension DemoWorld {
    var endpoints: [Endpoint] {
        [
            Endpoint(method: .get, route: "/health", access: .anonymous) { _, _, _ in try await health() },
            Endpoint(method: .post, route: "/auth/login", access: .anonymous) { request, context, _ in
                try await login(request, context: context)
            },
            Endpoint(method: .get, route: "/users/me", access: .authenticated) { _, _, session in try await me(session!) },
            Endpoint(method: .get, route: "/users/me/preferences", access: .authenticated) { _, _, session in
                try await preferences(session!)
            },
            Endpoint(method: .post, route: "/rbac/check-permission", access: .authenticated) { request, context, session in
                try await checkPermission(request, context: context, session: session!)
            },
            Endpoint(method: .get, route: "/policies/", access: .permission(.policiesRead)) { request, _, session in
                try await policies(request, session: session!)
            },
            Endpoint(method: .get, route: "/agents/", access: .permission(.agentsRead)) { _, _, session in
                try await agents(session!)
            },
            Endpoint(method: .get, route: "/analytics/dashboard", access: .permission(.analyticsRead)) { request, _, session in
                try await dashboard(request, session: session!)
            },
            Endpoint(method: .post, route: "/quotes/", access: .permission(.quotesCreate)) { request, context, session in
                try await createQuote(request, context: context, session: session!)
            },
            Endpoint(method: .get, route: "/leads/", access: .permission(.leadsRead)) { request, _, session in
                try await leads(request, session: session!)
            },
        ]
    }

    // MARK: - Handlers

    func health() async throws -> APIResponse {
        do {
            _ = try await database.query("SELECT 1")
            return .ok(#"{"database":"ok","status":"ok"}"#)
        } catch {
            return APIResponse(status: .serviceUnavailable, json: #"{"database":"unavailable","status":"degraded"}"#)
        }
    }

    private struct LoginRequest: Decodable {
        var phoneNumber: String
        var password: String
        enum CodingKeys: String, CodingKey {
            case phoneNumber = "phone_number"
            case password
        }
    }

    private struct LoginAnswer: Encodable {
        var accessToken: String
        var tokenType = "bearer"
        var role: String
        var expiresIn: Int
        var userID: String
        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token"
            case tokenType = "token_type"
            case role
            case expiresIn = "expires_in"
            case userID = "user_id"
        }
    }

    /// Checks the password against the user's bcrypt hash (pgcrypto's `crypt`) and records
    /// the attempt in `auth_events`, whatever its outcome. A body that is not a login
    /// request at all (422) is not an attempt and is not recorded.
    func login(_ request: Request, context: DemoRequestContext) async throws -> APIResponse {
        let started = context.arrived
        let occurredAt = EpochTime.now
        let body = try await JSON.decodeBody(LoginRequest.self, request, context: context)
        var attempt = AuditLog.LoginAttempt(occurredAt: occurredAt, outcome: "error", clientIP: context.clientIP,
                                            durationMilliseconds: 0)
        func finish(_ outcome: String) {
            attempt.outcome = outcome
            let elapsed = started.duration(to: .now)
            attempt.durationMilliseconds = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
            audit.record(attempt)
        }
        let row: QueryResult.Row?
        do {
            row = try await database.query(Self.loginSQL, [body.phoneNumber, body.password]).namedRows.first
        } catch {
            finish("error")
            throw error
        }
        guard let row else {
            finish("invalid_credentials")
            throw APIError(status: .unauthorized, detail: "Incorrect phone number or password")
        }
        attempt.userID = row["user_id"]
        attempt.tenantID = row["tenant_id"]
        attempt.role = row["role_id"]
        guard row["password_ok"] == "t" else {
            finish("invalid_credentials")
            throw APIError(status: .unauthorized, detail: "Incorrect phone number or password")
        }
        guard row["status"] == "active" else {
            finish("locked")
            throw APIError(status: .forbidden, detail: "Account is \(row.string("status"))")
        }
        guard let roleID = row["role_id"], let role = Role(rawValue: roleID), let tenantID = row["tenant_id"],
              let userID = row["user_id"]
        else {
            finish("error")
            throw APIError(status: .internalServerError, detail: "user has no role")
        }
        if switches.current.loginDisabledRoles.contains(role) {
            finish("error")
            throw APIError(status: .internalServerError, detail: "login failed (injected fault for \(role.rawValue))")
        }
        let session = Session(userID: userID, tenantID: tenantID, role: role, agentID: row["agent_id"],
                              policyholderID: row["policyholder_id"], fullName: row.string("full_name"))
        let token = tokens.issue(for: session)
        _ = try? await database.query("UPDATE lic_schema.users SET last_login_at = now() WHERE user_id = $1", [userID])
        finish("success")
        let answer = LoginAnswer(accessToken: token, role: role.rawValue,
                                 expiresIn: Int(tokens.lifetime.components.seconds), userID: userID)
        return .ok(JSON.encode(answer))
    }

    /// The role is the user's most powerful one (lowest rank), should a user hold several.
    static let loginSQL = """
        SELECT u.user_id, u.tenant_id, u.status, u.full_name,
               u.password_hash = crypt($2, u.password_hash) AS password_ok,
               (SELECT ur.role_id FROM lic_schema.user_roles ur JOIN lic_schema.roles r USING (role_id)
                 WHERE ur.user_id = u.user_id ORDER BY r.rank LIMIT 1) AS role_id,
               (SELECT a.agent_id FROM lic_schema.agents a WHERE a.user_id = u.user_id) AS agent_id,
               (SELECT p.policyholder_id FROM lic_schema.policyholders p WHERE p.user_id = u.user_id) AS policyholder_id
        FROM lic_schema.users u
        WHERE u.phone_number = $1
        """

    func me(_ session: Session) async throws -> APIResponse {
        let json = try await database.json("""
            SELECT json_build_object(
                     'user_id', u.user_id, 'full_name', u.full_name, 'phone_number', u.phone_number,
                     'email', u.email, 'role', $2::text, 'tenant_id', u.tenant_id, 'status', u.status,
                     'last_login_at', u.last_login_at,
                     'roles', (SELECT json_agg(role_id ORDER BY role_id) FROM lic_schema.user_roles WHERE user_id = u.user_id),
                     'agent_code', (SELECT agent_code FROM lic_schema.agents WHERE user_id = u.user_id))::text
            FROM lic_schema.users u WHERE u.user_id = $1
            """, [session.userID, session.role.rawValue])
        guard let json else { throw APIError(status: .notFound, detail: "user not found") }
        return .ok(json)
    }

    func preferences(_ session: Session) async throws -> APIResponse {
        let isAgent = session.agentID != nil
        let json = try await database.json("""
            SELECT json_build_object(
                     'user_id', u.user_id, 'role', $2::text, 'language', u.language, 'theme', 'light',
                     'notifications', json_build_object('premium_reminders', true, 'lead_alerts', $3::boolean,
                                                        'policy_updates', true, 'marketing', false),
                     'permissions', $4::json)::text
            FROM lic_schema.users u WHERE u.user_id = $1
            """, [session.userID, session.role.rawValue, isAgent ? "true" : "false",
                  JSON.encode(AccessControl.matrix[session.role, default: []].map(\.rawValue).sorted())])
        guard let json else { throw APIError(status: .notFound, detail: "user not found") }
        return .ok(json)
    }

    private struct PermissionQuestion: Decodable {
        var permission: String
    }

    private struct PermissionAnswer: Encodable {
        var permission: String
        var role: String
        var allowed: Bool
    }

    func checkPermission(_ request: Request, context: DemoRequestContext, session: Session) async throws -> APIResponse {
        let question = try await JSON.decodeBody(PermissionQuestion.self, request, context: context)
        // An unknown permission is simply not granted, as in the real backend.
        let allowed = Permission(rawValue: question.permission).map { AccessControl.allows(session.role, $0) } ?? false
        return .ok(JSON.encode(PermissionAnswer(permission: question.permission, role: session.role.rawValue, allowed: allowed)))
    }

    /// `$1` tenant (NULL: every tenant), `$2` agent, `$3` policyholder — the row filters of
    /// the session's scope.
    private func scopeParameters(_ session: Session) -> [String?] {
        // A policyholder without a policyholder record, or an agent without an agent record,
        // must see nothing rather than everything.
        let nobody = "00000000-0000-0000-0000-000000000000"
        switch AccessControl.scope(of: session.role) {
        case .allTenants: return [nil, nil, nil]
        case .tenant: return [session.tenantID, nil, nil]
        case .ownAgentBook: return [session.tenantID, session.agentID ?? nobody, nil]
        case .ownPolicies: return [session.tenantID, nil, session.policyholderID ?? nobody]
        }
    }

    func policies(_ request: Request, session: Session) async throws -> APIResponse {
        let search = request.uri.queryParameters.get("q").flatMap { $0.isEmpty ? nil : $0 }
        let pattern = search.map { "%" + $0.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%" }
        let limit = min(max(request.uri.queryParameters.get("limit").flatMap { Int($0) } ?? 50, 1), 200)
        let json = try await database.json("""
            SELECT coalesce(json_agg(p), '[]')::text FROM (
              SELECT ip.policy_id, ip.policy_number, ip.status, pr.code AS product_code, pr.name AS product_name,
                     ph.full_name AS policyholder_name, a.agent_code, ip.sum_assured, ip.premium_amount,
                     ip.premium_frequency, ip.start_date, ip.maturity_date
              FROM lic_schema.insurance_policies ip
              JOIN lic_schema.insurance_products pr ON pr.product_id = ip.product_id
              JOIN lic_schema.policyholders ph ON ph.policyholder_id = ip.policyholder_id
              LEFT JOIN lic_schema.agents a ON a.agent_id = ip.agent_id
              WHERE ($1::uuid IS NULL OR ip.tenant_id = $1)
                AND ($2::uuid IS NULL OR ip.agent_id = $2)
                AND ($3::uuid IS NULL OR ip.policyholder_id = $3)
                AND ($4::text IS NULL OR ip.policy_number ILIKE $4 OR ph.full_name ILIKE $4)
              ORDER BY ip.status = 'active' DESC, ip.policy_number
              LIMIT $5) p
            """, scopeParameters(session) + [pattern, String(limit)])
        return .ok(json ?? "[]")
    }

    func agents(_ session: Session) async throws -> APIResponse {
        let json = try await database.json("""
            SELECT coalesce(json_agg(a), '[]')::text FROM (
              SELECT ag.agent_id, ag.agent_code, u.full_name, u.phone_number, ag.region, ag.level, ag.status, ag.joined_on,
                     (SELECT count(*) FROM lic_schema.insurance_policies ip
                       WHERE ip.agent_id = ag.agent_id AND ip.status = 'active') AS active_policies
              FROM lic_schema.agents ag JOIN lic_schema.users u ON u.user_id = ag.user_id
              WHERE ($1::uuid IS NULL OR ag.tenant_id = $1)
              ORDER BY ag.agent_code
              LIMIT 200) a
            """, [scopeParameters(session)[0]])
        return .ok(json ?? "[]")
    }

    /// `?period=DAYS` (1-3650, default 30) widens the windows of the payment and quote
    /// figures, which makes the query heavier: the "analytics" variant of the dashboard.
    func dashboard(_ request: Request, session: Session) async throws -> APIResponse {
        let scope = scopeParameters(session)
        let period = request.uri.queryParameters.get("period").map { Int($0) ?? -1 } ?? 30
        guard (1...3650).contains(period) else {
            throw APIError(status: .unprocessableContent, detail: "period must be a number of days between 1 and 3650")
        }
        let json = try await database.json("""
            WITH policies AS (
              SELECT * FROM lic_schema.insurance_policies
              WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($2::uuid IS NULL OR agent_id = $2))
            SELECT json_build_object(
              'policies_by_status', (SELECT coalesce(json_object_agg(status, n), '{}') FROM
                                      (SELECT status, count(*) AS n FROM policies GROUP BY status) s),
              'active_policies', (SELECT count(*) FROM policies WHERE status = 'active'),
              'total_sum_assured', (SELECT coalesce(sum(sum_assured), 0) FROM policies WHERE status = 'active'),
              'period_days', $3::int,
              'premium_collected',  (SELECT coalesce(sum(pp.amount), 0) FROM lic_schema.premium_payments pp
                                                  JOIN policies p USING (policy_id)
                                                  WHERE pp.status = 'paid' AND pp.paid_at > now() - make_interval(days => $3::int)),
              'overdue_payments', (SELECT count(*) FROM lic_schema.premium_payments pp JOIN policies p USING (policy_id)
                                    WHERE pp.status = 'overdue'),
              'leads_by_stage', (SELECT coalesce(json_object_agg(stage, n), '{}') FROM
                                  (SELECT stage, count(*) AS n FROM lic_schema.leads
                                    WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($2::uuid IS NULL OR agent_id = $2)
                                    GROUP BY stage) l),
              'active_agents', (SELECT count(*) FROM lic_schema.agents
                                 WHERE status = 'active' AND ($1::uuid IS NULL OR tenant_id = $1)),
              'quotes', (SELECT count(*) FROM lic_schema.quotes
                                       WHERE created_at > now() - make_interval(days => $3::int)
                                         AND ($1::uuid IS NULL OR tenant_id = $1) AND ($2::uuid IS NULL OR agent_id = $2)),
              'generated_at', now())::text
            """, [scope[0], scope[1], String(period)])
        return .ok(json ?? "{}")
    }

    private struct QuoteRequest: Decodable {
        var productCode: String
        var customerName: String
        var customerAge: Int
        var sumAssured: Double
        var termYears: Int
        enum CodingKeys: String, CodingKey {
            case productCode = "product_code"
            case customerName = "customer_name"
            case customerAge = "customer_age"
            case sumAssured = "sum_assured"
            case termYears = "term_years"
        }
    }

    /// Prices a quote (the product's premium per lakh, +3 % a year of age over 30) and
    /// stores it.
    func createQuote(_ request: Request, context: DemoRequestContext, session: Session) async throws -> APIResponse {
        let quote = try await JSON.decodeBody(QuoteRequest.self, request, context: context)
        guard (18...70).contains(quote.customerAge) else {
            throw APIError(status: .unprocessableContent, detail: "customer_age must be between 18 and 70")
        }
        guard quote.sumAssured >= 100_000, quote.sumAssured <= 100_000_000 else {
            throw APIError(status: .unprocessableContent, detail: "sum_assured must be between 100000 and 100000000")
        }
        guard !quote.customerName.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw APIError(status: .unprocessableContent, detail: "customer_name must not be empty")
        }
        let product = try await database.query("""
            SELECT min_term_years, max_term_years FROM lic_schema.insurance_products
            WHERE code = $1 AND status = 'active' AND ($2::uuid IS NULL OR tenant_id = $2)
            """, [quote.productCode, scopeParameters(session)[0]]).namedRows.first
        guard let product, let minTerm = product.double("min_term_years"), let maxTerm = product.double("max_term_years") else {
            throw APIError(status: .unprocessableContent, detail: "unknown product_code \(quote.productCode)")
        }
        guard Double(quote.termYears) >= minTerm, Double(quote.termYears) <= maxTerm else {
            throw APIError(status: .unprocessableContent,
                           detail: "term_years must be between \(Int(minTerm)) and \(Int(maxTerm)) for \(quote.productCode)")
        }
        let json = try await database.json("""
            INSERT INTO lic_schema.quotes (tenant_id, product_id, requested_by, agent_id, customer_name, customer_age,
                                           sum_assured, term_years, premium_amount)
            SELECT p.tenant_id, p.product_id, $2, $3, $4, $5, $6, $7,
                   round($6::numeric / 100000 * p.premium_per_lakh * (1 + greatest($5::int - 30, 0) * 0.03), 2)
            FROM lic_schema.insurance_products p WHERE p.code = $1
            RETURNING json_build_object('quote_id', quote_id, 'product_code', $1::text, 'customer_name', customer_name,
                                        'customer_age', customer_age, 'sum_assured', sum_assured, 'term_years', term_years,
                                        'premium_amount', premium_amount, 'status', status, 'created_at', created_at)::text
            """, [quote.productCode, session.userID, session.agentID, quote.customerName, String(quote.customerAge),
                  String(quote.sumAssured), String(quote.termYears)])
        guard let json else { throw APIError(status: .internalServerError, detail: "quote was not stored") }
        return APIResponse(status: .created, json: json)
    }

    func leads(_ request: Request, session: Session) async throws -> APIResponse {
        let stage = request.uri.queryParameters.get("stage").flatMap { $0.isEmpty ? nil : $0 }
        let scope = scopeParameters(session)
        let json = try await database.json("""
            SELECT coalesce(json_agg(l), '[]')::text FROM (
              SELECT ld.lead_id, ld.full_name, ld.phone_number, ld.stage, ld.source, pr.code AS product_code,
                     a.agent_code, ld.created_at, ld.updated_at
              FROM lic_schema.leads ld
              LEFT JOIN lic_schema.insurance_products pr ON pr.product_id = ld.interested_product_id
              LEFT JOIN lic_schema.agents a ON a.agent_id = ld.agent_id
              WHERE ($1::uuid IS NULL OR ld.tenant_id = $1) AND ($2::uuid IS NULL OR ld.agent_id = $2)
                AND ($3::text IS NULL OR ld.stage = $3)
              ORDER BY ld.updated_at DESC, ld.lead_id
              LIMIT 100) l
            """, [scope[0], scope[1], stage])
        return .ok(json ?? "[]")
    }
}
