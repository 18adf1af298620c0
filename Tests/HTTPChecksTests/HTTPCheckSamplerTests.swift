import ExporterConfig
import Exposition
import Foundation
import HTTPChecks
import HTTPProbe
import Sampling
import Testing
import TestSupport

@Suite("HTTP checks against a local server")
struct HTTPCheckSamplerTests {
    @Test func successfulCheckExportsBlackboxMetricsAndCounters() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let (sampler, result) = try await runCheck("""
              - name: policies
                url: \(server.url("/json"))
                labels: {endpoint: /json, role: role-junior-agent}
                expect: {status: [200]}
            """, engine: engine)
            #expect(sampler.id == "check/policies")
            let labels = ["check": "policies", "endpoint": "/json", "role": "role-junior-agent"]
            #expect(result.value("probe_success", labels) == 1)
            #expect(result.value("probe_http_status_code", labels) == 200)
            #expect(result.value("probe_http_redirects", labels) == 0)
            #expect(result.value("probe_http_ssl", labels) == 0)
            #expect(result.value("probe_failed_due_to_regex", labels) == 0)
            #expect(result.value("probe_http_content_length", labels) ?? 0 > 50)
            #expect(result.value("probe_duration_seconds", labels) ?? 0 > 0)
            #expect(result.value("mitra_probe_runs_total", labels.merging(["result": "success"]) { a, _ in a }) == 1)
            #expect(result.value("mitra_probe_runs_total", labels.merging(["result": "failure"]) { a, _ in a }) == 0)
            #expect(result.family("mitra_probe_failures_total")?.series.count == FailureReason.allCases.count)
            #expect(result.failureReasons().isEmpty)
            #expect(result.histogram("mitra_probe_duration_seconds", labels)?.count == 1)
            #expect(result.histogram("mitra_probe_duration_seconds")?.buckets.map(\.upperBound) == [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10])
            #expect(result.family("probe_ssl_earliest_cert_expiry") == nil)
            let total = try #require(result.value("probe_duration_seconds"))
            #expect(result.phaseSum() <= total + 1e-9)
            #expect(result.outcome == CollectorOutcome(collector: "check/policies", success: true, durationSeconds: result.outcome.durationSeconds))
            // Every family renders (names, HELP, TYPE) without error.
            let text = Renderer.render(result.families, format: .prometheusText)
            #expect(text.contains("# TYPE mitra_probe_duration_seconds histogram"))
            #expect(text.contains(#"probe_http_duration_seconds{check="policies",endpoint="/json",role="role-junior-agent",phase="processing"}"#))
        }
    }

    @Test(arguments: [
        // (expect block, expected reason, due to regex)
        ("{status: [200]}", nil, false),
        ("{status: [2xx, 404]}", nil, false),
        ("{status: [201]}", "status", false),
        ("{body_matches: [\"role-junior-agent\", \"items\"]}", nil, false),
        ("{body_matches: \"role-super-admin\"}", "body", true),
        ("{body_not_matches: [\"error\"]}", nil, false),
        ("{body_not_matches: [\"lapsed\"]}", "body", true),
        ("{json: {\"$.role\": role-junior-agent, \"$.count\": 3, \"$.ok\": true, \"$.missing\": null}}", nil, false),
        ("{json: {\"$.items[0].status\": active, \"$.items[-1].id\": 8, \"$.nested.a.b\": deep, \"$['nested']['a']['b']\": deep}}", nil, false),
        ("{json: {\"$.role\": role-policyholder}}", "json", false),
        ("{json: {\"$.count\": {matches: \"^[0-9]+$\"}, \"$.role\": {exists: true}, \"$.absent\": {exists: false}}}", nil, false),
        ("{json: {\"$.absent\": {exists: true}}}", "json", false),
        ("{json: {\"$.items[5].status\": active}}", "json", false),
        ("{json: {\"$.role\": {matches: \"^role-(super|provider)\"}}}", "json", false),
        ("{headers: {Content-Type: \"^application/json$\", X-Request-Id: \"^req-[0-9]+$\"}}", nil, false),
        ("{headers: {Content-Type: \"^text/html\"}}", "body", true),
        ("{headers: {X-Missing: \".*\"}}", "body", true),
        ("{max_duration: 4s}", nil, false),
        ("{json: {\"$.token_type\": {exists: false}}}", nil, false),
    ] as [(String, String?, Bool)])
    func expectations(expect: String, reason: String?, dueToRegex: Bool) async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let (_, result) = try await runCheck("""
              - name: json
                url: \(server.url("/json"))
                expect: \(expect)
            """, engine: engine)
            #expect(result.value("probe_success") == (reason == nil ? 1 : 0), "\(result.outcome.error ?? "")")
            #expect(result.failureReasons() == (reason.map { [$0: 1] } ?? [:]))
            #expect(result.value("probe_failed_due_to_regex") == (dueToRegex ? 1 : 0))
            if let reason {
                #expect(result.outcome.error?.hasPrefix("check json: \(reason): ") == true, "\(result.outcome.error ?? "")")
            }
        }
    }

    @Test func jsonPathOnATopLevelArray() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let (_, ok) = try await runCheck("""
              - name: array
                url: \(server.url("/array"))
                expect: {json: {"$[0].status": active, "$[1].status": lapsed}}
            """, engine: engine)
            #expect(ok.value("probe_success") == 1)
        }
    }

    @Test func maxDurationFailsSlowResponsesAsLatency() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let (_, result) = try await runCheck("""
              - name: slow
                url: \(server.url("/slow?ms=300"))
                expect: {max_duration: 100ms}
            """, engine: engine)
            #expect(result.value("probe_success") == 0)
            #expect(result.value("probe_http_status_code") == 200)
            #expect(result.failureReasons() == ["latency": 1])
            #expect(result.outcome.error?.contains("more than 0.100s") == true)
        }
    }

    @Test func misbehavingServersFailWithTheRightReasonWithinTheTimeout() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        let hanging = try HangingListener()
        defer { hanging.close() }
        let closedPort = try HangingListener.closedPort()
        try await TestServer.withServer { server in
            let cases: [(url: String, reason: String, extra: String)] = [
                ("http://127.0.0.1:\(hanging.port)/", "timeout", ""),
                (server.url("/drip?bytes=200&ms=20"), "timeout", ""),
                (server.url("/huge?bytes=5000000"), "body", "max_body_size: 64KiB"),
                (server.url("/status/503"), "status", ""),
                (server.url("/loop"), "status", "max_redirects: 5"),
                (server.url("/badjson"), "json", "expect: {json: {\"$.role\": x}}"),
                ("http://127.0.0.1:\(closedPort)/", "connect", ""),
                ("http://mitra-no-such-host.invalid/", "dns", ""),
            ]
            for item in cases {
                let clock = ContinuousClock()
                let started = clock.now
                let (_, result) = try await runCheck("""
                  - name: bad
                    url: \(item.url)
                    interval: 15s
                    timeout: 1s
                    \(item.extra)
                """, engine: engine)
                #expect(clock.now - started < .milliseconds(1500), "\(item.url) took too long")
                #expect(result.value("probe_success") == 0, "\(item.url)")
                #expect(result.failureReasons() == [item.reason: 1], "\(item.url): \(result.outcome.error ?? "")")
                #expect(result.value("mitra_probe_runs_total", ["result": "failure"]) == 1)
                #expect(result.outcome.success == false)
                // The phases are slices of the request's time, which the probe's wall time contains.
                let phases = result.phaseSum()
                #expect(phases > 0 && phases <= (result.value("probe_duration_seconds") ?? 0) + 1e-6, "\(item.url): phases \(phases)")
            }
        }
    }

    @Test func timeoutMessageNamesThePhase() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        let hanging = try HangingListener()
        defer { hanging.close() }
        let (sampler, result) = try await runCheck("""
          - name: hung
            url: http://127.0.0.1:\(hanging.port)/
            timeout: 300ms
        """, engine: engine)
        #expect(result.outcome.error == "check hung: timeout: no complete response within 300ms (timed out while waiting for the response)")
        #expect(sampler.traceReport().contains("FAILED timeout"))
    }

    @Test func tlsChecksReportCertificateExpiryAndVersion() async throws {
        let certificates = try TestCertificates.get()
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer(tls: try certificates.serverTLS()) { server in
            let (_, result) = try await runCheck("""
              - name: tls
                url: \(server.url("/ok"))
                tls: {ca_file: \(certificates.caFile), server_name: mitra.test}
            """, engine: engine)
            #expect(result.value("probe_success") == 1, "\(result.outcome.error ?? "")")
            #expect(result.value("probe_http_ssl") == 1)
            #expect(result.value("probe_ssl_earliest_cert_expiry") == TestCertificates.validNotAfter)
            let versions = result.family("probe_tls_version_info")?.series.compactMap { $0.labels.first { $0.name == "version" }?.value }
            #expect(versions == ["TLSv1.3"] || versions == ["TLSv1.2"])
            #expect(result.value("probe_http_duration_seconds", ["phase": "tls"]) ?? 0 > 0)
        }
        try await TestServer.withServer(tls: try certificates.serverTLS(expired: true)) { server in
            let (_, expired) = try await runCheck("""
              - name: expired
                url: \(server.url("/ok"))
                tls: {ca_file: \(certificates.caFile)}
            """, engine: engine)
            #expect(expired.value("probe_success") == 0)
            #expect(expired.failureReasons() == ["tls": 1])
            #expect(expired.outcome.error?.contains("expired") == true)
            let (_, skipped) = try await runCheck("""
              - name: skipped
                url: \(server.url("/ok"))
                tls: {insecure_skip_verify: true}
            """, engine: engine)
            #expect(skipped.value("probe_success") == 1)
            #expect(skipped.value("probe_ssl_earliest_cert_expiry") == 1_580_515_200)
        }
    }

    @Test func countersAccumulateAcrossRuns() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let config = try parseConfig("""
            checks:
              - name: flaky
                url: \(server.url("/status/503"))
            """)
            let sampler = HTTPCheckSampler(config: config.checks[0], engine: engine)
            var last: SampleResult?
            for _ in 0..<3 { last = await sampler.sample() }
            let result = try #require(last)
            #expect(result.value("mitra_probe_runs_total", ["result": "failure"]) == 3)
            #expect(result.failureReasons() == ["status": 3])
            #expect(result.histogram("mitra_probe_duration_seconds")?.count == 3)
            #expect(result.value("probe_http_status_code") == 503)
        }
    }

    @Test func requestMethodHeadersAndJSONBodyAreSent() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let (_, result) = try await runCheck("""
              - name: echo
                url: \(server.url("/echo"))
                method: post
                json: {name: "x", count: 2, flag: true, nothing: null, list: [1, "two"], quoted: "3"}
                expect:
                  json: {"$.name": x, "$.count": 2, "$.flag": true, "$.list[1]": two, "$.quoted": "3"}
                  headers: {Content-Type: "^application/json$", X-Method: "^POST$"}
            """, engine: engine)
            #expect(result.value("probe_success") == 1, "\(result.outcome.error ?? "")")
        }
    }

    @Test func backstopTimeoutCountsOneFailure() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        let hanging = try HangingListener()
        defer { hanging.close() }
        let config = try parseConfig("""
        checks:
          - name: stuck
            url: http://127.0.0.1:\(hanging.port)/
            interval: 30s
            timeout: 10s
        """)
        let sampler = HTTPCheckSampler(config: config.checks[0], engine: engine)
        let running = Task { await sampler.sample() }
        try await Task.sleep(for: .milliseconds(200))
        let timedOut = sampler.timedOutResult(after: 11)
        running.cancel()
        let late = await running.value
        #expect(timedOut.value("probe_success") == 0)
        #expect(timedOut.value("probe_duration_seconds") == 11)
        #expect(timedOut.failureReasons() == ["timeout": 1])
        #expect(timedOut.outcome.success == false)
        #expect(timedOut.outcome.error == "check stuck: timeout: no result within 11s")
        // The abandoned run does not count again.
        #expect(late.failureReasons() == ["timeout": 1])
        #expect(late.value("mitra_probe_runs_total", ["result": "failure"]) == 1)
    }

    @Test func tracesKeepTheLastFiveRuns() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let config = try parseConfig("""
            checks:
              - name: ok
                url: \(server.url("/json"))
                expect: {json: {"$.role": role-junior-agent}}
            """)
            let sampler = HTTPCheckSampler(config: config.checks[0], engine: engine)
            #expect(sampler.traceReport().contains("(no runs yet)"))
            for _ in 0..<7 { _ = await sampler.sample() }
            let report = sampler.traceReport()
            // Successful runs in a row collapse into the latest.
            #expect(report.components(separatedBy: "=== ").count - 1 == 1)
            #expect(report.contains("(latest of 7 successful runs in a row)"))
            #expect(report.contains("> GET \(server.url("/json"))"))
            #expect(report.contains("< HTTP/1.1 200"))
            #expect(report.contains("< Content-Type: application/json"))
            #expect(report.contains("role-junior-agent"))
            #expect(report.contains("timings: resolve"))
        }
    }

    @Test func traceRingKeepsFailuresAroundTheLatestSuccess() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let config = try parseConfig("""
            checks:
              - {name: good, url: "\(server.url("/ok"))"}
              - {name: bad, url: "\(server.url("/status/500"))"}
            """)
            let good = HTTPCheckSampler(config: config.checks[0], engine: engine)
            let bad = HTTPCheckSampler(config: config.checks[1], engine: engine)
            for _ in 0..<8 { _ = await bad.sample() }
            let badReport = bad.traceReport()
            #expect(badReport.components(separatedBy: "=== ").count - 1 == 5)
            #expect(badReport.components(separatedBy: "FAILED status: got 500, expected 2xx").count - 1 == 5)
            _ = await good.sample()
            #expect(good.traceReport().contains("SUCCESS"))
        }
    }

    /// 200 checks at once against slow and hung endpoints: each ends within its own timeout,
    /// and the slow ones are not delayed by the hung ones.
    @Test func twoHundredChecksFinishWithinTheirTimeouts() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        let hanging = try HangingListener()
        defer { hanging.close() }
        try await TestServer.withServer { server in
            var entries: [String] = []
            for index in 0..<200 {
                let url = index % 2 == 0 ? server.url("/slow?ms=600") : "http://127.0.0.1:\(hanging.port)/"
                entries.append("  - {name: c\(index), url: \"\(url)\", timeout: 1500ms}")
            }
            let config = try parseConfig("checks:\n" + entries.joined(separator: "\n"))
            let samplers = config.checks.map { HTTPCheckSampler(config: $0, engine: engine) }
            let clock = ContinuousClock()
            let started = clock.now
            let results = await withTaskGroup(of: (String, SampleResult, Duration).self) { group in
                for sampler in samplers {
                    group.addTask {
                        let result = await sampler.sample()
                        return (sampler.id, result, clock.now - started)
                    }
                }
                return await group.reduce(into: [String: (SampleResult, Duration)]()) { $0[$1.0] = ($1.1, $1.2) }
            }
            #expect(results.count == 200)
            for (id, (result, finishedAfter)) in results {
                let index = Int(id.dropFirst("check/c".count))!
                #expect(finishedAfter < .milliseconds(2500), "\(id) finished after \(finishedAfter)")
                if index % 2 == 0 {
                    #expect(result.value("probe_success") == 1, "\(id): \(result.outcome.error ?? "")")
                    #expect(finishedAfter < .milliseconds(1500), "slow check \(id) was delayed: \(finishedAfter)")
                } else {
                    #expect(result.failureReasons() == ["timeout": 1], "\(id)")
                }
            }
        }
    }
}
