import ExporterConfig
import Foundation
import HTTPChecks
import HTTPProbe
import Sampling
import Testing
import TestSupport

@Suite("Safe HTTP client defaults")
struct SafeClientTests {
    static func redirect(_ server: TestServer.Endpoints, to target: String, via route: String = "/redirect-to") -> String {
        server.url(route + "?url=" + (target.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? target))
    }

    /// Runs one check whose URL redirects to `/headers` on a second server (another port,
    /// so another origin); `options` are added to the check.
    static func redirectAcrossHosts(_ options: String, via route: String = "/redirect-to",
                                    engine: HTTPProbeEngine) async throws -> (target: String, result: SampleResult) {
        try await TestServer.withServer { origin in
            try await TestServer.withServer { other in
                let (_, result) = try await runCheck("""
                  - name: away
                    url: \(Self.redirect(origin, to: other.url("/headers"), via: route))
                \(options)
                """, engine: engine)
                return (other.url("/headers"), result)
            }
        }
    }

    /// Also when 72 KiB of headers come before the Location (more than a probe keeps).
    @Test(arguments: ["/redirect-to", "/redirect-padded"])
    func redirectsToAnotherHostAreNotFollowedByDefault(_ route: String) async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        let (target, result) = try await Self.redirectAcrossHosts("    headers: {X-Api-Key: key-123456}", via: route, engine: engine)
        #expect(!result.outcome.success)
        #expect(result.failureReasons() == ["status": 1])
        #expect(result.outcome.error?.contains("redirected to another host: \(target)") == true, "\(result.outcome.error ?? "")")
        #expect(result.outcome.error?.contains("cross_host_redirects") == true)
    }

    @Test func sameHostRedirectsKeepTheirHeaders() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { origin in
            let (_, result) = try await runCheck("""
              - name: home
                url: \(Self.redirect(origin, to: "/headers"))
                headers: {X-Api-Key: key-123456}
                expect: {body_matches: ["key-123456"]}
            """, engine: engine)
            #expect(result.outcome.success, "\(result.outcome.error ?? "")")
        }
    }

    @Test func allowedCrossHostRedirectsCarryNoCredentials() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        let (_, result) = try await Self.redirectAcrossHosts("""
                cross_host_redirects: true
                headers: {X-Api-Key: key-123456, Authorization: "Bearer tok-abcdef", X-Custom-Auth: custom-abcdef, Accept: application/json}
                expect: {body_not_matches: ["key-123456", "tok-abcdef", "custom-abcdef"], body_matches: ["application.+json"]}
            """, engine: engine)
        #expect(result.outcome.success, "\(result.outcome.error ?? "")")
    }

    @Test func aValueWithCRLFFailsTheStepBeforeAnyRequest() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let closed = try HangingListener.closedPort()
            let config = try parseConfig("""
            scenarios:
              - name: inject
                steps:
                  - name: read
                    url: \(server.url("/crlf"))
                    extract: {value: "$.value"}
                  - name: use
                    url: http://127.0.0.1:\(closed)/
                    headers: {X-Value: "${value}"}
            """)
            let sampler = ScenarioSampler(config: config.scenarios[0], engine: engine, redactor: config.redactor)
            let result = await sampler.sample()
            #expect(!result.outcome.success)
            // Not `connection refused`: the request was never attempted.
            #expect(result.outcome.error?.contains("step use: connect: header X-Value contains a CR, LF or NUL character; the request was not sent") == true,
                    "\(result.outcome.error ?? "")")
        }
        for request in [ProbeRequest(url: "http://127.0.0.1:1/a\r\nb"), ProbeRequest(url: "http://127.0.0.1:1/", headers: [("X", "a\u{0}b")]),
                        ProbeRequest(url: "http://127.0.0.1:1/", method: "GET\r\nX: y")] {
            let response = await engine.perform(request)
            #expect(response.error?.kind == .invalidRequest, "\(request.url)")
        }
    }
}
