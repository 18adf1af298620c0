import Exposition
import Logging
import Sampling
import Synchronization
import Testing
import TestSupport

/// A sampler whose runs take a chosen time and that records how many run at once.
final class RecordingSampler: Sampler {
    let id: String
    let interval: Duration
    let timeout: Duration
    let runDuration: Duration
    let ignoresCancellation: Bool
    private let state = Mutex<(running: Int, maxConcurrent: Int, runs: Int, shutdowns: Int)>((0, 0, 0, 0))

    init(id: String, interval: Duration, timeout: Duration, runDuration: Duration = .zero, ignoresCancellation: Bool = false) {
        self.id = id
        self.interval = interval
        self.timeout = timeout
        self.runDuration = runDuration
        self.ignoresCancellation = ignoresCancellation
    }

    var runs: Int { state.withLock { $0.runs } }
    var maxConcurrent: Int { state.withLock { $0.maxConcurrent } }
    var shutdowns: Int { state.withLock { $0.shutdowns } }

    func sample() async -> SampleResult {
        let run = state.withLock { state -> Int in
            state.running += 1
            state.maxConcurrent = max(state.maxConcurrent, state.running)
            state.runs += 1
            return state.runs
        }
        if runDuration > .zero {
            if ignoresCancellation {
                // Models a blocking call that only its own (C-level) timeout ends.
                let clock = ContinuousClock()
                let end = clock.now + runDuration
                while clock.now < end { try? await Task.sleep(for: .milliseconds(5)) }
            } else {
                try? await Task.sleep(for: runDuration)
            }
        }
        state.withLock { $0.running -= 1 }
        return SampleResult(
            families: [.gauge("test_run", "Run number.", [Series([Label("sampler", id)], Double(run))])],
            outcomes: [CollectorOutcome(collector: id, success: true, durationSeconds: runDuration.inSeconds)]
        )
    }

    func shutdown() async {
        state.withLock { $0.shutdowns += 1 }
    }
}

struct FixedClock: WallClock {
    let value: Double
    func now() -> Double { value }
}

/// Polls until `condition` holds or the deadline passes (bounded: never hangs a test run).
func eventually(within limit: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let end = clock.now + limit
    while clock.now < end {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

@Suite struct SchedulerTests {
    let logger = Logger(label: "test")

    @Test func runsEachSamplerRepeatedlyAndNeverOverlapping() async {
        let store = SnapshotStore()
        let scheduler = SamplerScheduler(store: store, logger: logger)
        // Runs take longer than the interval: the next run must wait for the previous one.
        let slow = RecordingSampler(id: "slow", interval: .milliseconds(50), timeout: .milliseconds(40), runDuration: .milliseconds(120))
        let fast = RecordingSampler(id: "fast", interval: .milliseconds(40), timeout: .milliseconds(30))
        scheduler.replace(with: [slow, fast])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await scheduler.run() }
            #expect(await eventually { slow.runs >= 3 && fast.runs >= 5 })
            scheduler.finish()
        }
        #expect(slow.maxConcurrent == 1)
        #expect(fast.maxConcurrent == 1)
        #expect(slow.shutdowns == 1 && fast.shutdowns == 1)
        #expect(store.isReady)
    }

    @Test func readyOnlyAfterEverySamplerRanOnce() async {
        let store = SnapshotStore()
        let scheduler = SamplerScheduler(store: store, logger: logger)
        let quick = RecordingSampler(id: "quick", interval: .milliseconds(20), timeout: .milliseconds(10))
        let late = RecordingSampler(id: "late", interval: .seconds(60), timeout: .seconds(5), runDuration: .milliseconds(400))
        scheduler.replace(with: [quick, late])
        #expect(!store.isReady)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await scheduler.run() }
            #expect(await eventually { quick.runs >= 1 })
            #expect(await eventually { store.isReady })
            #expect(late.runs >= 1)
            scheduler.finish()
        }
    }

    @Test func overrunningSamplerIsReportedAsTimedOutAndNotRunTwice() async {
        let store = SnapshotStore()
        let scheduler = SamplerScheduler(store: store, logger: logger)
        // Ignores cancellation and runs past timeout + grace (1 s): the scheduler must
        // publish a timeout without starting a second run alongside it.
        let stuck = RecordingSampler(id: "stuck", interval: .milliseconds(100), timeout: .milliseconds(100),
                                     runDuration: .milliseconds(1600), ignoresCancellation: true)
        scheduler.replace(with: [stuck])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await scheduler.run() }
            #expect(await eventually(within: .seconds(5)) { store.collectorStatuses.first?.lastSuccess == false })
            let status = store.collectorStatuses.first
            #expect(status?.lastError == "timed out after 1.1s")
            #expect(store.snapshots.first?.result.families.isEmpty == true)
            #expect(stuck.maxConcurrent == 1)
            scheduler.finish()
        }
        #expect(stuck.maxConcurrent == 1)
    }

    @Test func replaceKeepsUnchangedSamplersAndStopsRemovedOnes() async {
        let store = SnapshotStore()
        let scheduler = SamplerScheduler(store: store, logger: logger)
        let kept = RecordingSampler(id: "kept", interval: .milliseconds(30), timeout: .milliseconds(20))
        let removed = RecordingSampler(id: "removed", interval: .seconds(3600), timeout: .seconds(1))
        scheduler.replace(with: [kept, removed])
        let added = RecordingSampler(id: "added", interval: .milliseconds(30), timeout: .milliseconds(20))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await scheduler.run() }
            #expect(await eventually { removed.runs == 1 && kept.runs >= 1 })
            scheduler.replace(with: [kept, added])
            // The removed sampler sleeps for an hour; removal must interrupt that sleep.
            #expect(await eventually { removed.shutdowns == 1 })
            #expect(await eventually { added.runs >= 1 })
            let before = kept.runs
            #expect(await eventually { kept.runs > before + 2 })
            #expect(kept.shutdowns == 0)
            #expect(store.snapshots.map(\.samplerID).sorted() == ["added", "kept"])
            #expect(!store.renderedSamples(format: .prometheusText).contains("sampler=\"removed\""))
            scheduler.finish()
        }
        #expect(kept.shutdowns == 1 && added.shutdowns == 1)
    }

    @Test func cancellationStopsPromptly() async {
        let store = SnapshotStore()
        let scheduler = SamplerScheduler(store: store, logger: logger)
        let sampler = RecordingSampler(id: "s", interval: .seconds(3600), timeout: .seconds(10), runDuration: .seconds(10))
        scheduler.replace(with: [sampler])
        let clock = ContinuousClock()
        let started = clock.now
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await scheduler.run() }
            #expect(await eventually { sampler.runs == 1 })
            group.cancelAll()
        }
        #expect(clock.now - started < .seconds(5))
        #expect(sampler.shutdowns == 1)
    }
}

@Suite struct SnapshotStoreTests {
    @Test func collectorMetricsKeepLastSuccessAcrossFailures() {
        let store = SnapshotStore(clock: FixedClock(value: 1000))
        store.setExpected([(id: "check/a", interval: .seconds(15), collectors: ["check/a"])])
        store.publish(SamplerSnapshot(samplerID: "check/a", interval: .seconds(15), startedAt: 100, finishedAt: 100.5,
                                      result: SampleResult(families: [], outcomes: [CollectorOutcome(collector: "check/a", success: true, durationSeconds: 0.5)])))
        store.publish(SamplerSnapshot(samplerID: "check/a", interval: .seconds(15), startedAt: 115, finishedAt: 115.25,
                                      result: SampleResult(families: [], outcomes: [CollectorOutcome(collector: "check/a", success: false, durationSeconds: 0.25, error: "boom")])))
        let text = store.renderedSamples(format: .prometheusText)
        #expect(text.contains("mitra_exporter_collector_success{collector=\"check/a\"} 0\n"))
        #expect(text.contains("mitra_exporter_collector_last_success_timestamp_seconds{collector=\"check/a\"} 100.5\n"))
        #expect(text.contains("mitra_exporter_collector_duration_seconds{collector=\"check/a\"} 0.25\n"))
        #expect(text.contains("mitra_exporter_collector_runs_total{collector=\"check/a\"} 2\n"))
        #expect(text.contains("mitra_exporter_collector_failures_total{collector=\"check/a\"} 1\n"))
        #expect(text.contains("mitra_exporter_collector_interval_seconds{collector=\"check/a\"} 15\n"))
    }

    @Test func renderIsTheSameUntilNextPublish() {
        let store = SnapshotStore(clock: FixedClock(value: 1))
        store.setExpected([(id: "s", interval: .seconds(1), collectors: ["s"])])
        let first = store.renderedSamples(format: .prometheusText)
        #expect(store.renderedSamples(format: .prometheusText) == first)
        store.publish(SamplerSnapshot(samplerID: "s", interval: .seconds(1), startedAt: 1, finishedAt: 1,
                                      result: SampleResult(families: [.gauge("x", "y", [Series([], 42)])],
                                                           outcomes: [CollectorOutcome(collector: "s", success: true, durationSeconds: 0)])))
        #expect(store.renderedSamples(format: .prometheusText).contains("x 42\n"))
        // Alternating formats serve each its own headers over the same lines.
        #expect(store.renderedSamples(format: .openMetrics).contains("x 42\n"))
        #expect(store.renderedSamples(format: .prometheusText).contains("# HELP x y\n# TYPE x gauge\nx 42\n"))
        // Only the rendered lines are kept once published.
        #expect(store.snapshots.first?.result.families.isEmpty == true)
    }

    @Test func publishFromARemovedSamplerIsIgnored() {
        let store = SnapshotStore()
        store.setExpected([])
        store.publish(SamplerSnapshot(samplerID: "gone", interval: .seconds(1), startedAt: 1, finishedAt: 1,
                                      result: SampleResult(families: [.gauge("x", "y", [Series([], 1)])], outcomes: [])))
        #expect(store.snapshots.isEmpty)
        #expect(store.isReady)
    }
}

/// A sampler whose one collector always fails.
final class FailingSampler: Sampler {
    let id: String
    let logsOwnFailures: Bool
    let runs = Mutex(0)

    init(id: String, logsOwnFailures: Bool) {
        self.id = id
        self.logsOwnFailures = logsOwnFailures
    }

    var interval: Duration { .milliseconds(20) }
    var timeout: Duration { .milliseconds(15) }

    func sample() async -> SampleResult {
        runs.withLock { $0 += 1 }
        return SampleResult(families: [], outcomes: [CollectorOutcome(collector: id, success: false, durationSeconds: 0, error: "broken")])
    }

    func timedOutResult(after seconds: Double) -> SampleResult { SampleResult(families: [], outcomes: []) }
}

@Suite struct SchedulerFailureLogTests {
    /// A failing collector is one warning, not one per run; a sampler that logs its own
    /// failures (PostgreSQL) is not logged a second time by the scheduler.
    @Test func failureIsOneWarningFromOnePlace() async throws {
        let recorder = LogRecorder()
        let scheduler = SamplerScheduler(store: SnapshotStore(), logger: recorder.logger)
        let plain = FailingSampler(id: "plain", logsOwnFailures: false)
        let selfLogging = FailingSampler(id: "self-logging", logsOwnFailures: true)
        scheduler.replace(with: [plain, selfLogging])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await scheduler.run() }
            #expect(await eventually { plain.runs.withLock { $0 } >= 4 && selfLogging.runs.withLock { $0 } >= 4 })
            scheduler.finish()
        }
        let warnedCollectors = recorder.events.filter { $0.level == .warning }.map { "\($0.metadata["collector"] ?? "")" }
        #expect(warnedCollectors == ["plain"])
    }
}
