import Exposition
import HTTPProbe

/// Buckets of `mitra_probe_duration_seconds` and `mitra_scenario_duration_seconds`; they
/// include the Agent Mitra latency targets (0.25, 0.5, 1, 2, 3 s).
public let probeDurationBuckets: [Double] = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10]

/// The last result of one probe (a check, or one scenario step), blackbox_exporter style.
struct LastProbeResult: Sendable {
    var success: Bool
    var durationSeconds: Double
    var status: Int
    var timings: PhaseTimings
    var contentLength: Int64
    var redirects: Int
    var ssl: Bool
    var tls: TLSInfo?
    var failedDueToRegex: Bool

    init(run: StepRun) {
        let response = run.response ?? ProbeResponse()
        success = run.succeeded
        durationSeconds = run.durationSeconds
        status = response.status
        timings = response.timings
        contentLength = response.status > 0 ? response.contentLength : 0
        redirects = response.redirects
        let finalURL = response.effectiveURL.isEmpty ? (run.request?.url ?? "") : response.effectiveURL
        ssl = finalURL.lowercased().hasPrefix("https:") && response.status > 0
        tls = response.tls
        failedDueToRegex = run.failure?.dueToRegex ?? false
    }

    /// A run the scheduler's backstop gave up on.
    init(timedOutAfter seconds: Double) {
        success = false
        durationSeconds = seconds
        status = 0
        timings = PhaseTimings()
        contentLength = 0
        redirects = 0
        ssl = false
        tls = nil
        failedDueToRegex = false
    }
}

/// Counters and a histogram that accumulate over every run, for SLOs and percentiles.
struct ProbeAccumulator: Sendable {
    var successes: UInt64 = 0
    var failures: UInt64 = 0
    var failuresByReason: [FailureReason: UInt64] = [:]
    var duration = HistogramValue(upperBounds: probeDurationBuckets)

    mutating func record(success: Bool, reason: FailureReason?, durationSeconds: Double) {
        if success {
            successes += 1
        } else {
            failures += 1
            if let reason { failuresByReason[reason, default: 0] += 1 }
        }
        duration.observe(durationSeconds)
    }
}

/// A probe's label sets, one per series it publishes. Built when a result is published and
/// dropped with its families once rendered, not kept per probe: the seventeen arrays (most
/// for zero-valued failure reasons) would cost each idle check about 2 KiB for the whole
/// interval, while building them takes microseconds once per run.
struct ProbeLabelSets: Sendable {
    let base: [Label]
    let phases: [[Label]]
    let success: [Label]
    let failure: [Label]
    let reasons: [[Label]]

    init(_ base: [Label]) {
        self.base = base
        phases = PhaseTimings.phaseNames.map { base + [Label("phase", $0)] }
        success = base + [Label("result", "success")]
        failure = base + [Label("result", "failure")]
        reasons = FailureReason.allCases.map { base + [Label("reason", $0.rawValue)] }
    }
}

/// One probe's series: its identifying labels, last result (nil when it did not run last
/// time) and accumulated counters.
struct ProbeSeries {
    var labels: ProbeLabelSets

    init(labels base: [Label], last: LastProbeResult?, accumulator: ProbeAccumulator) {
        labels = ProbeLabelSets(base)
        self.last = last
        self.accumulator = accumulator
    }

    var last: LastProbeResult?
    var accumulator: ProbeAccumulator
}

enum ProbeFamilies {
    static func build(_ probes: [ProbeSeries]) -> [MetricFamily] {
        var success: [Series] = [], duration: [Series] = [], status: [Series] = [], phases: [Series] = []
        var contentLength: [Series] = [], redirects: [Series] = [], ssl: [Series] = [], expiry: [Series] = []
        var tlsVersion: [Series] = [], regex: [Series] = []
        var runs: [Series] = [], failures: [Series] = [], histogram: [Series] = []
        for probe in probes {
            let labels = probe.labels.base
            if let last = probe.last {
                success.append(Series(labels, last.success ? 1 : 0))
                duration.append(Series(labels, last.durationSeconds))
                status.append(Series(labels, Double(last.status)))
                for (index, phase) in last.timings.phases.enumerated() {
                    phases.append(Series(probe.labels.phases[index], phase.seconds))
                }
                contentLength.append(Series(labels, Double(last.contentLength)))
                redirects.append(Series(labels, Double(last.redirects)))
                ssl.append(Series(labels, last.ssl ? 1 : 0))
                if let tls = last.tls {
                    if let certExpiry = tls.earliestCertExpiry { expiry.append(Series(labels, certExpiry)) }
                    tlsVersion.append(Series(labels + [Label("version", tls.version)], 1))
                }
                regex.append(Series(labels, last.failedDueToRegex ? 1 : 0))
            }
            let accumulator = probe.accumulator
            runs.append(Series(probe.labels.success, Double(accumulator.successes)))
            runs.append(Series(probe.labels.failure, Double(accumulator.failures)))
            for (index, reason) in FailureReason.allCases.enumerated() {
                failures.append(Series(probe.labels.reasons[index], Double(accumulator.failuresByReason[reason] ?? 0)))
            }
            histogram.append(Series(labels: labels, value: .histogram(accumulator.duration)))
        }
        var families: [MetricFamily] = [
            .gauge("probe_success", "Displays whether or not the probe was a success", success),
            .gauge("probe_duration_seconds", "Returns how long the probe took to complete in seconds", duration),
            .gauge("probe_http_status_code", "Response HTTP status code", status),
            .gauge("probe_http_duration_seconds", "Duration of http request by phase, summed over all redirects", phases),
            .gauge("probe_http_content_length", "Length of http content response", contentLength),
            .gauge("probe_http_redirects", "The number of redirects", redirects),
            .gauge("probe_http_ssl", "Indicates if SSL was used for the final redirect", ssl),
            .gauge("probe_ssl_earliest_cert_expiry", "Returns last SSL chain expiry in unixtime", expiry),
            .gauge("probe_tls_version_info", "Returns the TLS version used", tlsVersion),
            .gauge("probe_failed_due_to_regex", "Indicates if probe failed due to regex", regex),
            .counter("mitra_probe_runs_total", "Probe runs by result, since the exporter started", runs),
            .counter("mitra_probe_failures_total", "Failed probe runs by reason, since the exporter started", failures),
            MetricFamily(name: "mitra_probe_duration_seconds", help: "Probe duration in seconds, over every run since the exporter started",
                         type: .histogram, series: histogram),
        ]
        families.removeAll { $0.series.isEmpty }
        return families
    }
}
