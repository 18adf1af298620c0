import Exposition
@testable import Sampling
import Testing

/// The timetable on its own, with instants chosen by the test: no sleeping, no timing luck.
@Suite struct TimetableTests {
    let start = ContinuousClock.now

    func samplers(_ count: Int, interval: Duration) -> [RecordingSampler] {
        (0..<count).map { RecordingSampler(id: "s\($0)", interval: interval, timeout: .seconds(1)) }
    }

    @Test func firstRunsComeWithinTwoSecondsThenSpreadOverTheInterval() {
        let table = Timetable()
        let fleet = samplers(200, interval: .seconds(60))
        table.offer(fleet)
        // The set is applied at `start`; every first run falls within the next two seconds.
        let applied = table.take(now: start)
        let first = applied.due + table.take(now: start + .seconds(2)).due
        #expect(first.count == 200)
        let firstDue = Dictionary(uniqueKeysWithValues: first.map { ($0.sampler.id, $0.due) })
        #expect(firstDue.values.allSatisfy { $0 >= start && $0 < start + .seconds(2) })
        #expect(table.take(now: start + .seconds(2)).wakeAt == nil)
        for slot in first { #expect(!table.finishRun(slot, now: start + .seconds(2))) }

        // Second runs: between half an interval and one and a half after each first run.
        var second: [Timetable.Slot] = []
        var wakeAt = table.take(now: start + .seconds(2)).wakeAt
        while let due = wakeAt, due < start + .seconds(200) {
            let step = table.take(now: due)
            second += step.due
            wakeAt = step.wakeAt
        }
        #expect(second.count == 200)
        let offsets = second.map { ($0.due - firstDue[$0.sampler.id]!).inSeconds }
        #expect(offsets.allSatisfy { $0 >= 30 && $0 < 90 })
        // Spread, not bunched: each third of that minute holds a fair share of the fleet.
        for third in 0..<3 {
            let low = 30 + Double(third) * 20
            let inThird = offsets.filter { $0 >= low && $0 < low + 20 }.count
            #expect(inThird > 30, "\(inThird) second runs between \(low) s and \(low + 20) s")
        }

        // Third runs keep a fixed cadence (±2.5 %) from the second.
        let secondDue = Dictionary(uniqueKeysWithValues: second.map { ($0.sampler.id, $0.due) })
        for slot in second { #expect(!table.finishRun(slot, now: slot.due)) }
        let third = table.take(now: start + .seconds(400)).due
        #expect(third.count == 200)
        #expect(third.allSatisfy { abs(($0.due - secondDue[$0.sampler.id]!).inSeconds - 60) <= 1.5 + 1e-9 })
    }

    @Test func aRunningSamplerIsNotHandedOutTwiceAndRetiresWhenItsRunEnds() {
        let table = Timetable()
        let fleet = samplers(2, interval: .milliseconds(100))
        table.offer(fleet)
        let running = table.take(now: start).due + table.take(now: start + .seconds(3)).due
        #expect(running.count == 2)
        // Long overdue, but still running: nothing to hand out.
        #expect(table.take(now: start + .seconds(30)).due.isEmpty)
        // s0 is removed while it runs: its run ending shuts it down instead of rescheduling.
        table.offer([fleet[1]])
        #expect(table.take(now: start + .seconds(30)).retired.isEmpty)
        let s0 = running.first { $0.sampler.id == "s0" }!
        let s1 = running.first { $0.sampler.id == "s1" }!
        #expect(table.finishRun(s0, now: start + .seconds(31)))
        #expect(!table.finishRun(s1, now: start + .seconds(31)))
        // An idle sampler removed is handed back at once, to be shut down.
        table.offer([])
        #expect(table.take(now: start + .seconds(31)).retired.map(\.id) == ["s1"])
        #expect(table.take(now: start + .seconds(99)).due.isEmpty)
        #expect(table.retireAll().isEmpty)
    }

    @Test func theSameInstanceKeepsItsSlotAndANewInstanceReplacesIt() {
        let table = Timetable()
        let original = samplers(1, interval: .seconds(10))
        table.offer(original)
        let running = table.take(now: start).due + table.take(now: start + .seconds(3)).due
        #expect(!table.finishRun(running[0], now: start + .seconds(3)))
        table.offer(original)
        #expect(table.take(now: start + .seconds(4)).retired.isEmpty)
        let replacement = samplers(1, interval: .seconds(10))
        table.offer(replacement)
        let step = table.take(now: start + .seconds(4))
        #expect(step.retired.count == 1 && (step.retired[0] as AnyObject) === original[0])
        // The replacement's first run falls within 2 s; it may be handed out by this very step
        // (due within the batch window) or by a later one.
        let handedOut = step.due + table.take(now: start + .seconds(7)).due
        #expect(handedOut.map { $0.sampler as AnyObject }.contains { $0 === replacement[0] })
    }
}
