import ExporterConfig
import Exposition
import Foundation
import HTTPChecks
import HTTPProbe
import Sampling
import Testing
import TestSupport

/// The Agent Mitra login flow for one role, against the test server's login/RBAC API.
func loginScenario(base: String, name: String = "login-junior-agent", phone: String = "+919876540101",
                   role: String = "role-junior-agent", permissionAllowed: Bool = true, policiesStatus: Int = 200) -> String {
    """
    scenarios:
      - name: \(name)
        interval: 30s
        timeout: 5s
        labels: {role: \(role)}
        variables: {base: "\(base)"}
        steps:
          - name: login
            method: POST
            url: ${base}/auth/login
            json: {phone_number: "\(phone)", password: "${env:AGENTMITRA_PASSWORD}"}
            expect: {status: [200], json: {"$.token_type": bearer}}
            extract:
              token: "$.access_token"
              session: {header: X-Session}
              refresh_suffix: {regex: "refresh-tok-([0-9a-f-]+)"}
          - name: me
            url: ${base}/users/me
            headers: {Authorization: "Bearer ${token}"}
            expect: {status: [200], json: {"$.role": \(role)}}
          - name: preferences
            url: ${base}/users/me/preferences
            headers: {Authorization: "Bearer ${token}"}
            expect: {json: {"$.language": {exists: true}}}
          - name: check-permission
            method: POST
            url: ${base}/rbac/check-permission
            headers: {Authorization: "Bearer ${token}"}
            json: {permission: policies.read}
            expect: {json: {"$.allowed": \(permissionAllowed)}}
          - name: policies
            url: ${base}/policies/
            headers: {Authorization: "Bearer ${token}"}
            expect: {status: [\(policiesStatus)]}
    """
}

@Suite("Scenarios against the login/RBAC API")
struct ScenarioSamplerTests {
    static let environment = ["AGENTMITRA_PASSWORD": "junior-Pa55!"]

    @Test func loginFlowPassesAndExportsStepAndScenarioMetrics() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let config = try parseConfig(loginScenario(base: server.base), environment: Self.environment)
            let sampler = ScenarioSampler(config: config.scenarios[0], engine: engine, redactor: config.redactor)
            #expect(sampler.id == "scenario/login-junior-agent")
            let result = await sampler.sample()
            #expect(result.outcome.success, "\(result.outcome.error ?? "")")
            let scenario = ["scenario": "login-junior-agent", "role": "role-junior-agent"]
            #expect(result.value("mitra_scenario_success", scenario) == 1)
            #expect(result.value("mitra_scenario_runs_total", scenario.merging(["result": "success"]) { a, _ in a }) == 1)
            #expect(result.histogram("mitra_scenario_duration_seconds", scenario)?.count == 1)
            for step in ["login", "me", "preferences", "check-permission", "policies"] {
                let labels = scenario.merging(["step": step]) { a, _ in a }
                #expect(result.value("probe_success", labels) == 1, "step \(step)")
                #expect(result.value("probe_http_status_code", labels) == 200, "step \(step)")
                #expect(result.value("mitra_probe_runs_total", labels.merging(["result": "success"]) { a, _ in a }) == 1)
                #expect(result.histogram("mitra_probe_duration_seconds", labels)?.count == 1)
            }
            #expect(result.family("probe_success")?.series.allSatisfy { $0.labels.contains(Label("role", "role-junior-agent")) } == true)
            // Rendering works and carries no `check` label.
            let text = Renderer.render(result.families, format: .prometheusText)
            #expect(!text.contains("check="))
        }
    }

    @Test func roleWithoutPermissionIsDeniedAsExpected() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let yaml = loginScenario(base: server.base, name: "login-policyholder", phone: "+919876540102",
                                     role: "role-policyholder", permissionAllowed: false, policiesStatus: 403)
            let config = try parseConfig(yaml, environment: ["AGENTMITRA_PASSWORD": "holder-Pa55!"])
            let result = await ScenarioSampler(config: config.scenarios[0], engine: engine, redactor: config.redactor).sample()
            #expect(result.outcome.success, "\(result.outcome.error ?? "")")
            #expect(result.value("probe_http_status_code", ["step": "policies"]) == 403)
        }
    }

    @Test func failedStepStopsTheScenarioAndIsReported() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            // The junior agent is expected to be a super admin: step `me` fails.
            let config = try parseConfig(loginScenario(base: server.base, role: "role-super-admin"), environment: Self.environment)
            let sampler = ScenarioSampler(config: config.scenarios[0], engine: engine, redactor: config.redactor)
            let result = await sampler.sample()
            #expect(!result.outcome.success)
            #expect(result.outcome.error == #"scenario login-junior-agent: step me: json: $.role is "role-junior-agent", expected "role-super-admin""#)
            #expect(result.value("mitra_scenario_success") == 0)
            #expect(result.value("mitra_scenario_runs_total", ["result": "failure"]) == 1)
            #expect(result.value("probe_success", ["step": "login"]) == 1)
            #expect(result.value("probe_success", ["step": "me"]) == 0)
            #expect(result.failureReasons(["step": "me"]) == ["json": 1])
            // Steps after the failure did not run: no last result, counters untouched.
            #expect(result.value("probe_success", ["step": "preferences"]) == nil)
            #expect(result.value("mitra_probe_runs_total", ["step": "preferences", "result": "success"]) == 0)
            #expect(result.value("mitra_probe_runs_total", ["step": "preferences", "result": "failure"]) == 0)
            let report = sampler.traceReport()
            #expect(report.contains("step me: json: $.role is"))
            #expect(report.contains("  step login"))
            #expect(report.contains("  step me"))
            #expect(!report.contains("  step preferences"))
        }
    }

    @Test func wrongPasswordFailsTheLoginStep() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let config = try parseConfig(loginScenario(base: server.base), environment: ["AGENTMITRA_PASSWORD": "wrong-password-123"])
            let sampler = ScenarioSampler(config: config.scenarios[0], engine: engine, redactor: config.redactor)
            let result = await sampler.sample()
            #expect(result.outcome.error == "scenario login-junior-agent: step login: status: got 401, expected 200")
            #expect(result.value("probe_http_status_code", ["step": "login"]) == 401)
            #expect(result.family("probe_success")?.series.count == 1)
            let report = sampler.traceReport()
            #expect(!report.contains("wrong-password-123"))
            #expect(report.contains(#""password":"<secret>""#))
        }
    }

    @Test func extractionFailureIsReported() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let config = try parseConfig("""
            scenarios:
              - name: extract
                steps:
                  - name: first
                    url: \(server.url("/json"))
                    extract: {missing: "$.no.such.field"}
                  - name: second
                    url: \(server.url("/ok?value=${missing}"))
            """)
            let result = await ScenarioSampler(config: config.scenarios[0], engine: engine).sample()
            #expect(result.outcome.error == "scenario extract: step first: extract: cannot extract missing from $.no.such.field")
            #expect(result.failureReasons(["step": "first"]) == ["extract": 1])
            let badJSONConfig = try parseConfig("""
            scenarios:
              - name: extract
                steps:
                  - {name: first, url: "\(server.url("/badjson"))", extract: {x: "$.role"}}
            """)
            let badJSON = await ScenarioSampler(config: badJSONConfig.scenarios[0], engine: engine).sample()
            #expect(badJSON.failureReasons(["step": "first"]) == ["extract": 1])
        }
    }

    @Test func variablesFlowIntoURLHeadersAndBody() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let config = try parseConfig("""
            scenarios:
              - name: vars
                variables: {base: "\(server.base)", who: "quote\\"d"}
                steps:
                  - name: source
                    url: ${base}/json
                    extract: {role: "$.role", status: "$.items[1].status", rid: {header: x-request-id}, count: {regex: "\\"count\\":([0-9]+)"}}
                  - name: echo
                    method: POST
                    url: ${base}/echo
                    headers: {X-Role: "${role}"}
                    json: {role: "${role}", status: "${status}", rid: "${rid}", count: "${count}", who: "${who}"}
                    expect:
                      json: {"$.role": role-junior-agent, "$.status": lapsed, "$.rid": req-42, "$.count": "3", "$.who": "quote\\"d"}
                  - name: headers
                    url: ${base}/headers
                    headers: {X-Role: "${role}-${count}"}
                    expect: {json: {"$.x-role": role-junior-agent-3}}
            """)
            let result = await ScenarioSampler(config: config.scenarios[0], engine: engine).sample()
            #expect(result.outcome.success, "\(result.outcome.error ?? "")")
        }
    }

    @Test func tracesRedactPasswordsTokensAndSessions() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let config = try parseConfig(loginScenario(base: server.base, role: "role-super-admin"), environment: Self.environment)
            let sampler = ScenarioSampler(config: config.scenarios[0], engine: engine, redactor: config.redactor)
            // Capture the token the server issued by logging in the same way.
            let login = await engine.perform(ProbeRequest(url: server.url("/auth/login"), method: "POST",
                                                          headers: [("Content-Type", "application/json")],
                                                          body: Array(#"{"phone_number":"+919876540101","password":"junior-Pa55!"}"#.utf8)))
            #expect(login.status == 200)
            var result = await sampler.sample()
            result = await sampler.sample()
            let report = sampler.traceReport()
            #expect(!report.contains("junior-Pa55!"), "password leaked")
            #expect(!report.contains("tok-"), "token leaked")
            #expect(!report.contains("sess-"), "session leaked")
            #expect(report.contains("Authorization: Bearer <secret>"))
            #expect(report.contains(#""access_token":"<secret>""#))
            #expect(report.contains("X-Session: <secret>"))
            #expect(report.contains("extracted: token, session, refresh_suffix"))
            for outcome in result.outcomes {
                #expect(!(outcome.error ?? "").contains("junior-Pa55!"))
                #expect(!(outcome.error ?? "").contains("tok-"))
            }
            let text = Renderer.render(result.families, format: .prometheusText)
            #expect(!text.contains("junior-Pa55!") && !text.contains("tok-"))
        }
    }

    @Test func scenarioTimeoutBoundsAllSteps() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let config = try parseConfig("""
            scenarios:
              - name: budget
                timeout: 1s
                steps:
                  - {name: one, url: "\(server.url("/slow?ms=600"))"}
                  - {name: two, url: "\(server.url("/slow?ms=600"))"}
                  - {name: three, url: "\(server.url("/ok"))"}
            """)
            let clock = ContinuousClock()
            let started = clock.now
            let result = await ScenarioSampler(config: config.scenarios[0], engine: engine).sample()
            #expect(clock.now - started < .milliseconds(1300))
            #expect(result.value("probe_success", ["step": "one"]) == 1)
            #expect(result.failureReasons(["step": "two"]) == ["timeout": 1])
            #expect(result.value("probe_success", ["step": "three"]) == nil)
            #expect(result.outcome.error?.hasPrefix("scenario budget: step two: timeout:") == true)
        }
    }

    @Test func backstopTimeoutBlamesTheStepInProgress() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        let hanging = try HangingListener()
        defer { hanging.close() }
        try await TestServer.withServer { server in
            let config = try parseConfig("""
            scenarios:
              - name: stuck
                timeout: 10s
                steps:
                  - {name: fine, url: "\(server.url("/ok"))"}
                  - {name: hangs, url: "http://127.0.0.1:\(hanging.port)/"}
            """)
            let sampler = ScenarioSampler(config: config.scenarios[0], engine: engine)
            let running = Task { await sampler.sample() }
            try await Task.sleep(for: .milliseconds(300))
            let timedOut = sampler.timedOutResult(after: 11)
            running.cancel()
            _ = await running.value
            #expect(timedOut.value("mitra_scenario_success") == 0)
            #expect(timedOut.failureReasons(["step": "hangs"]) == ["timeout": 1])
            #expect(timedOut.value("probe_success", ["step": "hangs"]) == 0)
            #expect(timedOut.outcome.error == "scenario stuck: step hangs: timeout: no result within 11s")
            #expect(timedOut.value("mitra_scenario_runs_total", ["result": "failure"]) == 1)
        }
    }
}

@Suite("Failure messages")
struct FailureMessageTests {
    @Test func valuesOfCredentialFieldsAreNotQuoted() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let config = try parseConfig("""
            scenarios:
              - name: leak
                steps:
                  - name: login
                    method: POST
                    url: \(server.url("/auth/login"))
                    json: {phone_number: "+919876540103", password: "admin-Pa55!"}
                    expect: {json: {"$.access_token": "expected-token"}}
            """)
            let sampler = ScenarioSampler(config: config.scenarios[0], engine: engine, redactor: config.redactor)
            let result = await sampler.sample()
            #expect(result.outcome.error == "scenario leak: step login: json: $.access_token is <secret>, expected <secret>")
            let report = sampler.traceReport()
            // A literal password in the config (not a secret reference) is still hidden in JSON bodies.
            #expect(!report.contains("admin-Pa55!"))
            #expect(!report.contains("tok-"))
        }
    }
}

@Suite("Trace previews")
struct TracePreviewTests {
    @Test func aTokenCutAtThePreviewLimitIsNotShownInPart() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            // The echoed body puts the token across the 512-byte preview limit.
            let padding = String(repeating: "x", count: 487)
            let config = try parseConfig("""
            scenarios:
              - name: cut
                steps:
                  - name: login
                    method: POST
                    url: \(server.url("/auth/login"))
                    json: {phone_number: "+919876540101", password: "junior-Pa55!"}
                    extract: {token: "$.access_token"}
                  - name: echo
                    method: POST
                    url: \(server.url("/echo"))
                    json: {pad: "\(padding)", t: "${token}"}
            """)
            let sampler = ScenarioSampler(config: config.scenarios[0], engine: engine, redactor: config.redactor)
            let result = await sampler.sample()
            #expect(result.outcome.success, "\(result.outcome.error ?? "")")
            let report = sampler.traceReport()
            #expect(!report.contains("tok-"))
            #expect(report.contains(padding + #"","t":"<secret> … ("#))
        }
    }
}
