public import Exposition

/// How one collector fared in a sampler run. A sampler may run several collectors (a
/// PostgreSQL instance runs `database`, `activity`, ...), each reported on its own so one
/// broken view does not hide the rest.
public struct CollectorOutcome: Sendable, Hashable {
    /// The `collector` label: `postgres/<instance>/<collector>`, `check/<name>`, `scenario/<name>`.
    public var collector: String
    public var success: Bool
    public var durationSeconds: Double
    /// Already redacted; shown on the status page and logged.
    public var error: String?

    public init(collector: String, success: Bool, durationSeconds: Double, error: String? = nil) {
        self.collector = collector
        self.success = success
        self.durationSeconds = durationSeconds
        self.error = error
    }
}

/// What one run of a sampler produced: the families to expose until the next run, and how
/// each of its collectors fared.
public struct SampleResult: Sendable {
    public var families: [MetricFamily]
    public var outcomes: [CollectorOutcome]

    public init(families: [MetricFamily], outcomes: [CollectorOutcome]) {
        self.families = families
        self.outcomes = outcomes
    }
}

/// A unit of background work run on its own schedule. The scheduler guarantees that runs of
/// one sampler never overlap, so implementations may keep state between runs (deltas,
/// counters) without further locking beyond what `Sendable` requires.
public protocol Sampler: Sendable {
    /// Unique among running samplers, stable across reloads for an unchanged entry.
    var id: String { get }
    var interval: Duration { get }
    /// The run's budget. The sampler should finish within it by itself (C-level timeouts);
    /// the scheduler publishes a timeout outcome when it does not.
    var timeout: Duration { get }
    /// The collectors this sampler reports, so the status page can list them before the first run.
    var collectorNames: [String] { get }

    func sample() async -> SampleResult
    /// Releases connections and other resources; called once when the sampler is retired.
    func shutdown() async
    /// What to publish when a run overruns its budget and the scheduler stops waiting
    /// (a default is provided: no series, a failed outcome per collector).
    func timedOutResult(after seconds: Double) -> SampleResult
    /// True when the sampler logs its collectors' failures itself (once, with more context):
    /// the scheduler then logs them at debug level only, so each failure is one warning.
    var logsOwnFailures: Bool { get }
}

extension Sampler {
    public var collectorNames: [String] { [id] }
    public var logsOwnFailures: Bool { false }
    public func shutdown() async {}
}

/// Samplers that keep a trace of their recent runs (HTTP checks and scenarios) for the
/// status page's per-check debug view. The text must already be redacted.
public protocol TraceReporting: Sendable {
    func traceReport() -> String
}
