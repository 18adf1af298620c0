@testable import PostgresCollectors
import Testing

@Suite struct KeyWatermarkTests {
    let start = ContinuousClock.now

    func observation(_ maxKey: Int64, xmin: UInt64, xmax: UInt64, after seconds: Int = 0) -> KeyWatermark.Observation {
        .init(maxKey: maxKey, snapshotXmin: xmin, snapshotXmax: xmax, at: start + .seconds(seconds))
    }

    @Test func startsAtTheCurrentLargestKey() {
        var watermark = KeyWatermark()
        #expect(watermark.observe(observation(500, xmin: 10, xmax: 10), maxSettleWait: .seconds(60)) == .started(at: 500))
        #expect(watermark.watermark == 500)
    }

    @Test func idleDatabaseSettlesOneSampleLater() {
        var watermark = KeyWatermark()
        _ = watermark.observe(observation(0, xmin: 10, xmax: 10), maxSettleWait: .seconds(60))
        // Rows 1...5 arrived; nothing in flight now, so everything up to the previous sample's key is settled.
        #expect(watermark.observe(observation(5, xmin: 16, xmax: 16, after: 15), maxSettleWait: .seconds(60)) == .wait)
        #expect(watermark.observe(observation(5, xmin: 17, xmax: 17, after: 30), maxSettleWait: .seconds(60)) == .count(lower: 0, upper: 5, forced: false))
        watermark.advance(to: 5)
        #expect(watermark.watermark == 5)
        #expect(watermark.observe(observation(5, xmin: 17, xmax: 17, after: 45), maxSettleWait: .seconds(60)) == .wait)
    }

    /// A writer took key 6 in transaction 20 and has not committed; key 7 (transaction 21)
    /// is visible. Nothing past 5 may be counted until transaction 20 ends.
    @Test func openWriterHoldsTheWatermarkBack() {
        var watermark = KeyWatermark()
        _ = watermark.observe(observation(5, xmin: 20, xmax: 20), maxSettleWait: .seconds(600))
        #expect(watermark.observe(observation(7, xmin: 20, xmax: 22, after: 15), maxSettleWait: .seconds(600)) == .wait)
        #expect(watermark.observe(observation(9, xmin: 20, xmax: 25, after: 30), maxSettleWait: .seconds(600)) == .wait)
        // Transaction 20 committed: its key 6 is now visible, and every range observed is settled
        // up to the newest observation that has a successor.
        #expect(watermark.observe(observation(9, xmin: 25, xmax: 25, after: 45), maxSettleWait: .seconds(600)) == .count(lower: 5, upper: 9, forced: false))
        watermark.advance(to: 9)
        #expect(watermark.pending.isEmpty)
    }

    @Test func writerThatNeverEndsIsCountedAfterTheSettleWait() {
        var watermark = KeyWatermark()
        _ = watermark.observe(observation(5, xmin: 20, xmax: 20), maxSettleWait: .seconds(60))
        #expect(watermark.observe(observation(8, xmin: 20, xmax: 22, after: 30), maxSettleWait: .seconds(60)) == .wait)
        #expect(watermark.observe(observation(8, xmin: 20, xmax: 23, after: 61), maxSettleWait: .seconds(60)) == .wait)
        #expect(watermark.observe(observation(9, xmin: 20, xmax: 24, after: 95), maxSettleWait: .seconds(60)) == .count(lower: 5, upper: 8, forced: true))
    }

    @Test func truncationRestartsFromTheFirstRow() {
        var watermark = KeyWatermark()
        _ = watermark.observe(observation(1000, xmin: 5, xmax: 5), maxSettleWait: .seconds(60))
        #expect(watermark.observe(observation(3, xmin: 9, xmax: 9, after: 15), maxSettleWait: .seconds(60)) == .wait)
        #expect(watermark.truncationDetected)
        #expect(watermark.watermark == 0)
        #expect(watermark.observe(observation(4, xmin: 10, xmax: 10, after: 30), maxSettleWait: .seconds(60)) == .count(lower: 0, upper: 3, forced: false))
        #expect(!watermark.truncationDetected)
    }

    @Test func countedRangesNeverOverlap() {
        var watermark = KeyWatermark()
        var counted: [ClosedRange<Int64>] = []
        var key: Int64 = 0
        var xid: UInt64 = 100
        _ = watermark.observe(observation(0, xmin: xid, xmax: xid), maxSettleWait: .seconds(3600))
        for step in 1...200 {
            key += Int64(step % 7)
            xid += UInt64(step % 5)
            let busy = step % 3 == 0
            let decision = watermark.observe(observation(key, xmin: busy ? xid - 2 : xid, xmax: xid, after: step), maxSettleWait: .seconds(3600))
            if case .count(let lower, let upper, _) = decision {
                counted.append((lower + 1)...upper)
                watermark.advance(to: upper)
            }
        }
        for (first, second) in zip(counted, counted.dropFirst()) {
            #expect(first.upperBound + 1 == second.lowerBound)
        }
        #expect(counted.first?.lowerBound == 1)
    }
}

/// The per-sample range limit that lets an incremental counter catch up after a bulk load.
@Suite struct CountRangeLimitTests {
    @Test func unlimitedUntilACountFails() {
        var limit = CountRangeLimit()
        #expect(limit.end(lower: 0, upper: 7_000_000) == 7_000_000)
        #expect(limit.failed(lower: 0, end: 7_000_000) == 3_500_000)
        #expect(limit.end(lower: 0, upper: 7_000_000) == 3_500_000)
        #expect(limit.failed(lower: 0, end: 3_500_000) == 1_750_000)
        #expect(limit.end(lower: 0, upper: 7_000_000) == 1_750_000)
        // A success that did not reach every settled key keeps the size.
        limit.counted(caughtUp: false)
        #expect(limit.end(lower: 1_750_000, upper: 7_000_200) == 3_500_000)
        #expect(limit.end(lower: 7_000_000, upper: 7_000_200) == 7_000_200, "a small range is counted whole")
        limit.counted(caughtUp: true)
        #expect(limit.keys == nil)
        #expect(limit.end(lower: 0, upper: 90_000_000) == 90_000_000)
    }

    @Test func neverBelowTheMinimum() {
        var limit = CountRangeLimit()
        for _ in 0..<40 { _ = limit.failed(lower: 0, end: limit.end(lower: 0, upper: 10_000)) }
        #expect(limit.keys == CountRangeLimit.minimumKeys)
        #expect(limit.end(lower: 5, upper: 10_000) == 1_005)
    }
}
