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

/// Runs one multi-step scenario (`scenarios:` entry): steps in order, sharing variables; the
/// first failed step ends the run. The whole run is bounded by the scenario's timeout, each
/// step getting what is left of it.
public final class ScenarioSampler: Sampler {
    public let id: String
    public let interval: Duration
    public let timeout: Duration
    public let config: ScenarioConfig
    private let engine: HTTPProbeEngine
    private let runners: [StepRunner]
    private let redactor: Redactor
    private let labels: [Label]
    private let stepLabels: [[Label]]
    private let state: Mutex<State>

    private struct State {
        var steps: [StepState]
        var scenario = ProbeAccumulator()
        var lastSuccess: Bool?
        var runs = RunBookkeeping()
        /// The step the current run is in, for the scheduler's backstop.
        var currentStep = 0
    }

    private struct StepState {
        var last: LastProbeResult?
        var accumulator = ProbeAccumulator()
    }

    public init(config: ScenarioConfig, engine: HTTPProbeEngine, redactor: Redactor = Redactor()) {
        self.config = config
        self.engine = engine
        self.redactor = redactor
        id = "scenario/\(config.name)"
        interval = config.interval
        timeout = config.timeout
        runners = config.steps.map {
            StepRunner(request: $0.request, client: config.client, expectations: CompiledExpectations($0.expect, extract: $0.extract))
        }
        let userLabels = config.labels.map { Label($0.name, $0.value) }
        labels = [Label("scenario", config.name)] + userLabels
        stepLabels = config.steps.map { [Label("scenario", config.name), Label("step", $0.name)] + userLabels }
        state = Mutex(State(steps: Array(repeating: StepState(), count: config.steps.count)))
    }

    public func sample() async -> SampleResult {
        let runNumber = state.withLock { state -> UInt64 in
            state.currentStep = 0
            return state.runs.start()
        }
        let startedAt = Date()
        let clock = ContinuousClock()
        let started = clock.now
        let deadline = started + timeout
        var variables = Dictionary(config.variables.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
        var runs: [StepRun] = []
        var extractedValues: [String] = []
        for (index, runner) in runners.enumerated() {
            state.withLock { $0.currentStep = index }
            let remaining = deadline - clock.now
            let run: StepRun
            if remaining < .milliseconds(1) {
                run = StepRun(response: nil, durationSeconds: 0,
                              failure: ProbeFailure(reason: .timeout, message: "the scenario's \(DurationParser.format(timeout)) were spent before this step"))
            } else {
                run = await runner.run(engine: engine, variables: variables, timeout: remaining)
            }
            if run.response?.error?.kind == .cancelled {
                return state.withLock { result($0) }
            }
            runs.append(run)
            // Secret from the moment it is extracted, whatever happens to the step afterwards.
            extractedValues += run.extracted.map(\.1)
            if !run.succeeded { break }
            for (name, value) in run.extracted { variables[name] = value }
        }
        let duration = (clock.now - started).inSeconds
        let failedIndex = runs.firstIndex { !$0.succeeded }
        let success = failedIndex == nil
        var summary: String?
        if let failedIndex, let failure = runs[failedIndex].failure {
            let redacted = TraceRedactor(redactor, extracted: extractedValues).text(failure.message)
            summary = "step \(config.steps[failedIndex].name): \(failure.reason.rawValue): \(redacted)"
        }
        return state.withLock { state in
            guard state.runs.finish(runNumber) else { return result(state) }
            for index in state.steps.indices {
                if index < runs.count {
                    let run = runs[index]
                    state.steps[index].accumulator.record(success: run.succeeded, reason: run.failure?.reason, durationSeconds: run.durationSeconds)
                    state.steps[index].last = LastProbeResult(run: run)
                } else {
                    // Not reached this time: no last result rather than a stale one.
                    state.steps[index].last = nil
                }
            }
            state.scenario.record(success: success, reason: failedIndex.flatMap { runs[$0].failure?.reason }, durationSeconds: duration)
            state.lastSuccess = success
            let steps = runs.enumerated().map { RecordedStep(step: config.steps[$0.offset].name, run: $0.element) }
            state.runs.record(CollectorOutcome(collector: id, success: success, durationSeconds: duration,
                                               error: summary.map { "scenario \(config.name): \($0)" }),
                              trace: RunTrace(started: startedAt, success: success, durationSeconds: duration, failure: summary,
                                              steps: steps, extracted: extractedValues))
            return result(state)
        }
    }

    /// Called by the scheduler when a run overran its timeout plus grace: the step in
    /// progress and the scenario count a timeout failure.
    public func timedOutResult(after seconds: Double) -> SampleResult {
        state.withLock { state in
            guard state.runs.timeOut() else { return result(state) }
            let index = min(state.currentStep, max(state.steps.count - 1, 0))
            for other in state.steps.indices where other > index { state.steps[other].last = nil }
            if state.steps.indices.contains(index) {
                state.steps[index].accumulator.record(success: false, reason: .timeout, durationSeconds: seconds)
                state.steps[index].last = LastProbeResult(timedOutAfter: seconds)
            }
            state.scenario.record(success: false, reason: .timeout, durationSeconds: seconds)
            state.lastSuccess = false
            let stepName = config.steps.indices.contains(index) ? config.steps[index].name : "?"
            let summary = "step \(stepName): timeout: no result within \(Renderer.formatNumber(seconds))s"
            state.runs.record(CollectorOutcome(collector: id, success: false, durationSeconds: seconds, error: "scenario \(config.name): \(summary)"),
                              trace: RunTrace(started: Date(timeIntervalSinceNow: -seconds), success: false, durationSeconds: seconds,
                                              failure: summary, steps: [RecordedStep(step: stepName, note: "timeout: stopped by the scheduler")]))
            return result(state)
        }
    }

    private func result(_ state: State) -> SampleResult {
        var families = ProbeFamilies.build(state.steps.indices.map {
            ProbeSeries(labels: stepLabels[$0], last: state.steps[$0].last, accumulator: state.steps[$0].accumulator)
        })
        if let lastSuccess = state.lastSuccess {
            families.append(.gauge("mitra_scenario_success", "Whether the scenario's last run passed every step", [Series(labels, lastSuccess ? 1 : 0)]))
        }
        families.append(.counter("mitra_scenario_runs_total", "Scenario runs by result, since the exporter started", [
            Series(labels + [Label("result", "success")], Double(state.scenario.successes)),
            Series(labels + [Label("result", "failure")], Double(state.scenario.failures)),
        ]))
        families.append(MetricFamily(name: "mitra_scenario_duration_seconds", help: "Scenario duration in seconds, over every run since the exporter started",
                                     type: .histogram, series: [Series(labels: labels, value: .histogram(state.scenario.duration))]))
        return SampleResult(families: families, outcomes: [state.runs.outcome(collector: id, subject: "scenario \(config.name)")])
    }

    /// The last few runs, every step in full (redacted), newest first, as plain text.
    public func traceReport() -> String {
        state.withLock { $0.runs.traces.report(title: "scenario \(config.name): \(config.steps.count) step(s)", redactor: redactor) }
    }
}
