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
    ///
    /// One dispatcher keeps every sampler's next run time in a timetable and starts a task
    /// for a run only when it is due. An idle sampler costs an entry in that table, not a
    /// suspended task with a sleep of its own: each such task kept about 8 KiB (task
    /// objects, their first allocator slabs, a task group, a timer), which was most of what
    /// a thousand idle HTTP checks held.
    public func run() async {
        let timetable = Timetable()
        await withDiscardingTaskGroup { group in
            group.addTask { [commands] in
                for await samplers in commands { timetable.offer(samplers) }
                timetable.close()
            }
            let clock = ContinuousClock()
            while true {
                let step = timetable.take(now: clock.now)
                for sampler in step.retired {
                    group.addTask { await sampler.shutdown() }
                }
                for slot in step.due {
                    group.addTask { [store, logger] in
                        await Self.runOnce(slot, timetable: timetable, store: store, logger: logger)
                    }
                }
                if step.closed || Task.isCancelled { break }
                await timetable.sleep(until: step.wakeAt)
            }
            // Idle samplers are shut down now; running ones when their run ends.
            for sampler in timetable.retireAll() {
                group.addTask { await sampler.shutdown() }
            }
        }
    }

    /// One run of `slot`'s sampler: publish, log a change of outcome, then schedule the next
    /// run (or shut the sampler down if it was retired meanwhile).
    private static func runOnce(_ slot: Timetable.Slot, timetable: Timetable, store: SnapshotStore, logger: Logger) async {
        let sampler = slot.sampler
        let clock = ContinuousClock()
        let startedWall = store.clock.now()
        let started = clock.now
        let result = await runBounded(sampler)
        let elapsed = clock.now - started
        store.publish(SamplerSnapshot(samplerID: sampler.id, interval: sampler.interval,
                                      startedAt: startedWall, finishedAt: startedWall + elapsed.inSeconds, result: result))
        logOutcomes(result.outcomes, of: slot, logger: logger)
        if timetable.finishRun(slot, now: clock.now) {
            await sampler.shutdown()
        }
    }

    /// A failure is logged once as a warning when it starts (at debug level while it lasts,
    /// or always for samplers that log their own failures), a recovery once.
    private static func logOutcomes(_ outcomes: [CollectorOutcome], of slot: Timetable.Slot, logger: Logger) {
        for outcome in outcomes {
            let previously = slot.lastSucceeded[outcome.collector]
            slot.lastSucceeded[outcome.collector] = outcome.success
            if !outcome.success {
                let level: Logger.Level = previously == false || slot.sampler.logsOwnFailures ? .debug : .warning
                logger.log(level: level, "collector failed", metadata: [
                    "collector": .string(outcome.collector), "error": .string(outcome.error ?? "unknown"),
                    "duration_seconds": .string(Renderer.formatNumber(outcome.durationSeconds)),
                ])
            } else if previously == false {
                logger.info("collector recovered", metadata: ["collector": .string(outcome.collector)])
            }
        }
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

/// Every sampler's next run, kept for the one dispatcher of `SamplerScheduler.run()`, which
/// takes what is due and sleeps until the next run time or until the table changes (a new
/// sampler set, a run that ended and is due before that time, `finish()`).
final class Timetable: Sendable {
    /// One sampler's place in the table. `due`, `running` and `retired` are only touched with
    /// the table's lock held. `lastSucceeded` is only touched by the sampler's own runs, and
    /// those never overlap: the next run is taken from the table only after the previous
    /// one put the slot back, under the same lock, which orders them. Hence `@unchecked`.
    final class Slot: @unchecked Sendable {
        let sampler: any Sampler
        var due: ContinuousClock.Instant
        var running = false
        var retired = false
        /// Until the first run ends; the second run's time spreads the fleet (`finishRun`).
        var firstRun = true
        /// Each collector's last outcome, so a lasting failure is logged once.
        var lastSucceeded: [String: Bool] = [:]

        init(sampler: any Sampler, due: ContinuousClock.Instant) {
            self.sampler = sampler
            self.due = due
        }
    }

    /// What the dispatcher does next: start the due runs, shut the retired samplers down,
    /// then sleep until `wakeAt` (nil: until the table changes), or stop when `closed`.
    struct Step {
        var due: [Slot] = []
        var retired: [any Sampler] = []
        var wakeAt: ContinuousClock.Instant?
        var closed = false
    }

    private struct State {
        var slots: [String: Slot] = [:]
        /// Idle slots by due time. A slot is in it exactly while it is neither running nor retired.
        var queue = DueQueue()
        /// The latest sampler set not yet applied.
        var offered: [any Sampler]?
        var closed = false
        /// Set by every change; a dispatcher about to sleep then returns at once.
        var rung = false
        /// When the dispatcher will wake by itself (nil: only when rung).
        var wakeAt: ContinuousClock.Instant?
        var waiter: CheckedContinuation<Void, Never>?

        mutating func ring() -> CheckedContinuation<Void, Never>? {
            rung = true
            defer { waiter = nil }
            return waiter
        }
    }

    private let state = Mutex(State())

    /// How early a run may start to share a wakeup with the runs due just before it; never
    /// more than a twentieth of the sampler's interval. The cadence is kept: the next run is
    /// timed from the due time, not from the early start.
    static let batchWindow: Duration = .milliseconds(50)

    /// A new sampler set (`SamplerScheduler.replace`): applied by the dispatcher's next `take`.
    func offer(_ samplers: [any Sampler]) {
        state.withLock { state in
            state.offered = samplers
            return state.ring()
        }?.resume()
    }

    /// No more sampler sets: the dispatcher stops.
    func close() {
        state.withLock { state in
            state.closed = true
            return state.ring()
        }?.resume()
    }

    /// Applies an offered sampler set, then hands out the runs due at `now`.
    func take(now: ContinuousClock.Instant) -> Step {
        state.withLock { state in
            state.rung = false
            var step = Step()
            if let offered = state.offered {
                state.offered = nil
                step.retired = Self.apply(offered, to: &state, now: now)
            }
            step.closed = state.closed
            // Runs due within the next few milliseconds start now, together: with runs spread
            // over the interval, a thousand checks would otherwise wake the dispatcher (and
            // the probe engine) once per run.
            while !step.closed, let first = state.queue.first,
                  first.due <= now + min(Self.batchWindow, first.sampler.interval / 20) {
                state.queue.removeFirst()
                first.running = true
                step.due.append(first)
            }
            step.wakeAt = state.queue.first?.due
            state.wakeAt = step.wakeAt
            return step
        }
    }

    /// Samplers whose `id` is already in the table keep their slot when they are the same
    /// instance (the caller passes the running instance for unchanged entries). Returns the
    /// idle samplers retired; running ones are shut down when their run ends.
    private static func apply(_ samplers: [any Sampler], to state: inout State, now: ContinuousClock.Instant) -> [any Sampler] {
        let wanted = Dictionary(samplers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var retired: [any Sampler] = []
        for (id, slot) in state.slots {
            if let sampler = wanted[id], (sampler as AnyObject) === (slot.sampler as AnyObject) { continue }
            state.slots[id] = nil
            slot.retired = true
            if !slot.running { retired.append(slot.sampler) }
        }
        if !retired.isEmpty { state.queue.removeAll { $0.retired } }
        for sampler in wanted.values where state.slots[sampler.id] == nil {
            // First run soon, spread over up to 2 s (or the interval, if shorter), so a fleet
            // of checks does not fire in lock step.
            let spread = min(sampler.interval, .seconds(2))
            let slot = Slot(sampler: sampler, due: now + spread * Double.random(in: 0..<1))
            state.slots[sampler.id] = slot
            state.queue.insert(slot)
        }
        return retired
    }

    /// A run of `slot` ended: schedules the next one and returns false, or returns true when
    /// the sampler was retired meanwhile and must be shut down.
    func finishRun(_ slot: Slot, now: ContinuousClock.Instant) -> Bool {
        let (shutDown, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            slot.running = false
            if slot.retired { return (true, nil) }
            let interval = slot.sampler.interval
            var next: ContinuousClock.Instant
            if slot.firstRun {
                // Every sampler ran once within seconds of startup (readiness waits for that);
                // the second run is placed anywhere from half an interval to one and a half
                // after it, so the runs then spread over the whole interval instead of a fleet
                // of checks firing in the same two seconds every time: fewer transfers in
                // flight at once (each holds libcurl's buffers and a task) and an even load
                // on the targets, as Prometheus spreads its scrapes.
                slot.firstRun = false
                next = slot.due + interval * Double.random(in: 0.5..<1.5)
            } else {
                // Fixed cadence with ±2.5 % jitter.
                next = slot.due + interval + interval * Double.random(in: -0.025...0.025)
            }
            // Runs missed while a slow run overran are skipped.
            if next < now { next = now + interval * Double.random(in: 0.975...1.025) }
            slot.due = next
            state.queue.insert(slot)
            let wakesLater = state.wakeAt.map { next < $0 } ?? true
            return (false, wakesLater ? state.ring() : nil)
        }
        waiter?.resume()
        return shutDown
    }

    /// Stops the table: every sampler is retired; returns the idle ones (to shut down now).
    func retireAll() -> [any Sampler] {
        state.withLock { state in
            state.closed = true
            var idle: [any Sampler] = []
            for slot in state.slots.values {
                slot.retired = true
                if !slot.running { idle.append(slot.sampler) }
            }
            state.slots = [:]
            state.queue = DueQueue()
            return idle
        }
    }

    /// Sleeps until `deadline` (nil: indefinitely), a change of the table, or cancellation.
    func sleep(until deadline: ContinuousClock.Instant?) async {
        await withTaskGroup(of: Void.self) { group in
            if let deadline {
                group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
            }
            group.addTask { await self.waitForChange() }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForChange() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if state.rung { return true }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            // Also when cancelled before parking: `rung` makes the park return at once.
            state.withLock { state in state.ring() }?.resume()
        }
    }
}

/// A binary min-heap of slots by due time.
struct DueQueue {
    private var heap: [Timetable.Slot] = []

    var first: Timetable.Slot? { heap.first }

    mutating func insert(_ slot: Timetable.Slot) {
        heap.append(slot)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].due < heap[parent].due else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func removeFirst() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        siftDown(from: 0)
    }

    mutating func removeAll(where shouldRemove: (Timetable.Slot) -> Bool) {
        heap.removeAll(where: shouldRemove)
        for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(from: index) }
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].due < heap[smallest].due { smallest = left }
            if right < heap.count, heap[right].due < heap[smallest].due { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
