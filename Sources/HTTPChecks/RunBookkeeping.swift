import Sampling

/// The run bookkeeping a check and a scenario share: which run is current, so a run the
/// scheduler already gave up on (and recorded as a timeout) adds nothing when it returns
/// late and a timeout is recorded at most once per run; the last outcome; the last few
/// traces. Kept inside each sampler's mutex.
struct RunBookkeeping: Sendable {
    private var startedRun: UInt64 = 0
    private var finishedRun: UInt64 = 0
    private(set) var lastOutcome: CollectorOutcome?
    private(set) var traces = TraceRing()

    /// A run starts: its number, to hand back to `finish`.
    mutating func start() -> UInt64 {
        startedRun += 1
        return startedRun
    }

    /// Whether the run numbered `run` may record its result: false when the scheduler has
    /// already recorded it as timed out (or a later run finished first).
    mutating func finish(_ run: UInt64) -> Bool {
        guard finishedRun < run else { return false }
        finishedRun = run
        return true
    }

    /// Whether the scheduler may record the run in progress as timed out: false when that
    /// run has already finished.
    mutating func timeOut() -> Bool {
        guard finishedRun < startedRun else { return false }
        finishedRun = startedRun
        return true
    }

    /// What a finished (or timed-out) run leaves: its outcome and its trace.
    mutating func record(_ outcome: CollectorOutcome, trace: RunTrace) {
        lastOutcome = outcome
        traces.append(trace)
    }

    /// The last outcome, or a failure for a sampler cancelled before its first result;
    /// `subject` names it in messages (`check NAME`, `scenario NAME`).
    func outcome(collector: String, subject: String) -> CollectorOutcome {
        lastOutcome ?? CollectorOutcome(collector: collector, success: false, durationSeconds: 0,
                                        error: "\(subject): cancelled before the first result")
    }
}
