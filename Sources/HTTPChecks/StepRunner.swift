import ExporterConfig
import Exposition
import Foundation
import HTTPProbe

/// What one request of a check or scenario step produced.
struct StepRun: Sendable {
    var response: ProbeResponse?
    /// Wall-clock time of the step, including waiting for the engine.
    var durationSeconds: Double
    var failure: ProbeFailure?
    var extracted: [(String, String)] = []
    /// Unredacted: turned into a `StepTrace` once the whole run is known.
    var request: ProbeRequest?

    var succeeded: Bool { failure == nil }
}

/// Builds requests from config (substituting `${variables}`), performs them on the engine and
/// checks the expectations. Shared by checks and scenario steps.
struct StepRunner: Sendable {
    let request: HTTPRequestConfig
    let client: HTTPClientConfig
    let expectations: CompiledExpectations

    static let userAgent = "mitra-exporter"

    func makeRequest(variables: [String: String], timeout: Duration) -> ProbeRequest {
        let substitute = { (text: String, escapeJSON: Bool) in Self.substitute(text, variables: variables, escapeJSON: escapeJSON) }
        return ProbeRequest(
            url: substitute(request.url, false),
            method: request.method,
            headers: request.headers.map { ($0.name, substitute($0.value, false)) },
            body: request.body.map { Array(substitute($0, request.bodyIsJSON).utf8) },
            timeout: timeout,
            tls: .init(caFile: client.tls.caFile, clientCertFile: client.tls.certFile, clientKeyFile: client.tls.keyFile,
                       insecureSkipVerify: client.tls.insecureSkipVerify, serverName: client.tls.serverName),
            followRedirects: client.followRedirects,
            maxRedirects: client.maxRedirects,
            ipVersion: ProbeRequest.IPVersion(rawValue: client.ipVersion.rawValue) ?? .any,
            proxy: client.proxy,
            maxBodyBytes: client.maxBodyBytes,
            userAgent: Self.userAgent)
    }

    /// Replaces `${name}` with the variable's value; unknown names are left as written (the
    /// config reader rejects them, so this only happens for literal `${` text).
    static func substitute(_ text: String, variables: [String: String], escapeJSON: Bool) -> String {
        guard text.contains("${"), !variables.isEmpty else { return text }
        var output = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            output += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else { break }
            let name = String(rest[start.upperBound..<end])
            if let value = variables[name] {
                output += escapeJSON ? JSONText.escape(value) : value
            } else {
                output += rest[start.lowerBound...end]
            }
            rest = rest[rest.index(after: end)...]
        }
        output += rest
        return output
    }

    /// Headers that carry no credential and may go to another host on a cross-host redirect.
    static let headersSafeForOtherHosts: Set<String> = ["accept", "accept-language", "accept-encoding", "user-agent", "cache-control"]

    func run(engine: HTTPProbeEngine, variables: [String: String], timeout: Duration) async -> StepRun {
        let probeRequest = makeRequest(variables: variables, timeout: timeout)
        let clock = ContinuousClock()
        let started = clock.now
        var response = await engine.perform(probeRequest)
        var followed = 0
        // The engine stops at a redirect to another origin. Followed only when the check
        // allows it, and then as a new request that carries no credential: no custom headers
        // beyond a few harmless ones, no body, no client certificate.
        while client.crossHostRedirects, response.error?.kind == .redirectToOtherHost, let target = response.redirectTarget,
              response.redirects + followed < client.maxRedirects {
            var next = probeRequest
            next.url = target
            next.headers = probeRequest.headers.filter { Self.headersSafeForOtherHosts.contains($0.name.lowercased()) }
            next.body = nil
            if probeRequest.method.uppercased() != "HEAD" { next.method = "GET" }
            next.tls.clientCertFile = nil
            next.tls.clientKeyFile = nil
            next.maxRedirects = max(0, client.maxRedirects - response.redirects - followed - 1)
            next.timeout = timeout - (clock.now - started)
            followed += response.redirects + 1
            guard next.timeout > .milliseconds(1) else { break }
            response = await engine.perform(next)
        }
        response.redirects += followed
        let duration = (clock.now - started).inSeconds
        var run = StepRun(response: response, durationSeconds: duration, request: probeRequest)
        if let error = response.error {
            run.failure = ProbeFailure(reason: FailureReason(error.kind), message: Self.describe(error, timeout: timeout, timings: response.timings))
            return run
        }
        // Matching gets what is left of the timeout, and at least a moment: a response that
        // arrived just in time is still checked.
        let deadline = max(started + timeout, clock.now + .milliseconds(100))
        let evaluation: Result<[(String, String)], CompiledExpectations.FailureAfterExtraction>
        if expectations.usesRegex {
            // A regex may run until the deadline: on a dispatch thread, not the cooperative
            // pool that every sampler and the HTTP server share.
            let (expectations, response) = (expectations, response)
            evaluation = await withCheckedContinuation { continuation in
                DispatchQueue.global(qos: .utility).async {
                    continuation.resume(returning: expectations.evaluate(response, deadline: deadline))
                }
            }
        } else {
            evaluation = expectations.evaluate(response, deadline: deadline)
        }
        switch evaluation {
        case .success(let extracted):
            run.extracted = extracted
        case .failure(let failed):
            run.failure = failed.failure
            run.extracted = failed.extracted
        }
        return run
    }

    static func describe(_ error: ProbeError, timeout: Duration, timings: PhaseTimings) -> String {
        switch error.kind {
        case .timeout:
            // Name the phase the time ran out in: that is what the on-call engineer needs.
            let phase = timings.phases.last { $0.seconds > 0 }?.name ?? "resolve"
            let during = ["resolve": "resolving the host", "connect": "connecting", "tls": "the TLS handshake",
                          "processing": "waiting for the response", "transfer": "reading the body"][phase] ?? phase
            return "no complete response within \(DurationParser.format(timeout)) (timed out while \(during))"
        case .cancelled:
            return "cancelled after \(CompiledExpectations.seconds(timings.total))"
        case .redirectToOtherHost:
            return "\(error.message); not followed (set cross_host_redirects: true to follow it without credentials)"
        default:
            return error.message
        }
    }
}
