import Foundation
import HTTPTypes
import PostgresClient
import Testing
import TestSupport
@testable import agentmitra_demo_api

@Test func integrationEnvironmentIsPresentWhenRequired() {
    if TestEnvironment.requiresPostgres {
        #expect(DemoDatabase.available, "MITRA_TEST_PG_* variables are missing; run scripts/pg-test-cluster.sh env")
    }
}

@Suite struct UnitTests {
    @Test func arrayLiteralsQuoteEverything() {
        #expect(PostgresArray.literal(["a", nil, #"q"uote\back"#, "x,y {z}"]) == #"{"a",NULL,"q\"uote\\back","x,y {z}"}"#)
    }

    @Test func switchesRejectUnknownRoutesAndSillyLatency() throws {
        let switches = try JSONDecoder().decode(FailureSwitches.self, from: Data(#"{"failing_routes":["/nope"],"latency_seconds":{"/policies/":90}}"#.utf8))
        let problems = switches.problems(knownRoutes: DemoServer.routes)
        #expect(problems.count == 2)
        #expect(problems.contains { $0.contains("unknown route \"/nope\"") })
        #expect(problems.contains { $0.contains("between 0 and 60") })
    }

    @Test func listenAddressesParse() throws {
        #expect(try AgentMitraDemoAPI.address("127.0.0.1:8000", option: "--listen") == ("127.0.0.1", 8000))
        #expect(try AgentMitraDemoAPI.address("[::1]:9", option: "--listen") == ("::1", 9))
        #expect(throws: (any Error).self) { try AgentMitraDemoAPI.address("localhost", option: "--listen") }
    }

    @Test func tokensExpire() async throws {
        let store = TokenStore(lifetime: .milliseconds(100))
        let token = store.issue(for: Session(userID: "u", tenantID: "t", role: .juniorAgent, fullName: "x"))
        #expect(token.count == 64)
        #expect(store.session(for: token)?.userID == "u")
        #expect(store.session(for: "not-" + token) == nil)
        try await Task.sleep(for: .milliseconds(150))
        #expect(store.session(for: token) == nil)
    }
}

/// What each role may do, written out independently of `AccessControl.matrix` so that a
/// change to the matrix must be made in demo/README.md and here too.
private let expectedAccess: [Role: Set<String>] = [
    .superAdmin: ["/policies/", "/agents/", "/analytics/dashboard", "/quotes/", "/leads/"],
    .providerAdmin: ["/policies/", "/agents/", "/analytics/dashboard", "/quotes/", "/leads/"],
    .regionalManager: ["/policies/", "/agents/", "/analytics/dashboard", "/leads/"],
    .seniorAgent: ["/policies/", "/agents/", "/analytics/dashboard", "/quotes/", "/leads/"],
    .juniorAgent: ["/policies/", "/quotes/", "/leads/"],
    .policyholder: ["/policies/", "/quotes/"],
    .supportStaff: ["/policies/", "/agents/"],
]

private let quoteBody = #"{"product_code":"TECH-TERM","customer_name":"Test Customer","customer_age":35,"sum_assured":2500000,"term_years":20}"#

private let protectedEndpoints: [(HTTPRequest.Method, String, String?)] = [
    (.get, "/users/me", nil), (.get, "/users/me/preferences", nil),
    (.post, "/rbac/check-permission", #"{"permission":"policies.read"}"#),
    (.get, "/policies/", nil), (.get, "/agents/", nil), (.get, "/analytics/dashboard", nil),
    (.post, "/quotes/", quoteBody), (.get, "/leads/", nil),
]

private let auditSQL = """
    SELECT event_id, user_id, role_id, outcome, host(client_ip) AS ip, duration_ms
    FROM lic_schema.auth_events WHERE event_id > $1::bigint ORDER BY event_id
    """

private let requestLogSQL = """
    SELECT method, route, status, duration_ms FROM lic_schema.api_request_log WHERE id > $1::bigint ORDER BY id
    """

// Serialized: the tests read "the audit rows after key X", which concurrent tests would add to.
@Suite(.serialized, .enabled(if: DemoDatabase.available, "MITRA_TEST_PG_* not set: run scripts/pg-test-cluster.sh"))
struct DemoAPIIntegrationTests {
    @Test func everyRoleLogsInAndEveryAttemptIsAudited() async throws {
        let database = try DemoDatabase.ready()
        let before = try await database.maxKey("auth_events", "event_id")
        var expected: [(String?, String?, String)] = []
        try await withDemo { demo in
            for role in Role.allCases {
                let good = try await demo.login(role)
                #expect(good.status == 200, "\(role.rawValue): \(good.text)")
                #expect(good.object["role"] as? String == role.rawValue)
                #expect(good.object["token_type"] as? String == "bearer")
                #expect((good.object["access_token"] as? String)?.count == 64)
                let bad = try await demo.login(role, password: "wrong password")
                #expect(bad.status == 401)
                #expect(bad.object["detail"] as? String == "Incorrect phone number or password")
            }
            let unknown = try await demo.request(.post, "/auth/login", json: #"{"phone_number":"+910000000000","password":"x"}"#)
            #expect(unknown.status == 401)
            let locked = try await demo.request(.post, "/auth/login",
                                                json: JSON.encode(["phone_number": DemoUsers.lockedPhone, "password": DemoDatabase.userPassword]))
            #expect(locked.status == 403)
            // Not a login attempt at all: rejected before any credential check, not audited.
            let malformed = try await demo.request(.post, "/auth/login", json: #"{"phone":"+919876540101"}"#)
            #expect(malformed.status == 422)
        }
        for role in Role.allCases {
            expected.append((DemoUsers.userIDs[role], role.rawValue, "success"))
            expected.append((DemoUsers.userIDs[role], role.rawValue, "invalid_credentials"))
        }
        expected.append((nil, nil, "invalid_credentials"))
        expected.append(("00000000-0000-4000-8000-000000000199", Role.juniorAgent.rawValue, "locked"))

        let rows = try await database.rows(auditSQL, after: before, count: expected.count)
        #expect(rows.count == expected.count)
        for (row, want) in zip(rows, expected) {
            #expect(row["user_id"] == want.0)
            #expect(row["role_id"] == want.1)
            #expect(row["outcome"] == want.2)
            #expect(row["ip"] == "127.0.0.1")
            #expect((Int(row["duration_ms"] ?? "") ?? -1) >= 0)
        }
    }

    @Test(arguments: Role.allCases)
    func endpointsFollowTheRoleMatrix(role: Role) async throws {
        try await withDemo { demo in
            let token = try await demo.token(role)
            for (method, path, body) in protectedEndpoints {
                let answer = try await demo.request(method, path, token: token, json: body)
                let needsPermission = ["/policies/", "/agents/", "/analytics/dashboard", "/quotes/", "/leads/"].contains(path)
                let allowed = !needsPermission || expectedAccess[role]!.contains(path)
                let success = method == .post && path == "/quotes/" ? 201 : 200
                #expect(answer.status == (allowed ? success : 403), "\(role.rawValue) \(method) \(path): \(answer.status) \(answer.text)")
                if !allowed {
                    #expect((answer.object["detail"] as? String)?.contains("lacks permission") == true)
                }
            }
            let me = try await demo.request(.get, "/users/me", token: token)
            #expect(me.object["role"] as? String == role.rawValue)
            #expect(me.object["user_id"] as? String == DemoUsers.userIDs[role])
            for permission in Permission.allCases {
                let answer = try await demo.request(.post, "/rbac/check-permission", token: token,
                                                    json: JSON.encode(["permission": permission.rawValue]))
                #expect(answer.status == 200)
                #expect(answer.object["allowed"] as? Bool == AccessControl.allows(role, permission),
                        "\(role.rawValue) \(permission.rawValue)")
            }
            let unknown = try await demo.request(.post, "/rbac/check-permission", token: token, json: #"{"permission":"nuclear.launch"}"#)
            #expect(unknown.object["allowed"] as? Bool == false)
        }
    }

    @Test func rowsAreScopedToTheRole() async throws {
        try await withDemo { demo in
            let holder = try await demo.request(.get, "/policies/", token: try await demo.token(.policyholder))
            #expect(holder.array.count == 3)
            #expect(Set(holder.array.compactMap { $0["policyholder_name"] as? String }) == ["Kiran Joshi"])

            let junior = try await demo.request(.get, "/policies/", token: try await demo.token(.juniorAgent))
            #expect(!junior.array.isEmpty)
            #expect(Set(junior.array.compactMap { $0["agent_code"] as? String }).count == 1)
            #expect(junior.array.first?["status"] as? String == "active")

            let admin = try await demo.token(.superAdmin)
            let all = try await demo.request(.get, "/policies/?limit=200", token: admin)
            #expect(all.array.count == 180)
            let search = try await demo.request(.get, "/policies/?q=LIC880000042", token: admin)
            #expect(search.array.map { $0["policy_number"] as? String } == ["LIC880000042"])
            let wildcard = try await demo.request(.get, "/policies/?q=%25", token: admin)
            #expect(wildcard.array.isEmpty, "LIKE wildcards in q are matched literally")

            let agents = try await demo.request(.get, "/agents/", token: admin)
            #expect(agents.array.count >= 20)
            let dashboard = try await demo.request(.get, "/analytics/dashboard", token: admin)
            #expect((dashboard.object["policies_by_status"] as? [String: Any])?["active"] != nil)
            #expect((dashboard.object["active_agents"] as? Int ?? 0) >= 20)
            #expect(dashboard.object["period_days"] as? Int == 30)
            let year = try await demo.request(.get, "/analytics/dashboard?period=365", token: admin)
            #expect(year.object["period_days"] as? Int == 365)
            #expect((year.object["quotes"] as? Int ?? 0) >= (dashboard.object["quotes"] as? Int ?? 0))
            #expect(try await demo.request(.get, "/analytics/dashboard?period=0", token: admin).status == 422)
            let won = try await demo.request(.get, "/leads/?stage=won", token: admin)
            #expect(!won.array.isEmpty)
            #expect(won.array.allSatisfy { $0["stage"] as? String == "won" })
        }
    }

    @Test func quotesAreValidatedAndStored() async throws {
        let database = try DemoDatabase.ready()
        try await withDemo { demo in
            let token = try await demo.token(.seniorAgent)
            let created = try await demo.request(.post, "/quotes/", token: token, json: quoteBody)
            #expect(created.status == 201)
            let quoteID = try #require(created.object["quote_id"] as? String)
            // 25 lakh of Tech Term at 820 per lakh, +15 % for five years over 30.
            #expect(created.object["premium_amount"] as? Double == 23575)
            let stored = try await database.query("SELECT customer_name, requested_by FROM lic_schema.quotes WHERE quote_id = $1", [quoteID])
            #expect(stored.namedRows.first?["customer_name"] == "Test Customer")
            #expect(stored.namedRows.first?["requested_by"] == DemoUsers.userIDs[.seniorAgent])

            for (body, message) in [
                (#"{"product_code":"TECH-TERM","customer_name":"A","customer_age":12,"sum_assured":2500000,"term_years":20}"#, "customer_age"),
                (#"{"product_code":"NOPE","customer_name":"A","customer_age":40,"sum_assured":2500000,"term_years":20}"#, "unknown product_code"),
                (#"{"product_code":"TECH-TERM","customer_name":"A","customer_age":40,"sum_assured":2500000,"term_years":5}"#, "term_years"),
                (#"{"product_code":"TECH-TERM"}"#, "missing field"),
            ] {
                let answer = try await demo.request(.post, "/quotes/", token: token, json: body)
                #expect(answer.status == 422)
                #expect((answer.object["detail"] as? String)?.contains(message) == true, "\(answer.text)")
            }
        }
    }

    @Test func aTokenIsRequired() async throws {
        try await withDemo(tokenLifetime: .milliseconds(400)) { demo in
            for (method, path, body) in protectedEndpoints {
                let none = try await demo.request(method, path, json: body)
                #expect(none.status == 401, "\(method) \(path)")
                #expect(none.headers[.wwwAuthenticate] == "Bearer")
                #expect(none.object["detail"] as? String == "Not authenticated")
                let forged = try await demo.request(method, path, token: String(repeating: "ab", count: 32), json: body)
                #expect(forged.status == 401)
            }
            let token = try await demo.token(.superAdmin)
            #expect(try await demo.request(.get, "/users/me", token: token).status == 200)
            let basic = try await demo.request(.get, "/users/me", headers: [.authorization: "Basic \(token)"])
            #expect(basic.status == 401)
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await demo.request(.get, "/users/me", token: token).status == 401, "expired token")
            #expect(try await demo.request(.get, "/health").status == 200, "health needs no token")
        }
    }

    @Test func serviceTokenActsAsItsUserWithoutLoggingIn() async throws {
        let database = try DemoDatabase.ready()
        let before = try await database.maxKey("auth_events", "event_id")
        try await withDemo(serviceToken: ("svc-7f3a9c", DemoUsers.phones[.supportStaff]!)) { demo in
            let me = try await demo.request(.get, "/users/me", token: "svc-7f3a9c")
            #expect(me.status == 200)
            #expect(me.object["role"] as? String == Role.supportStaff.rawValue)
            #expect(try await demo.request(.get, "/agents/", token: "svc-7f3a9c").status == 200)
            #expect(try await demo.request(.get, "/analytics/dashboard", token: "svc-7f3a9c").status == 403)
            #expect(try await demo.request(.get, "/agents/", token: "svc-7f3a9").status == 401)
        }
        try await withDemo { demo in
            let answer = try await demo.request(.get, "/users/me", token: "svc-7f3a9c")
            #expect(answer.status == 401, "no service token configured")
        }
        let after = try await database.maxKey("auth_events", "event_id")
        #expect(after == before)
    }

    @Test func everyRequestIsLoggedWithItsRouteTemplate() async throws {
        let database = try DemoDatabase.ready()
        let before = try await database.maxKey("api_request_log", "id")
        let expected = try await withDemo { demo in
            var expected: [(String, String, Int)] = []
            func call(_ method: HTTPRequest.Method, _ path: String, _ route: String, token: String? = nil, json: String? = nil) async throws {
                let answer = try await demo.request(method, path, token: token, json: json)
                expected.append((method.rawValue, route, answer.status))
            }
            try await call(.get, "/health", "/health")
            try await call(.get, "/policies/", "/policies/")
            let token = try await demo.token(.juniorAgent)
            expected.append(("POST", "/auth/login", 200))
            try await call(.get, "/policies/?q=LIC", "/policies/", token: token)
            try await call(.get, "/agents/", "/agents/", token: token)
            try await call(.post, "/quotes/", "/quotes/", token: token, json: quoteBody)
            try await call(.post, "/quotes/", "/quotes/", token: token, json: "not json")
            try await call(.get, "/users/me/preferences", "/users/me/preferences", token: token)
            return expected
        }
        #expect(expected.map(\.2) == [200, 401, 200, 200, 403, 201, 422, 200])
        let rows = try await database.rows(requestLogSQL, after: before, count: expected.count)
        #expect(rows.count == expected.count)
        for (row, want) in zip(rows, expected) {
            #expect(row["method"] == want.0)
            #expect(row["route"] == want.1)
            #expect(row["status"] == String(want.2))
            #expect((Int(row["duration_ms"] ?? "") ?? -1) >= 0)
        }
    }

    @Test func switchMakesOneRoleUnableToLogIn() async throws {
        let database = try DemoDatabase.ready()
        let before = try await database.maxKey("auth_events", "event_id")
        try await withDemo { demo in
            try await demo.setSwitches(#"{"login_disabled_roles":["role-junior-agent"]}"#)
            let blocked = try await demo.login(.juniorAgent)
            #expect(blocked.status == 500)
            #expect(blocked.object["access_token"] == nil)
            #expect(try await demo.login(.seniorAgent).status == 200)
            // A wrong password is still a wrong password, not an injected failure.
            #expect(try await demo.login(.juniorAgent, password: "nope").status == 401)
            #expect(try await demo.admin(.delete, "/switches").status == 200)
            #expect(try await demo.login(.juniorAgent).status == 200)
        }
        let rows = try await database.rows(auditSQL, after: before, count: 4)
        #expect(rows.map { $0["outcome"] } == ["error", "success", "invalid_credentials", "success"])
        #expect(rows.map { $0["role_id"] } == ["role-junior-agent", "role-senior-agent", "role-junior-agent", "role-junior-agent"])
    }

    @Test func switchMakesAnEndpointFail() async throws {
        let database = try DemoDatabase.ready()
        let before = try await database.maxKey("api_request_log", "id")
        try await withDemo { demo in
            let token = try await demo.token(.superAdmin)
            try await demo.setSwitches(#"{"failing_routes":["/policies/","/health"]}"#)
            #expect(try await demo.request(.get, "/policies/", token: token).status == 500)
            #expect(try await demo.request(.get, "/health").status == 500)
            #expect(try await demo.request(.get, "/agents/", token: token).status == 200)
            try await demo.setSwitches("{}")
            #expect(try await demo.request(.get, "/policies/", token: token).status == 200)
        }
        let rows = try await database.rows(requestLogSQL, after: before, count: 5)
        #expect(rows.map { "\($0.string("route")) \($0.string("status"))" }
                == ["/auth/login 200", "/policies/ 500", "/health 500", "/agents/ 200", "/policies/ 200"])
    }

    @Test func maintenanceSwitchAnswers503Everywhere() async throws {
        let database = try DemoDatabase.ready()
        let before = try await database.maxKey("api_request_log", "id")
        try await withDemo { demo in
            let token = try await demo.token(.superAdmin)
            try await demo.setSwitches(#"{"maintenance":true}"#)
            #expect(try await demo.request(.get, "/health").status == 503)
            #expect(try await demo.request(.get, "/policies/", token: token).status == 503)
            #expect(try await demo.login(.juniorAgent).status == 503)
            try await demo.setSwitches("{}")
            #expect(try await demo.request(.get, "/health").status == 200)
        }
        let rows = try await database.rows(requestLogSQL, after: before, count: 5)
        #expect(rows.map { "\($0.string("route")) \($0.string("status"))" }
                == ["/auth/login 200", "/health 503", "/policies/ 503", "/auth/login 503", "/health 200"])
    }

    @Test func switchAddsLatencyToAnEndpoint() async throws {
        let database = try DemoDatabase.ready()
        let before = try await database.maxKey("api_request_log", "id")
        try await withDemo { demo in
            let token = try await demo.token(.superAdmin)
            try await demo.setSwitches(#"{"latency_seconds":{"/policies/":0.6}}"#)
            let slow = try await demo.request(.get, "/policies/", token: token)
            #expect(slow.status == 200)
            #expect(slow.elapsed >= .milliseconds(600))
            let fast = try await demo.request(.get, "/agents/", token: token)
            #expect(fast.elapsed < .milliseconds(500))
        }
        let rows = try await database.rows(requestLogSQL, after: before, count: 3)
        #expect(rows.count == 3)
        #expect((Int(rows[1]["duration_ms"] ?? "") ?? 0) >= 600)
        #expect((Int(rows[2]["duration_ms"] ?? "") ?? 1000) < 500)
    }

    @Test func slowLoginsShowInTheLoginAudit() async throws {
        let database = try DemoDatabase.ready()
        let before = try await database.maxKey("auth_events", "event_id")
        try await withDemo { demo in
            try await demo.setSwitches(#"{"latency_seconds":{"/auth/login":0.4}}"#)
            #expect(try await demo.login(.policyholder).status == 200)
        }
        let rows = try await database.rows(auditSQL, after: before, count: 1)
        #expect(rows.first?["outcome"] == "success")
        #expect((Int(rows.first?["duration_ms"] ?? "") ?? 0) >= 400)
    }

    @Test func switchTakesTheAPIDownByClosingItsPort() async throws {
        try await withDemo { demo in
            try await demo.setSwitches(#"{"down":"refuse"}"#)
            var refused = false
            for _ in 0..<40 where !refused {
                do {
                    _ = try await demo.request(.get, "/health", timeout: .seconds(1))
                    try await Task.sleep(for: .milliseconds(50))
                } catch {
                    refused = true
                }
            }
            #expect(refused, "the API port still answers")
            let state = try await demo.admin(.get, "/health")
            #expect(state.object["api_listening"] as? Bool == false)

            try await demo.setSwitches("{}")
            var back: HTTPAnswer?
            for _ in 0..<40 where back == nil {
                back = try? await demo.request(.get, "/health", timeout: .seconds(1))
                if back == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(back?.status == 200, "the API did not come back on the same port")
        }
    }

    @Test func switchMakesTheAPIHang() async throws {
        try await withDemo(hangLimit: .milliseconds(1500)) { demo in
            try await demo.setSwitches(#"{"down":"hang"}"#)
            await #expect(throws: (any Error).self) {
                _ = try await demo.request(.get, "/health", timeout: .milliseconds(500))
            }
            // Past the hang limit the request gives up with 503 rather than hanging forever.
            let gaveUp = try await demo.request(.get, "/health", timeout: .seconds(5))
            #expect(gaveUp.status == 503)
            #expect(gaveUp.elapsed >= .milliseconds(1500))
            try await demo.setSwitches("{}")
            #expect(try await demo.request(.get, "/health").status == 200)
        }
    }

    @Test func adminListenerChecksTheSecretAndTheSwitches() async throws {
        try await withDemo(adminSecret: "s3cret-admin") { demo in
            let secret: HTTPFields = [HTTPField.Name("X-Demo-Admin-Secret")!: "s3cret-admin"]
            #expect(try await demo.admin(.put, "/switches", json: #"{"down":"hang"}"#).status == 401)
            #expect(try await demo.admin(.get, "/switches", headers: [HTTPField.Name("X-Demo-Admin-Secret")!: "guess"]).status == 401)
            #expect(try await demo.request(.get, "/health").status == 200, "a rejected switch changes nothing")
            let unknown = try await demo.admin(.put, "/switches", json: #"{"failing_routes":["/nope"]}"#, headers: secret)
            #expect(unknown.status == 422)
            let badRole = try await demo.admin(.put, "/switches", json: #"{"login_disabled_roles":["role-king"]}"#, headers: secret)
            #expect(badRole.status == 422)
            let set = try await demo.admin(.put, "/switches", json: #"{"failing_routes":["/leads/"]}"#, headers: secret)
            #expect(set.status == 200)
            #expect(try await demo.admin(.get, "/switches", headers: secret).object["failing_routes"] as? [String] == ["/leads/"])
        }
    }

    @Test func aTakenPortStopsTheServerWithAnError() async throws {
        let database = try DemoDatabase.ready()
        try await withDemo { demo in
            let clash = DemoServer(
                configuration: DemoServerConfiguration(host: "127.0.0.1", port: demo.apiPort, adminHost: "127.0.0.1", adminPort: 0,
                                                       database: database.settings(readOnly: false)),
                logger: LogRecorder().logger(label: "agentmitra-demo-test"))
            let started = ContinuousClock.now
            await #expect(throws: (any Error).self) { try await clash.run() }
            #expect(started.duration(to: .now) < .seconds(5))
        }
    }

    @Test func databaseOutageIsA503AndNoSecretIsLogged() async throws {
        let database = try DemoDatabase.ready()
        let wrongPassword = "Wr0ng-pw-\(UInt32.random(in: 0...UInt32.max))"
        try await withDemo(password: wrongPassword) { demo in
            let health = try await demo.request(.get, "/health")
            #expect(health.status == 503)
            #expect(health.object["database"] as? String == "unavailable")
            let login = try await demo.login(.juniorAgent)
            #expect(login.status == 503)
            #expect(!login.text.contains(wrongPassword))
            #expect(demo.logs.text.contains("postgres") || demo.logs.text.contains("password authentication failed"))
            #expect(!demo.logs.text.contains(wrongPassword))
            #expect(!demo.logs.text.contains(database.password))
        }
        // And with a working database, neither passwords nor tokens reach the log.
        try await withDemo { demo in
            let answer = try await demo.login(.seniorAgent)
            let token = try #require(answer.object["access_token"] as? String)
            _ = try await demo.request(.get, "/users/me", token: token)
            #expect(!demo.logs.text.contains(token))
            #expect(!demo.logs.text.contains(DemoDatabase.userPassword))
            #expect(!demo.logs.text.contains(database.password))
        }
    }
}
