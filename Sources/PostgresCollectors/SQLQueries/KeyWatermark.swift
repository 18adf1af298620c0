/// Decides which key range of an append-only table is safe to count, so that no committed
/// row is missed or counted twice even though keys are not committed in order (a
/// transaction that took key 100 may commit after key 101 is visible).
///
/// Each sample observes the largest visible key `L` and its snapshot's `xmax` (the first
/// transaction id not yet assigned). A row with key ≤ L got its key before that snapshot, so
/// its transaction had started by then; once every transaction older than the *next*
/// sample's `xmax` has ended (the current snapshot's `xmin` has passed it), all rows with
/// key ≤ L are either visible or never will be. The next sample's horizon, not the
/// observing sample's own, covers a writer that drew its key just before the snapshot but
/// received its transaction id just after (the two happen within one INSERT, far less than
/// a sampling interval apart).
///
/// A long-running writing transaction anywhere in the database therefore holds counting
/// back (counters pause, then catch up); after `maxSettleWait` the range is counted anyway.
struct KeyWatermark: Sendable {
    struct Observation: Sendable, Equatable {
        var maxKey: Int64
        var snapshotXmin: UInt64
        var snapshotXmax: UInt64
        var at: ContinuousClock.Instant
    }

    enum Decision: Equatable {
        /// First observation: counting starts after the current largest key.
        case started(at: Int64)
        /// Nothing new is settled yet.
        case wait
        /// Count keys in `(lower, upper]`, then call `advance(to: upper)`.
        case count(lower: Int64, upper: Int64, forced: Bool)
    }

    private(set) var watermark: Int64?
    private(set) var pending: [Observation] = []
    /// Set when the largest key fell below the watermark (truncated and restarted).
    private(set) var truncationDetected = false

    mutating func observe(_ observation: Observation, maxSettleWait: Duration) -> Decision {
        truncationDetected = false
        guard let watermark else {
            self.watermark = observation.maxKey
            pending = [observation]
            return .started(at: observation.maxKey)
        }
        if observation.maxKey < watermark {
            // Every visible row arrived after the truncation, which came after our last look.
            truncationDetected = true
            self.watermark = 0
            pending = []
        }
        pending.append(observation)
        let lower = self.watermark ?? 0
        var settledUpper: Int64?
        var forced = false
        for index in pending.indices.dropLast() {
            let entry = pending[index]
            let horizon = pending[index + 1].snapshotXmax
            if observation.snapshotXmin >= horizon {
                settledUpper = max(settledUpper ?? entry.maxKey, entry.maxKey)
            } else if observation.at - entry.at >= maxSettleWait {
                settledUpper = max(settledUpper ?? entry.maxKey, entry.maxKey)
                forced = true
            }
        }
        guard let upper = settledUpper, upper > lower else {
            if let upper = settledUpper { dropPending(upTo: upper) }
            return .wait
        }
        return .count(lower: lower, upper: upper, forced: forced)
    }

    /// Records that keys up to `upper` were counted.
    mutating func advance(to upper: Int64) {
        watermark = max(watermark ?? upper, upper)
        dropPending(upTo: upper)
    }

    private mutating func dropPending(upTo upper: Int64) {
        pending.removeAll { $0.maxKey <= upper }
    }
}

/// How many keys one incremental sample counts at most. Unbounded while counting keeps up;
/// after a failed count (typically the statement timeout, when a bulk load or a long pause
/// left millions of new keys) the next sample asks for half the keys it just failed on, and
/// so on, and the samples after a success keep that size until counting has caught up, when
/// the limit is lifted. Without it a counter that fell behind would ask for a larger range
/// every sample and never catch up.
struct CountRangeLimit: Sendable, Equatable {
    /// nil: no limit.
    private(set) var keys: Int64?
    /// The smallest limit: below it a failure is not about the range's size.
    static let minimumKeys: Int64 = 1_000

    /// The end of the range to count now, within `(lower, upper]`.
    func end(lower: Int64, upper: Int64) -> Int64 {
        guard let keys, upper - lower > keys else { return upper }
        return lower + keys
    }

    /// A range was counted; `caughtUp` when it reached every settled key.
    mutating func counted(caughtUp: Bool) {
        if caughtUp { keys = nil }
    }

    /// Counting `(lower, end]` failed: returns the limit for the next samples.
    mutating func failed(lower: Int64, end: Int64) -> Int64 {
        let limit = max(Self.minimumKeys, (end - lower) / 2)
        keys = limit
        return limit
    }
}
