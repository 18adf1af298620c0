import CompressNIO
@testable import ExporterServer
import Exposition
import Foundation
import NIOCore
import Sampling
import Testing

@Suite struct GzipSpliceTests {
    /// A gzip reader of another implementation than zlib's inflate wrapper: GNU gzip, which
    /// also checks the trailer's CRC-32 and length.
    func gunzip(_ body: ByteBuffer) throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("splice-\(UUID().uuidString).gz")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(body.readableBytesView).write(to: file)
        let gzip = try #require(which("gzip"), "gzip is missing")
        let result = try runCommand(gzip, ["-dc", file.path])
        #expect(result.status == 0, "gzip -dc: \(result.output)")
        return result.output
    }

    static let bigTail = (0..<5_000).map { "series_\($0 % 97){check=\"c\($0)\",le=\"1.0\"} \($0)\n" }.joined()

    @Test(arguments: [
        ("", ""), ("head\n", ""), ("", "tail\n"), ("# HELP a A.\na 1\n", "b 2\n"),
        ("ünïcödé ✓\n", "€\n"), (String(repeating: "x", count: 70_000), bigTail),
    ])
    func joinedPartsDecodeToTheConcatenation(_ head: String, _ tail: String) throws {
        let member = GzipSplice.member(head: try GzipSplice.deflate(head, final: false, level: 6, windowBits: 12, memLevel: 5),
                                       tail: try GzipSplice.deflate(tail, final: true, level: 6))
        #expect(try gunzip(member) == head + tail)
        var compressed = member
        #expect(String(buffer: try compressed.decompress(with: .gzip())) == head + tail)
    }

    /// Every gzip body decodes to what the plain body of the same scrape would be, from the
    /// cached samples part and after a publish replaced it.
    @Test func gzipBodyIsThePlainBodyBeforeAndAfterAPublish() throws {
        let (runtime, _) = try MetricsGoldenTests().populatedRuntime()
        for (index, format) in ExpositionFormat.allCases.enumerated() {
            // The first compresses the chunks, the second joins them, the third uses the join.
            let first = try gunzip(try runtime.gzip(runtime.scrapeBody(format: format)))
            let second = try gunzip(try runtime.gzip(runtime.scrapeBody(format: format)))
            let third = try gunzip(try runtime.gzip(runtime.scrapeBody(format: format)))
            let plain = runtime.metricsBody(format: format)
            // Each scrape is counted once, gzipped or not: four per format.
            #expect(second.contains("mitra_exporter_scrapes_total \(4 * index + 2)\n"))
            #expect(third.contains("mitra_exporter_scrapes_total \(4 * index + 3)\n"))
            #expect(plain.contains("mitra_exporter_scrapes_total \(4 * index + 4)\n"))
            // Only the scrape counter differs between consecutive scrapes.
            func withoutScrapeCount(_ body: String) -> String {
                body.split(separator: "\n").filter { !$0.hasPrefix("mitra_exporter_scrapes_total") }.joined(separator: "\n")
            }
            #expect(withoutScrapeCount(first) == withoutScrapeCount(plain))
            #expect(withoutScrapeCount(second) == withoutScrapeCount(plain))
            #expect(withoutScrapeCount(third) == withoutScrapeCount(plain))
            #expect(first.contains("probe_success{check=\"policies\"} 1\n"))
            #expect(format == .openMetrics ? first.hasSuffix("# EOF\n") : !first.contains("# EOF"))
        }
        // A publish changes the samples; the next gzip body shows the new state, not the cached one.
        runtime.store.publish(SamplerSnapshot(samplerID: "check/policies", interval: .seconds(15), startedAt: 3, finishedAt: 4,
                                              result: StubSampler.result(id: "check/policies", succeed: false, error: "status 500")))
        #expect(try gunzip(try runtime.gzip(runtime.scrapeBody(format: .prometheusText))).contains("probe_success{check=\"policies\"} 0\n"))
        // The joined samples of the earlier generation are not reused.
        for _ in 0..<2 {
            let again = try gunzip(try runtime.gzip(runtime.scrapeBody(format: .prometheusText)))
            #expect(again.contains("probe_success{check=\"policies\"} 0\n") && !again.contains("probe_success{check=\"policies\"} 1\n"))
        }
    }

    @Test func aJoinedPartDecodesLikeItsParts() throws {
        let texts = ["# HELP a A.\na 1\n", "", "b{x=\"ü\"} 2\n", Self.bigTail]
        let parts = try texts.map { try GzipSplice.deflate($0, final: false, level: 6) }
        let end = try GzipSplice.deflate("# EOF\n", final: true, level: 6)
        let joined = GzipSplice.join(parts)
        #expect(joined.length == texts.reduce(0) { $0 + $1.utf8.count })
        #expect(try gunzip(GzipSplice.member([joined, end])) == texts.joined() + "# EOF\n")
        #expect(try gunzip(GzipSplice.member(parts + [end])) == texts.joined() + "# EOF\n")
    }

    /// After any sequence of publishes, sampler changes and scrapes in either format, a gzip
    /// body (most of its chunks compressed by earlier scrapes) inflates to exactly the plain
    /// body of the same scrape.
    @Test(arguments: [7, 8] as [UInt64])
    func gzipBodyInflatesToThePlainBodyAfterRandomPublishes(seed: UInt64) throws {
        let (runtime, _) = try MetricsGoldenTests().populatedRuntime()
        var random = seed
        func next(_ bound: Int) -> Int {
            random = random &* 6364136223846793005 &+ 1442695040888963407
            return Int((random >> 33) % UInt64(bound))
        }
        var samplers = (0..<120).map { (id: "c\($0)", interval: Duration.seconds(15), collectors: ["c\($0)"]) }
        runtime.store.setExpected(samplers)
        let names = ["probe_success", "probe_duration_seconds", "probe_http_status_code", "rare_total"]
        for step in 0..<150 {
            if next(100) < 4 {
                samplers.remove(at: next(samplers.count))
                runtime.store.setExpected(samplers)
            }
            for _ in 0..<(1 + next(next(10) == 0 ? 60 : 3)) {
                let sampler = samplers[next(samplers.count)]
                let families = names.filter { $0 != "rare_total" || next(10) == 0 }.map { name in
                    MetricFamily(name: name, help: "Help of \(name).", type: name.hasSuffix("_total") ? .counter : .gauge,
                                 series: [Series([Label("check", sampler.id)], Double(next(1000)) / 8)])
                }
                runtime.store.publish(SamplerSnapshot(samplerID: sampler.id, interval: sampler.interval, startedAt: Double(step), finishedAt: Double(step),
                                                      result: SampleResult(families: families,
                                                                           outcomes: [CollectorOutcome(collector: sampler.id, success: next(2) == 0, durationSeconds: 0.5)])))
            }
            let format: ExpositionFormat = next(2) == 0 ? .prometheusText : .openMetrics
            let body = runtime.scrapeBody(format: format)
            var compressed = try runtime.gzip(body)
            let inflated = String(buffer: try compressed.decompress(with: .gzip()))
            #expect(inflated == body.text, "seed \(seed), step \(step), \(format)")
            if step % 50 == 49 { #expect(try gunzip(try runtime.gzip(body)) == body.text) }
        }
    }

    /// Gzip scrapes running while samplers publish share the compressed chunks; each body
    /// still inflates to exactly its own scrape's plain body (no chunk of another generation).
    @Test func concurrentGzipScrapesDuringPublishesInflateToTheirOwnBody() async throws {
        let (runtime, _) = try MetricsGoldenTests().populatedRuntime()
        let samplers = (0..<100).map { (id: "c\($0)", interval: Duration.seconds(15), collectors: ["c\($0)"]) }
        runtime.store.setExpected(samplers)
        let mismatches = await withTaskGroup(of: Int.self) { group in
            group.addTask {
                for k in 0..<3_000 {
                    let id = samplers[(k * 37) % samplers.count].id
                    runtime.store.publish(SamplerSnapshot(samplerID: id, interval: .seconds(15), startedAt: 1, finishedAt: 1,
                                                          result: SampleResult(families: [.gauge("v", "Value.", [Series([Label("check", id)], Double(k))])],
                                                                               outcomes: [CollectorOutcome(collector: id, success: true, durationSeconds: 0)])))
                }
                return 0
            }
            for scraper in 0..<2 {
                group.addTask {
                    var mismatches = 0
                    for round in 0..<40 {
                        let body = runtime.scrapeBody(format: (scraper + round) % 2 == 0 ? .prometheusText : .openMetrics)
                        guard var compressed = try? runtime.gzip(body),
                              let inflated = try? compressed.decompress(with: .gzip()) else { mismatches += 1; continue }
                        if String(buffer: inflated) != body.text { mismatches += 1 }
                    }
                    return mismatches
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }
}
