// The driver of bench/scale/store-cost/run.sh (compiled with the store, not part of the package).
import StoreCostZlib
import Glibc

func now() -> Double { var t = timespec(); clock_gettime(CLOCK_MONOTONIC, &t); return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9 }
func cpu() -> Double { var t = timespec(); clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9 }

func deflateBytes(_ input: UnsafeRawBufferPointer, windowBits: Int32, memLevel: Int32) -> Int {
    var stream = z_stream()
    deflateInit2_(&stream, 6, Z_DEFLATED, -windowBits, memLevel, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
    defer { deflateEnd(&stream) }
    let cap = Int(deflateBound(&stream, uLong(input.count))) + 16
    var out = [UInt8](repeating: 0, count: cap)
    return out.withUnsafeMutableBytes { dest in
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        stream.next_out = dest.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(dest.count)
        deflate(&stream, Z_SYNC_FLUSH)
        _ = crc32(0, input.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt(input.count))
        return dest.count - Int(stream.avail_out)
    }
}

let checks = Int(CommandLine.arguments[1])!
let perScrape = Int(CommandLine.arguments[2])!
let scrapes = 40
let store = SnapshotStore(clock: SystemWallClock())
let ids = (0..<checks).map { "check/c\($0)" }
store.setExpected(ids.map { (id: $0, interval: .seconds(15), collectors: [$0]) })
var counter = 0.0
func result(_ id: String) -> SampleResult {
    counter += 1
    let labels = [Label("check", String(id.dropFirst(6))), Label("url", "http://127.0.0.1:8080/ok")]
    var families: [MetricFamily] = (0..<16).map { .gauge("probe_metric_\($0)_value", "Help of metric \($0).", [Series(labels, counter + Double($0) * 0.125)]) }
    var h = HistogramValue(upperBounds: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5])
    h.observe(0.003 * counter.truncatingRemainder(dividingBy: 100))
    families.append(MetricFamily(name: "probe_duration_seconds", help: "Duration.", type: .histogram, series: [Series(labels: labels, value: .histogram(h))]))
    families.append(.counter("probe_runs_total", "Runs.", [Series(labels, counter)]))
    return SampleResult(families: families, outcomes: [CollectorOutcome(collector: id, success: true, durationSeconds: 0.0123)])
}
func publish(_ id: String) { store.publish(SamplerSnapshot(samplerID: id, interval: .seconds(15), startedAt: now(), finishedAt: now(), result: result(id))) }
for id in ids { publish(id) }
var rng = SystemRandomNumberGenerator()
var plainCPU = 0.0, gzipCPU = 0.0, size = 0, gzSize = 0
#if NEW
var compressed: [SampleChunks.ChunkID: (UInt64, Int)] = [:]
_ = store.samples(format: .openMetrics)
#endif
for round in 0..<scrapes {
    for _ in 0..<perScrape { publish(ids.randomElement(using: &rng)!) }
    let c0 = cpu()
    #if NEW
    if round % 2 == 0 {
        // gzip scrape: chunks, compress the changed ones
        let samples = store.samples(format: .openMetrics)
        var total = 0
        var scratch: [UInt8] = []
        for chunk in samples.chunks {
            if let e = compressed[chunk.id], e.0 == chunk.version { total += e.1; continue }
            scratch.removeAll(keepingCapacity: true)
            samples.write(chunk, into: &scratch)
            var wb: Int32 = 9
            while wb < 15, 1 << wb < scratch.count + 262 { wb += 1 }
            let n = scratch.withUnsafeBytes { deflateBytes($0, windowBits: wb, memLevel: max(1, wb - 7)) }
            compressed[chunk.id] = (chunk.version, n); total += n
        }
        gzSize = total
        gzipCPU += cpu() - c0
    } else {
        let samples = store.samples(format: .prometheusText)
        var buffer = [UInt8](); buffer.reserveCapacity(samples.byteCount)
        samples.forEachPiece { buffer.append(contentsOf: $0) }
        size = buffer.count
        plainCPU += cpu() - c0
    }
    #else
    if round % 2 == 0 {
        var text = store.renderedSamples(format: .openMetrics) + "# EOF\n"
        gzSize = text.withUTF8 { deflateBytes(UnsafeRawBufferPointer($0), windowBits: 15, memLevel: 8) }
        gzipCPU += cpu() - c0
    } else {
        let text = store.renderedSamples(format: .prometheusText)
        var buffer = [UInt8](); buffer.reserveCapacity(text.utf8.count)
        buffer.append(contentsOf: text.utf8)
        size = buffer.count
        plainCPU += cpu() - c0
    }
    #endif
}
let plainMs = (plainCPU / Double(scrapes / 2) * 100_000).rounded() / 100
let gzipMs = (gzipCPU / Double(scrapes / 2) * 100_000).rounded() / 100
print("checks=\(checks) publishes/scrape=\(perScrape) plain: \(plainMs) ms/scrape (\(size) B), gzip: \(gzipMs) ms/scrape (\(gzSize) B deflate)")
var st = rusage(); getrusage(RUSAGE_SELF.rawValue, &st); print("maxrss \(st.ru_maxrss / 1024) MiB")
