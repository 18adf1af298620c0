import ExporterConfig
import HTTPChecks
import HTTPProbe
import Sampling
import Testing
import TestSupport

@Suite("Bounded matching")
struct BoundedMatchingTests {
    /// A regex that backtracks exponentially on a 1 MB body ends within the check's timeout,
    /// fails that check with reason `body`, and leaves other checks alone. It ends in a
    /// class, not a literal: PCRE2 skips the whole search when a required last character
    /// (`(x+x+)+y`) is absent from the body, so that pattern would not be slow.
    @Test func pathologicalRegexOnAMegabyteEndsWithinTheTimeout() async throws {
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        try await TestServer.withServer { server in
            let config = try parseConfig("""
            checks:
              - name: redos
                url: \(server.url("/redos"))
                timeout: 2s
                expect: {body_matches: ["(x+x+)+[yz]"]}
              - name: healthy
                url: \(server.url("/ok"))
                timeout: 2s
            """)
            let slow = HTTPCheckSampler(config: config.checks[0], engine: engine, redactor: config.redactor)
            let healthy = HTTPCheckSampler(config: config.checks[1], engine: engine, redactor: config.redactor)
            let clock = ContinuousClock()
            let started = clock.now
            async let slowResult = slow.sample()
            async let healthyResult = healthy.sample()
            let (redos, ok) = await (slowResult, healthyResult)
            let elapsed = clock.now - started
            // The check's 2 s timeout, plus scheduling slack on a busy machine.
            #expect(elapsed < .seconds(3), "matching took \(elapsed)")
            #expect(!redos.outcome.success)
            #expect(redos.failureReasons() == ["body": 1])
            #expect(redos.outcome.error?.contains("did not finish on") == true, "\(redos.outcome.error ?? "")")
            #expect(ok.outcome.success, "\(ok.outcome.error ?? "")")
        }
    }
}
