import Exposition
public import Logging
import Synchronization

extension Sampler {
    /// What to publish when a run overruns its budget and the scheduler gives up waiting:
    /// no series (nothing stale presented as current) and a failed outcome per collector.
    public func timedOutResult(after seconds: Double) -> SampleResult {
        SampleResult(families: [], outcomes: collectorNames.map {
            CollectorOutcome(collector: $0, success: false, durationSeconds: seconds,
                             error: "timed out after \(Renderer.formatNumber(seconds))s")
        })
    }
}

/// Runs each sampler on its own interval (with a little jitter so a fleet of checks does not
/// fire in lock step), never two runs of one sampler at once, each bounded by its timeout.
/// `replace(with:)` swaps the set of samplers on reload: unchanged samplers keep running
/// (and keep their state), removed ones are stopped and shut down.
public final class SamplerScheduler: Sendable {
    /// Extra time after a sampler's own timeout before the scheduler publishes a timeout
    /// outcome. Samplers bound their work with C-level timeouts; this is the backstop.
    public static let timeoutGrace: Duration = .seconds(1)

    private let store: SnapshotStore
    private let logger: Logger
    private let commands: AsyncStream<[any Sampler]>
    private let continuation: AsyncStream<[any Sampler]>.Continuation

    public init(store: SnapshotStore, logger: Logger) {
        self.store = store
        self.logger = logger
        (commands, continuation) = AsyncStream.makeStream(of: [any Sampler].self, bufferingPolicy: .unbounded)
    }

    /// Installs a new set of samplers. Samplers whose `id` is already running are kept as
    /// they are: the caller passes the running instance for entries that did not change.
    public func replace(with samplers: [any Sampler]) {
        store.setExpected(samplers.map { ($0.id, $0.interval, $0.collectorNames) })
        continuation.yield(samplers)
    }

    /// Stops accepting new sampler sets; `run()` then stops every sampler and returns.
    public func finish() {
        continuation.finish()
    }

    /// Runs until cancelled (or `finish()`), then shuts every sampler down.
    public func run() async {
        let running = Mutex<[String: RunningSampler]>([:])
        await withDiscardingTaskGroup { group in
            for await samplers in commands {
                let wanted = Dictionary(samplers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
                let (toStart, toStop) = running.withLock { running -> ([any Sampler], [RunningSampler]) in
                    var stop: [RunningSampler] = []
                    for (id, entry) in running where wanted[id] == nil || !entry.isSameInstance(as: wanted[id]!) {
                        stop.append(entry)
                        running[id] = nil
                    }
                    var start: [any Sampler] = []
                    for sampler in samplers where running[sampler.id] == nil {
                        let entry = RunningSampler(sampler: sampler)
                        running[sampler.id] = entry
                        start.append(sampler)
                    }
                    return (start, stop)
                }
                for entry in toStop { entry.stop.signal() }
                for sampler in toStart {
                    let stop = running.withLock { $0[sampler.id]!.stop }
                    group.addTask { [store, logger] in
                        await Self.loop(sampler, stop: stop, store: store, logger: logger)
                    }
                }
                if Task.isCancelled { break }
            }
            running.withLock { running in
                for entry in running.values { entry.stop.signal() }
                running.removeAll()
            }
        }
    }

    private struct RunningSampler: Sendable {
        let sampler: any Sampler
        let stop = StopSignal()
        func isSameInstance(as other: any Sampler) -> Bool {
            (sampler as AnyObject) === (other as AnyObject)
        }
    }

    static func loop(_ sampler: any Sampler, stop: StopSignal, store: SnapshotStore, logger: Logger) async {
        let clock = ContinuousClock()
        // First run soon, spread over up to 2 s (or the interval, if shorter).
        let spread = min(sampler.interval, .seconds(2))
        var next = clock.now + spread * Double.random(in: 0..<1)
        var lastSucceeded: [String: Bool] = [:]
        while !Task.isCancelled {
            if await stop.sleep(until: next) { break }
            let startedWall = store.clock.now()
            let started = clock.now
            let result = await runBounded(sampler)
            let elapsed = clock.now - started
            store.publish(SamplerSnapshot(samplerID: sampler.id, interval: sampler.interval,
                                          startedAt: startedWall, finishedAt: startedWall + elapsed.inSeconds, result: result))
            for outcome in result.outcomes {
                let previously = lastSucceeded[outcome.collector]
                lastSucceeded[outcome.collector] = outcome.success
                if !outcome.success {
                    let level: Logger.Level = previously == false || sampler.logsOwnFailures ? .debug : .warning
                    logger.log(level: level, "collector failed", metadata: [
                        "collector": .string(outcome.collector), "error": .string(outcome.error ?? "unknown"),
                        "duration_seconds": .string(Renderer.formatNumber(outcome.durationSeconds)),
                    ])
                } else if previously == false {
                    logger.info("collector recovered", metadata: ["collector": .string(outcome.collector)])
                }
            }
            // Fixed cadence with ±2.5 % jitter; runs missed while a slow run overran are skipped.
            let jitter = sampler.interval * Double.random(in: -0.025...0.025)
            next = next + sampler.interval + jitter
            if next < clock.now { next = clock.now + sampler.interval + jitter }
        }
        await sampler.shutdown()
    }

    /// Runs the sampler once; if it overruns timeout + grace, the timeout result is returned
    /// and the run is cancelled (the task group still waits for it to end, so a sampler is
    /// never run twice at once).
    static func runBounded(_ sampler: any Sampler) async -> SampleResult {
        let budget = sampler.timeout + timeoutGrace
        return await withTaskGroup(of: SampleResult?.self) { group in
            group.addTask { await sampler.sample() }
            group.addTask {
                try? await Task.sleep(for: budget)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            if let first { return first }
            return sampler.timedOutResult(after: budget.inSeconds)
        }
    }
}

/// A one-shot signal that interrupts a sampler's sleep so removal takes effect at once.
/// Each signal has at most one sleeper at a time (its sampler's loop).
final class StopSignal: Sendable {
    private struct State {
        var stopped = false
        var waiter: CheckedContinuation<Void, Never>?
        /// Set when the current sleep's waiter was cancelled before it parked.
        var wakeRequested = false
    }

    private let state = Mutex(State())

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.stopped = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    var isStopped: Bool { state.withLock { $0.stopped } }

    /// Sleeps until `deadline`; returns true when stopped (or cancelled) first.
    func sleep(until deadline: ContinuousClock.Instant) async -> Bool {
        let alreadyStopped = state.withLock { state -> Bool in
            state.wakeRequested = false
            return state.stopped
        }
        if alreadyStopped || Task.isCancelled { return true }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await Task.sleep(until: deadline, clock: .continuous)
                    return false
                } catch {
                    return true
                }
            }
            group.addTask { [self] in
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let resumeNow = state.withLock { state -> Bool in
                            if state.stopped || state.wakeRequested { return true }
                            state.waiter = continuation
                            return false
                        }
                        if resumeNow { continuation.resume() }
                    }
                } onCancel: {
                    let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                        state.wakeRequested = true
                        defer { state.waiter = nil }
                        return state.waiter
                    }
                    waiter?.resume()
                }
                return isStopped
            }
            let first = await group.next() ?? true
            group.cancelAll()
            return first
        }
    }
}
