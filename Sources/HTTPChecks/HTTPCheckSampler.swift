import ExporterConfig
import Exposition
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import HTTPProbe
import Sampling
import Synchronization

/// Runs one HTTP check (`checks:` entry) on the shared engine. Keeps the accumulating
/// counters and the last few traces between runs.
public final class HTTPCheckSampler: Sampler {
    public let id: String
    public let interval: Duration
    public let timeout: Duration
    public let config: CheckConfig
    private let engine: HTTPProbeEngine
    private let runner: StepRunner
    private let redactor: Redactor
    private let labels: [Label]
    private let state = Mutex(State())

    private struct State {
        var accumulator = ProbeAccumulator()
        var last: LastProbeResult?
        var runs = RunBookkeeping()
    }

    /// `redactor` holds the config's secrets (`Configuration.redactor`); they never appear
    /// in traces or error messages.
    public init(config: CheckConfig, engine: HTTPProbeEngine, redactor: Redactor = Redactor()) {
        self.config = config
        self.engine = engine
        self.redactor = redactor
        id = "check/\(config.name)"
        interval = config.interval
        timeout = config.timeout
        runner = StepRunner(request: config.request, client: config.client, expectations: CompiledExpectations(config.expect))
        labels = [Label("check", config.name)] + config.labels.map { Label($0.name, $0.value) }
    }

    public func sample() async -> SampleResult {
        let runNumber = state.withLock { $0.runs.start() }
        let startedAt = Date()
        let run = await runner.run(engine: engine, variables: [:], timeout: timeout)
        // Redaction (regexes over text) only runs for failures; traces redact when read.
        let failureText = run.failure.map { "\($0.reason.rawValue): \(TraceRedactor(redactor).text($0.message))" }
        return state.withLock { state in
            if run.response?.error?.kind == .cancelled || !state.runs.finish(runNumber) {
                // Cancelled on shutdown, or the scheduler gave up on this run (and recorded
                // it): nothing to add.
                return result(state)
            }
            state.accumulator.record(success: run.succeeded, reason: run.failure?.reason, durationSeconds: run.durationSeconds)
            state.last = LastProbeResult(run: run)
            state.runs.record(CollectorOutcome(collector: id, success: run.succeeded, durationSeconds: run.durationSeconds,
                                               error: failureText.map { "check \(config.name): \($0)" }),
                              trace: RunTrace(started: startedAt, success: run.succeeded, durationSeconds: run.durationSeconds,
                                              failure: failureText, steps: [RecordedStep(step: nil, run: run)]))
            return result(state)
        }
    }

    /// Called by the scheduler when a run overran its timeout plus grace: the run counts as
    /// a timeout failure and `probe_success` drops to 0.
    public func timedOutResult(after seconds: Double) -> SampleResult {
        state.withLock { state in
            guard state.runs.timeOut() else { return result(state) }
            state.accumulator.record(success: false, reason: .timeout, durationSeconds: seconds)
            state.last = LastProbeResult(timedOutAfter: seconds)
            let message = "check \(config.name): timeout: no result within \(Renderer.formatNumber(seconds))s"
            state.runs.record(CollectorOutcome(collector: id, success: false, durationSeconds: seconds, error: message),
                              trace: RunTrace(started: Date(timeIntervalSinceNow: -seconds), success: false, durationSeconds: seconds,
                                              failure: "timeout: stopped by the scheduler after \(Renderer.formatNumber(seconds))s",
                                              steps: [RecordedStep(step: nil, note: "timeout: the run did not finish in time")]))
            return result(state)
        }
    }

    private func result(_ state: State) -> SampleResult {
        let families = ProbeFamilies.build([ProbeSeries(labels: labels, last: state.last, accumulator: state.accumulator)])
        return SampleResult(families: families, outcomes: [state.runs.outcome(collector: id, subject: "check \(config.name)")])
    }

    /// The last few runs in full (request, redacted headers, status, timings, first bytes of
    /// the body, the failed expectation), newest first, as plain text.
    public func traceReport() -> String {
        state.withLock { $0.runs.traces.report(title: "check \(config.name): \(config.request.method) \(redactor.redact(config.request.url))", redactor: redactor) }
    }
}
