import ExporterConfig
import Exposition
import HTTPChecks
import HTTPProbe
import Sampling
import Testing
import TestSupport

@Suite("Nothing secret leaves the process")
struct SecretLeakTests {
    /// A login that extracts its token and then fails on latency: the token must be secret
    /// from extraction on (trace, failure message, metrics), whatever field or header holds it.
    @Test func tokenOfAStepThatFailsAfterExtractionIsRedacted() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let config = try parseConfig("""
            redact_names: [X-Internal-Sig]
            scenarios:
              - name: jwt-login
                steps:
                  - name: login
                    method: POST
                    url: \(server.url("/auth/jwt-login"))
                    json: {phone_number: "+919876540101"}
                    extract: {token: "$.jwt"}
                    expect: {max_duration: 1ms}
            """)
            let sampler = ScenarioSampler(config: config.scenarios[0], engine: engine, redactor: config.redactor)
            let result = await sampler.sample()
            #expect(!result.outcome.success)
            #expect(result.outcome.error?.contains("latency") == true, "\(result.outcome.error ?? "")")
            let report = sampler.traceReport()
            #expect(!report.contains("tok-"), "token shown: \(report)")
            #expect(report.contains(#""echo":"<secret>""#), "the extracted value under a harmless name")
            #expect(report.contains(#""jwt":"<secret>""#))
            #expect(report.contains("X-Refresh-Token: <secret>"), "headers are redacted by pattern")
            #expect(report.contains("X-Internal-Sig: <secret>"), "and by the configured list")
            #expect(report.contains("X-Request-Id: req-42"), "other headers stay readable")
            #expect(!(result.outcome.error ?? "").contains("tok-"))
            #expect(!Renderer.render(result.families, format: .prometheusText).contains("tok-"))
        }
    }

    @Test(arguments: [
        "X-Refresh-Token", "X-Api-Key", "X-Session-Id", "X-Client-Secret", "X-Auth-User", "X-Password", "X-Credential",
        "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
    ])
    func credentialHeadersAreRedactedInTraces(_ name: String) async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let (sampler, _) = try await runCheck("""
              - name: headers
                url: \(server.url("/headers"))
                headers: {\(name): "value-that-must-not-show"}
            """, engine: engine)
            let report = sampler.traceReport()
            #expect(!report.contains("value-that-must-not-show"), "\(name): \(report)")
        }
    }
}
