public import Exposition
import Synchronization

/// The latest published result of one sampler. Immutable once stored.
public struct SamplerSnapshot: Sendable {
    public var samplerID: String
    public var interval: Duration
    public var startedAt: Double
    public var finishedAt: Double
    public var result: SampleResult
    /// The families' sample lines, rendered once when published (they are the same in both
    /// exposition formats), so a scrape only concatenates.
    var rendered = RenderedSnapshot()

    public init(samplerID: String, interval: Duration, startedAt: Double, finishedAt: Double, result: SampleResult) {
        self.samplerID = samplerID
        self.interval = interval
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.result = result
    }
}

/// Per-collector freshness kept across runs (a failed run does not erase the last success).
public struct CollectorStatus: Sendable, Hashable {
    public var collector: String
    public var samplerID: String
    public var intervalSeconds: Double
    public var lastRunAt: Double?
    public var lastSuccessAt: Double?
    public var lastDurationSeconds: Double?
    public var lastSuccess: Bool?
    public var lastError: String?
    public var runs: UInt64 = 0
    public var failures: UInt64 = 0
}

/// Wall-clock seconds since the epoch; injectable so golden tests can fix time.
public protocol WallClock: Sendable {
    func now() -> Double
}

public struct SystemWallClock: WallClock {
    public init() {}
    public func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Holds the latest snapshot of every sampler. `/metrics` reads it without ever waiting for
/// a sampler: publishing swaps a value under a short lock, and the rendered body of all
/// snapshots is cached until the next publish.
public final class SnapshotStore: Sendable {
    private struct State {
        var order: [String] = []
        var snapshots: [String: SamplerSnapshot] = [:]
        var expected: [String: (interval: Duration, collectors: [String])] = [:]
        var statuses: [String: CollectorStatus] = [:]
        var generation: UInt64 = 0
        /// The last body served. One entry, not one per format: a Prometheus server negotiates
        /// one format, and a second cached copy of a large body is memory spent for nothing.
        var renderCache: (format: ExpositionFormat, generation: UInt64, body: String)?
    }

    private let state = Mutex(State())
    public let clock: any WallClock
    /// Called with every published snapshot while its families are still there (the store
    /// keeps only their rendered text), for consumers that keep figures of their own.
    private let publishObservers = Mutex<[@Sendable (SamplerSnapshot) -> Void]>([])

    public init(clock: any WallClock = SystemWallClock()) {
        self.clock = clock
    }

    /// Declares the samplers that should be running. Snapshots and statuses of samplers
    /// not in the list are dropped (their series disappear), new ones are listed as pending.
    public func setExpected(_ samplers: [(id: String, interval: Duration, collectors: [String])]) {
        state.withLock { state in
            let ids = Set(samplers.map(\.id))
            state.order = samplers.map(\.id)
            state.expected = Dictionary(uniqueKeysWithValues: samplers.map { ($0.id, ($0.interval, $0.collectors)) })
            state.snapshots = state.snapshots.filter { ids.contains($0.key) }
            var keep: [String: CollectorStatus] = [:]
            for sampler in samplers {
                for collector in sampler.collectors {
                    var status = state.statuses[collector].flatMap { $0.samplerID == sampler.id ? $0 : nil }
                        ?? CollectorStatus(collector: collector, samplerID: sampler.id, intervalSeconds: sampler.interval.inSeconds)
                    status.intervalSeconds = sampler.interval.inSeconds
                    keep[collector] = status
                }
            }
            state.statuses = keep
            state.generation &+= 1
        }
    }

    /// Stores a sampler's latest result. Its families are rendered here, once, and then
    /// dropped: only the rendered lines are kept, so each series is held in memory once.
    public func publish(_ snapshot: SamplerSnapshot) {
        for observer in publishObservers.withLock({ $0 }) { observer(snapshot) }
        var snapshot = snapshot
        snapshot.rendered = RenderedSnapshot(snapshot.result.families)
        snapshot.result.families = []
        let staleBody = state.withLock { state -> String? in
            guard state.expected[snapshot.samplerID] != nil else { return nil }
            // The cached body no longer matches and is dropped now, not at the next scrape:
            // with a thousand checks a publish comes every few milliseconds, so it would
            // otherwise hold a stale copy of the whole body (2.4 KiB per check) for nearly
            // the whole scrape interval.
            defer { state.renderCache = nil }
            state.snapshots[snapshot.samplerID] = snapshot
            for outcome in snapshot.result.outcomes {
                var status = state.statuses[outcome.collector]
                    ?? CollectorStatus(collector: outcome.collector, samplerID: snapshot.samplerID, intervalSeconds: snapshot.interval.inSeconds)
                status.lastRunAt = snapshot.finishedAt
                status.lastDurationSeconds = outcome.durationSeconds
                status.lastSuccess = outcome.success
                status.lastError = outcome.error
                status.runs += 1
                if outcome.success {
                    status.lastSuccessAt = snapshot.finishedAt
                } else {
                    status.failures += 1
                }
                state.statuses[outcome.collector] = status
            }
            state.generation &+= 1
            return state.renderCache?.body
        }
        // Released here, outside the lock (a large body's pages go back to the system).
        _ = consume staleBody
    }

    /// Adds `observer`, called on the publishing task with each snapshot before it is stored.
    public func observePublishes(_ observer: @escaping @Sendable (SamplerSnapshot) -> Void) {
        publishObservers.withLock { $0.append(observer) }
    }

    /// True once every expected sampler has published at least once (a timeout counts).
    public var isReady: Bool {
        state.withLock { state in state.expected.keys.allSatisfy { state.snapshots[$0] != nil } }
    }

    /// Declared collectors in sampler order, then any a sampler reported beyond its declaration.
    public var collectorStatuses: [CollectorStatus] {
        state.withLock { Self.orderedStatuses($0) }
    }

    private static func orderedStatuses(_ state: State) -> [CollectorStatus] {
        let declared = state.order.flatMap { id in (state.expected[id]?.collectors ?? []).compactMap { state.statuses[$0] } }
        let undeclared = state.statuses.values
            .filter { !(state.expected[$0.samplerID]?.collectors.contains($0.collector) ?? false) }
            .sorted { $0.collector < $1.collector }
        return declared + undeclared
    }

    /// The latest snapshots in sampler order; their `result.families` are empty (see `publish`).
    public var snapshots: [SamplerSnapshot] {
        state.withLock { state in state.order.compactMap { state.snapshots[$0] } }
    }

    /// Every sampler's families plus collector freshness, rendered; cached per generation.
    public func renderedSamples(format: ExpositionFormat) -> String {
        renderedSamplesAndGeneration(format: format).body
    }

    /// The rendered samples and the generation they belong to: it changes with every publish,
    /// so anything derived from the body (its compressed form) can be cached by it.
    public func renderedSamplesAndGeneration(format: ExpositionFormat) -> (generation: UInt64, body: String) {
        let (generation, cached) = state.withLock { state in
            // A stale body is released now rather than kept alive while the new one is built.
            if state.renderCache?.generation != state.generation { state.renderCache = nil }
            return (state.generation, state.renderCache)
        }
        if let cached, cached.format == format { return (generation, cached.body) }
        let (snapshots, statuses) = state.withLock { state in
            (state.order.compactMap { state.snapshots[$0] }, Self.orderedStatuses(state))
        }
        var freshness = ""
        Renderer.render(Renderer.merge(CollectorMetrics.families(for: statuses)), format: format, into: &freshness)
        // Group every sampler's pre-rendered lines under one header per family name, then
        // write the body once into a buffer of the right size (no regrowth, no slack kept in
        // the cache).
        var order: [RenderedSnapshot.Block] = []
        var pieces: [String: [(text: String, block: RenderedSnapshot.Block)]] = [:]
        var size = freshness.utf8.count
        for snapshot in snapshots {
            for block in snapshot.rendered.blocks {
                if pieces[block.name] == nil {
                    order.append(block)
                    pieces[block.name] = []
                    size += block.name.utf8.count * 2 + block.help.utf8.count + 40
                }
                pieces[block.name]!.append((snapshot.rendered.text, block))
                size += block.end - block.start
            }
        }
        var body = ""
        body.reserveCapacity(size)
        body += freshness
        for first in order {
            Renderer.writeHeader(name: first.name, help: first.help, type: first.type, format: format, into: &body)
            for (text, block) in pieces[first.name]! {
                let utf8 = text.utf8
                body += Substring(utf8[utf8.index(utf8.startIndex, offsetBy: block.start)..<utf8.index(utf8.startIndex, offsetBy: block.end)])
            }
        }
        state.withLock { state in
            if state.generation == generation { state.renderCache = (format, generation, body) }
        }
        return (generation, body)
    }
}

/// A snapshot's sample lines, rendered once: one string for the whole snapshot (one
/// allocation per sampler, sized to fit) and each family's part of it by UTF-8 offsets.
struct RenderedSnapshot: Sendable {
    struct Block: Sendable {
        var name: String
        var help: String
        var type: MetricType
        var start: Int
        var end: Int
    }

    var text = ""
    var blocks: [Block] = []

    init() {}

    init(_ families: [MetricFamily]) {
        var bytes: [UInt8] = []
        for family in Renderer.merge(families) where !family.series.isEmpty {
            let start = bytes.count
            Renderer.writeSamples(family, into: &bytes)
            blocks.append(Block(name: family.name, help: family.help, type: family.type, start: start, end: bytes.count))
        }
        // A string of exactly the rendered size: the appends above leave up to half the
        // buffer's capacity unused, and snapshots live until the next run.
        self.text = String(decoding: bytes, as: UTF8.self)
    }
}

/// `mitra_exporter_collector_*`: freshness you can alert on without knowing each sampler.
enum CollectorMetrics {
    static func families(for statuses: [CollectorStatus]) -> [MetricFamily] {
        var success: [Series] = []
        var duration: [Series] = []
        var lastSuccess: [Series] = []
        var interval: [Series] = []
        var runs: [Series] = []
        var failures: [Series] = []
        for status in statuses {
            let labels = [Label("collector", status.collector)]
            interval.append(Series(labels, status.intervalSeconds))
            runs.append(Series(labels, Double(status.runs)))
            failures.append(Series(labels, Double(status.failures)))
            guard status.lastRunAt != nil else { continue }
            success.append(Series(labels, status.lastSuccess == true ? 1 : 0))
            duration.append(Series(labels, status.lastDurationSeconds ?? 0))
            if let at = status.lastSuccessAt { lastSuccess.append(Series(labels, at)) }
        }
        return [
            .gauge("mitra_exporter_collector_success", "Whether the collector's last run succeeded (1) or failed (0).", success),
            .gauge("mitra_exporter_collector_duration_seconds", "Duration of the collector's last run in seconds.", duration),
            .gauge("mitra_exporter_collector_last_success_timestamp_seconds", "Unix time of the collector's last successful run.", lastSuccess),
            .gauge("mitra_exporter_collector_interval_seconds", "Configured interval between the collector's runs, for staleness alerts.", interval),
            .counter("mitra_exporter_collector_runs_total", "Runs of the collector since the exporter started or the entry changed.", runs),
            .counter("mitra_exporter_collector_failures_total", "Failed runs of the collector since the exporter started or the entry changed.", failures),
        ]
    }
}
