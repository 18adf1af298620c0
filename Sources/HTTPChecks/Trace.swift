import ExporterConfig
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import HTTPProbe

/// One request/response exchange as shown on the per-check debug page. Built already
/// redacted, so no secret is kept in memory past the run.
struct StepTrace: Sendable {
    var step: String?
    var requestLine: String
    var requestHeaders: [String]
    var requestBody: String?
    var statusLine: String
    var responseHeaders: [String]
    var bodyPreview: String
    var timings: String
    var tls: String?
    var extractedNames: [String]
    var failure: String?

    /// How much of each body a trace keeps.
    static let bodyPreviewBytes = 512

    /// `bodyLength` is the body's full size when `run` holds only its head.
    init(step: String?, run: StepRun, redactor: TraceRedactor, bodyLength: Int? = nil) {
        self.step = step
        if let request = run.request {
            requestLine = "\(request.method) \(redactor.text(request.url))"
            requestHeaders = request.headers.map { "\($0.name): \(redactor.header(name: $0.name, value: $0.value))" }
            requestBody = request.body.map { Self.preview($0, totalLength: $0.count, redactor: redactor) }
        } else {
            requestLine = "(not sent)"
            requestHeaders = []
            requestBody = nil
        }
        let response = run.response ?? ProbeResponse()
        if response.status > 0 {
            statusLine = "HTTP/\(response.httpVersion.isEmpty ? "?" : response.httpVersion) \(response.status)"
                + (response.redirects > 0 ? " after \(response.redirects) redirect(s) to \(redactor.text(response.effectiveURL))" : "")
        } else if let error = response.error {
            statusLine = "no response: \(redactor.text(error.description))"
        } else {
            statusLine = "no response"
        }
        responseHeaders = response.headers.map { "\($0.name): \(redactor.header(name: $0.name, value: $0.value))" }
        bodyPreview = response.body.isEmpty ? "" : Self.preview(response.body, totalLength: bodyLength ?? response.body.count, redactor: redactor)
        let t = response.timings
        timings = t.phases.map { "\($0.name) \(Self.format($0.seconds))" }.joined(separator: ", ") + "; total \(Self.format(t.total))"
        if let info = response.tls {
            var text = info.version
            if let expiry = info.earliestCertExpiry {
                text += ", earliest certificate expiry \(Date(timeIntervalSince1970: expiry).formatted(.iso8601))"
            }
            tls = text
        }
        extractedNames = run.extracted.map(\.0)
        failure = run.failure.map { "\($0.reason.rawValue): \(redactor.text($0.message))" }
    }

    init(step: String?, note: String) {
        self.step = step
        requestLine = "(in progress)"
        requestHeaders = []
        statusLine = "no response"
        responseHeaders = []
        bodyPreview = ""
        timings = ""
        extractedNames = []
        failure = note
    }

    static func preview(_ bytes: [UInt8], totalLength: Int, redactor: TraceRedactor) -> String {
        let cut = totalLength > bodyPreviewBytes
        var text = redactor.text(String(decoding: bytes.prefix(bodyPreviewBytes), as: UTF8.self))
        if cut { text = redactor.droppingPartialSecret(atEndOf: text) }
        let printable = String(text.unicodeScalars.map { $0.value < 0x20 && $0 != "\n" && $0 != "\t" ? "." : Character($0) })
        return printable + (cut ? " … (\(totalLength) bytes)" : "")
    }

    static func format(_ seconds: Double) -> String {
        DurationParser.formatSeconds(seconds, digits: 6)
    }

    func render(into lines: inout [String]) {
        if let step { lines.append("  step \(step)") }
        lines.append("    > \(requestLine)")
        for header in requestHeaders { lines.append("    > \(header)") }
        if let requestBody, !requestBody.isEmpty { lines.append("    > body: \(requestBody.replacing("\n", with: "\n    >       "))") }
        lines.append("    < \(statusLine)")
        for header in responseHeaders { lines.append("    < \(header)") }
        if !bodyPreview.isEmpty { lines.append("    < body: \(bodyPreview.replacing("\n", with: "\n    <       "))") }
        if !timings.isEmpty { lines.append("    timings: \(timings)") }
        if let tls { lines.append("    tls: \(tls)") }
        if !extractedNames.isEmpty { lines.append("    extracted: \(extractedNames.joined(separator: ", "))") }
        if let failure { lines.append("    FAILED \(failure)") }
    }
}

/// One step as recorded for its trace: the raw exchange with the body cut short. Formatting
/// and redaction happen only when someone asks for the report, not on every run.
struct RecordedStep: Sendable {
    var step: String?
    var run: StepRun
    var bodyLength: Int
    /// For steps the scheduler gave up on: what to say instead of an exchange.
    var note: String?

    init(step: String?, run: StepRun) {
        self.step = step
        var kept = run
        bodyLength = run.response?.body.count ?? 0
        // Only what the preview shows is kept: a thousand checks × five traces must stay small.
        if let body = run.response?.body, body.count > StepTrace.bodyPreviewBytes {
            kept.response?.body = Array(body.prefix(StepTrace.bodyPreviewBytes))
        }
        self.run = kept
    }

    init(step: String?, note: String) {
        self.step = step
        run = StepRun(response: nil, durationSeconds: 0)
        bodyLength = 0
        self.note = note
    }

    func trace(_ redactor: TraceRedactor) -> StepTrace {
        if let note { return StepTrace(step: step, note: note) }
        return StepTrace(step: step, run: run, redactor: redactor, bodyLength: bodyLength)
    }
}

/// One run of a check or scenario.
struct RunTrace: Sendable {
    var started: Date
    var success: Bool
    var durationSeconds: Double
    /// `status: got 503, expected 2xx` (with the step for scenarios); already redacted.
    var failure: String?
    var steps: [RecordedStep]
    /// Values extracted during the run (tokens): redacted wherever they appear.
    var extracted: [String] = []
    /// Successful runs this one stands for (it is the latest of them).
    var successfulRuns = 1

    func render(into lines: inout [String], redactor: Redactor) {
        let traceRedactor = TraceRedactor(redactor, extracted: extracted)
        let result = success ? "SUCCESS" : "FAILURE"
        let repeats = successfulRuns > 1 ? "  (latest of \(successfulRuns) successful runs in a row)" : ""
        lines.append("=== \(started.formatted(.iso8601))  \(result)  \(StepTrace.format(durationSeconds))\(repeats)")
        if let failure { lines.append("  \(failure)") }
        for step in steps { step.trace(traceRedactor).render(into: &lines) }
        lines.append("")
    }
}

/// The last few runs, newest last. Successful runs in a row are kept as one (the latest),
/// so a healthy check holds a single trace and the ring keeps the failures around it.
struct TraceRing: Sendable {
    static let capacity = 5
    private(set) var runs: [RunTrace] = []

    mutating func append(_ run: RunTrace) {
        if run.success, let last = runs.last, last.success {
            var merged = run
            merged.successfulRuns = last.successfulRuns + 1
            runs[runs.count - 1] = merged
            return
        }
        runs.append(run)
        if runs.count > Self.capacity { runs.removeFirst(runs.count - Self.capacity) }
    }

    func report(title: String, redactor: Redactor) -> String {
        var lines = [title, "last \(runs.count) run(s), newest first; secrets and tokens are redacted", ""]
        for run in runs.reversed() { run.render(into: &lines, redactor: redactor) }
        if runs.isEmpty { lines.append("(no runs yet)") }
        return lines.joined(separator: "\n")
    }
}
