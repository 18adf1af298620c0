import Exposition
@testable import Sampling
import Synchronization
import Testing
import TestSupport

/// The store assembles `/metrics` from groups of samplers and re-assembles only the groups
/// that changed. These tests hold that body to the straightforward render of everything the
/// store holds, after every step of long random sequences of publishes and sampler changes.
@Suite struct IncrementalBodyTests {
    typealias Generator = SeededRandom

    /// Family names with fixed HELP and type (a name keeps its HELP across samplers), some
    /// needing escapes or OpenMetrics renames.
    static let families: [(name: String, help: String, type: MetricType)] = [
        ("probe_success", "Whether the probe succeeded.", .gauge),
        ("probe_duration_seconds", "Duration of the probe.", .gauge),
        ("requests_total", "Requests \\ served\nso far.", .counter),
        ("legacy_calls", "A counter without _total.", .counter),
        ("raw_value", "Untyped.", .untyped),
        ("latency_seconds", "A histogram.", .histogram),
        ("rare_family", "Published now and then.", .gauge),
    ]

    static func family(_ index: Int, sampler: String, using random: inout Generator) -> MetricFamily {
        let head = families[index]
        let count = Int.random(in: 0...3, using: &random)   // 0: an empty family, never exposed
        let series = (0..<count).map { n -> Series in
            let labels = [Label("sampler", sampler), Label("n", "\(n)\"q\"")]
            if head.type == .histogram {
                var histogram = HistogramValue(upperBounds: [0.1, 1, 10])
                for _ in 0..<Int.random(in: 0...4, using: &random) { histogram.observe(Double.random(in: 0...20, using: &random)) }
                return Series(labels: labels, value: .histogram(histogram))
            }
            return Series(labels, random.chance(50) ? Double(Int.random(in: 0...1000, using: &random)) : Double.random(in: -5...5, using: &random))
        }
        return MetricFamily(name: head.name, help: head.help, type: head.type, series: series)
    }

    /// What the store holds, kept independently: the expected samplers and their latest families.
    struct Model {
        var samplers: [(id: String, interval: Duration, collectors: [String])] = []
        var families: [String: [MetricFamily]] = [:]

        /// The body rendered from scratch, as `/metrics` has always been defined: the
        /// collectors' freshness, then every sampler's families merged by name in sampler order.
        func body(_ store: SnapshotStore, format: ExpositionFormat) -> String {
            var text = ""
            Renderer.render(Renderer.merge(CollectorMetrics.families(for: store.collectorStatuses)), format: format, into: &text)
            let ids = Set(samplers.map(\.id))
            // A family without series is not exposed and does not count as seen.
            Renderer.render(Renderer.merge(samplers.compactMap { ids.contains($0.id) ? families[$0.id] : nil }.flatMap { $0 }
                                .filter { !$0.series.isEmpty }),
                            format: format, into: &text)
            return text
        }
    }

    static func samplerList(count: Int, using random: inout Generator) -> [(id: String, interval: Duration, collectors: [String])] {
        (0..<count).map { index in
            let id = "s\(index)"
            // Most samplers are one collector; some are several, and one collector is
            // declared by two samplers.
            let collectors = index % 7 == 3 ? ["\(id)/a", "\(id)/b", "\(id)/c"] : index == 40 ? [id, "s1"] : [id]
            return (id, .seconds(Int64.random(in: 1...60, using: &random)), collectors)
        }
    }

    func publish(_ store: SnapshotStore, _ model: inout Model, using random: inout Generator, time: Double) {
        guard let sampler = model.samplers.randomElement(using: &random) else { return }
        var chosen = Array(0..<Self.families.count - 1).filter { _ in random.chance(60) }
        if random.chance(10) { chosen.append(Self.families.count - 1) }
        chosen.shuffle(using: &random)
        let families = chosen.map { Self.family($0, sampler: sampler.id, using: &random) }
        var outcomes = sampler.collectors.map {
            CollectorOutcome(collector: $0, success: random.chance(80), durationSeconds: Double.random(in: 0...2, using: &random),
                             error: random.chance(20) ? "boom" : nil)
        }
        // Now and then a collector the sampler did not declare.
        if random.chance(5) { outcomes.append(CollectorOutcome(collector: "extra/\(Int.random(in: 0...3, using: &random))", success: true, durationSeconds: 0.1)) }
        model.families[sampler.id] = families
        store.publish(SamplerSnapshot(samplerID: sampler.id, interval: sampler.interval, startedAt: time, finishedAt: time + 0.5,
                                      result: SampleResult(families: families, outcomes: outcomes)))
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func incrementalBodyEqualsAFullRender(seed: UInt64) {
        var random = Generator(seed: seed)
        let store = SnapshotStore(clock: FixedClock(value: 1))
        var model = Model()
        model.samplers = Self.samplerList(count: 150, using: &random)
        store.setExpected(model.samplers)
        for step in 0..<200 {
            let action = Int.random(in: 0..<100, using: &random)
            if action < 3 {
                // A sampler removed, or the list reordered with one added: groups move.
                if random.chance(50), let removed = model.samplers.indices.randomElement(using: &random) {
                    model.samplers.remove(at: removed)
                } else {
                    model.samplers.shuffle(using: &random)
                    model.samplers.append(("new\(step)", .seconds(5), ["new\(step)"]))
                }
                model.families = model.families.filter { id, _ in model.samplers.contains { $0.id == id } }
                store.setExpected(model.samplers)
            } else if action < 5 {
                // A sampler that is no longer expected: ignored.
                store.publish(SamplerSnapshot(samplerID: "gone", interval: .seconds(1), startedAt: 1, finishedAt: 1,
                                              result: SampleResult(families: [.gauge("gone", "x", [Series([], 1)])], outcomes: [])))
            } else {
                // Several publishes between scrapes, or one.
                for _ in 0..<Int.random(in: 1...(random.chance(20) ? 40 : 3), using: &random) {
                    publish(store, &model, using: &random, time: Double(step))
                }
            }
            let format: ExpositionFormat = random.chance(50) ? .prometheusText : .openMetrics
            let body = store.samples(format: format)
            let expected = model.body(store, format: format)
            let text = body.text
            let difference = zip(text.split(separator: "\n", omittingEmptySubsequences: false), expected.split(separator: "\n", omittingEmptySubsequences: false))
                .enumerated().first { $0.element.0 != $0.element.1 }
            #expect(text == expected, "seed \(seed), step \(step), \(format): line \(difference.map { "\($0.offset): \($0.element.0) instead of \($0.element.1)" } ?? "none")")
            #expect(body.byteCount == expected.utf8.count)
            if text != expected { return }
        }
    }

    /// A store built anew from the same snapshots gives the same body as one that has been
    /// assembling incrementally all along (the chunks are the same pieces too).
    @Test func chunksOfALongLivedStoreMatchAFreshOne() {
        var random = Generator(seed: 99)
        let store = SnapshotStore(clock: FixedClock(value: 1))
        var model = Model()
        model.samplers = Self.samplerList(count: 100, using: &random)
        store.setExpected(model.samplers)
        for step in 0..<300 {
            publish(store, &model, using: &random, time: Double(step))
            if step % 10 == 0 { _ = store.samples(format: .openMetrics) }
        }
        let fresh = SnapshotStore(clock: FixedClock(value: 1))
        fresh.setExpected(model.samplers)
        for snapshot in store.snapshots {
            var copy = snapshot
            copy.result.families = model.families[snapshot.samplerID] ?? []
            fresh.publish(copy)
        }
        for format in ExpositionFormat.allCases {
            let chunks = store.samples(format: format)
            let freshChunks = fresh.samples(format: format)
            #expect(chunks.chunks.map(\.id) == freshChunks.chunks.map(\.id))
            // The values differ (statuses count runs), but the samples chunks hold the same lines.
            for (old, new) in zip(chunks.chunks, freshChunks.chunks) {
                guard case .samples = old.id else { continue }
                var a: [UInt8] = []
                var b: [UInt8] = []
                chunks.write(old, into: &a)
                freshChunks.write(new, into: &b)
                #expect(a == b)
            }
        }
    }

    /// Scrapes running while samplers publish see one generation each: never a body where
    /// one sampler's new series stand beside another's outdated ones.
    @Test func scrapesDuringPublishesAreNeverTorn() async {
        let samplers = (0..<100).map { (id: "s\($0)", interval: Duration.seconds(1), collectors: ["s\($0)"]) }
        let store = SnapshotStore(clock: FixedClock(value: 1))
        store.setExpected(samplers)
        // Round robin: publish k sets sampler k % 100's value to k. In any consistent state
        // after publish K, sampler i holds the last k <= K with k % 100 == i.
        func publish(_ k: Int) {
            let id = samplers[k % samplers.count].id
            store.publish(SamplerSnapshot(samplerID: id, interval: .seconds(1), startedAt: 1, finishedAt: 1,
                                          result: SampleResult(families: [.gauge("v", "Value.", [Series([Label("s", id)], Double(k))])],
                                                               outcomes: [CollectorOutcome(collector: id, success: true, durationSeconds: 0)])))
        }
        for k in 0..<samplers.count { publish(k) }
        // Publishing goes on until the scrapers have checked enough bodies (bounded either way).
        final class Flag: Sendable {
            let value = Atomic<Bool>(false)
            let scrapes = Atomic<Int>(0)
        }
        let done = Flag()
        let checked = await withTaskGroup(of: Int.self) { group in
            group.addTask {
                for k in samplers.count..<1_000_000 {
                    if done.scrapes.load(ordering: .relaxed) >= 100 { break }
                    publish(k)
                }
                done.value.store(true, ordering: .releasing)
                return 0
            }
            for scraper in 0..<2 {
                group.addTask {
                    var checked = 0
                    for round in 0..<100_000 {
                        let finished = done.value.load(ordering: .acquiring)
                        let format: ExpositionFormat = (scraper + round) % 2 == 0 ? .prometheusText : .openMetrics
                        let text = scraper == 0 ? store.samples(format: format).text : store.renderedSamples(format: format)
                        var values: [Int: Int] = [:]
                        var runs: [Int: Int] = [:]
                        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                            let parts = line.split(separator: " ")
                            guard let value = Int(parts[1]) else { continue }
                            if line.hasPrefix("v{s=\"s") {
                                values[Int(parts[0].dropFirst(6).dropLast(2))!] = value
                            } else if line.hasPrefix("mitra_exporter_collector_runs_total{collector=\"s") {
                                runs[Int(parts[0].dropFirst(48).dropLast(2))!] = value
                            }
                        }
                        let latest = values.values.max() ?? 0
                        for index in 0..<samplers.count {
                            let expected = latest - ((latest - index) % samplers.count + samplers.count) % samplers.count
                            #expect(values[index] == expected, "sampler \(index) in a body whose latest publish is \(latest)")
                            #expect(runs[index] == expected / samplers.count + 1, "runs of sampler \(index) at publish \(latest)")
                        }
                        checked += 1
                        done.scrapes.add(1, ordering: .relaxed)
                        if finished { break }
                    }
                    return checked
                }
            }
            return await group.reduce(0, +)
        }
        #expect(checked >= 100)
    }
}
