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
/// a sampler: publishing swaps a value under a short lock. The body is kept in groups of
/// samplers: a publish drops only its group's assembled lines, and a scrape re-assembles only
/// the groups that changed since the last one (see `SampleChunks`), so with thousands of
/// samplers publishing all the time a scrape costs about what the changed groups weigh.
public final class SnapshotStore: Sendable {
    /// Samplers per group, in `order`. A publish makes its whole group's chunks new (for a
    /// gzip scrape, recompressed), so smaller groups cost less per publish; larger ones
    /// compress better (each chunk is compressed on its own) and make fewer chunks.
    static let groupSize = 32

    private struct State {
        var order: [String] = []
        var position: [String: Int] = [:]
        var snapshots: [String: SamplerSnapshot] = [:]
        var expected: [String: (interval: Duration, collectors: [String])] = [:]
        /// The positions in `order` of the samplers declaring each collector: their groups
        /// hold its freshness series.
        var declaredBy: [String: [Int]] = [:]
        var statuses: [String: CollectorStatus] = [:]
        var generation: UInt64 = 0
        /// One entry per group of `groupSize` samplers, then one for the collectors no
        /// sampler declares: the generation of the group's last change, and its assembled
        /// lines once a scrape built them (nil while stale).
        var groupVersions: [UInt64] = [0]
        var groups: [SampleGroup?] = [nil]
        /// The chunk list of the last scrape: the next scrape of the same generation and
        /// format (most of them, between publishes) takes it as it is instead of laying out
        /// every family's header and chunks again. A few hundred bytes per family.
        var lastChunks: SampleChunks?

        mutating func changed(group: Int, releasing stale: inout [SampleGroup]) {
            groupVersions[group] = generation
            if let old = groups[group] { stale.append(old) }
            groups[group] = nil
        }
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
        let stale = state.withLock { state -> [SampleGroup?] in
            let ids = Set(samplers.map(\.id))
            state.order = samplers.map(\.id)
            state.position = Dictionary(samplers.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
            state.expected = Dictionary(uniqueKeysWithValues: samplers.map { ($0.id, ($0.interval, $0.collectors)) })
            state.snapshots = state.snapshots.filter { ids.contains($0.key) }
            var keep: [String: CollectorStatus] = [:]
            var declaredBy: [String: [Int]] = [:]
            for (position, sampler) in samplers.enumerated() {
                for collector in sampler.collectors {
                    var status = state.statuses[collector].flatMap { $0.samplerID == sampler.id ? $0 : nil }
                        ?? CollectorStatus(collector: collector, samplerID: sampler.id, intervalSeconds: sampler.interval.inSeconds)
                    status.intervalSeconds = sampler.interval.inSeconds
                    keep[collector] = status
                    declaredBy[collector, default: []].append(position)
                }
            }
            state.statuses = keep
            state.declaredBy = declaredBy
            state.generation &+= 1
            // Its groups are released with the returned ones, outside the lock.
            state.lastChunks = nil
            // Group membership moves with the order: every group is assembled anew.
            let count = (samplers.count + Self.groupSize - 1) / Self.groupSize + 1
            state.groupVersions = Array(repeating: state.generation, count: count)
            defer { state.groups = Array(repeating: nil, count: count) }
            return state.groups
        }
        // Released here, outside the lock.
        _ = consume stale
    }

    /// Stores a sampler's latest result. Its families are rendered here, once, and then
    /// dropped: only the rendered lines are kept, so each series is held in memory once.
    public func publish(_ snapshot: SamplerSnapshot) {
        for observer in publishObservers.withLock({ $0 }) { observer(snapshot) }
        var snapshot = snapshot
        let previousSize = state.withLock { $0.snapshots[snapshot.samplerID]?.rendered.text.count } ?? 0
        snapshot.rendered = RenderedSnapshot(snapshot.result.families, sizeHint: previousSize)
        snapshot.result.families = []
        // The replaced snapshot and stale groups are released when this returns, outside the lock.
        let _ = state.withLock { state -> (SamplerSnapshot?, [SampleGroup]) in
            guard state.expected[snapshot.samplerID] != nil else { return (nil, []) }
            state.generation &+= 1
            // Its groups are still held by `state.groups` or `stale`: nothing is freed here.
            state.lastChunks = nil
            // The groups whose lines change are dropped now, not at the next scrape: they
            // would otherwise keep the replaced snapshots' text alive until then.
            var stale: [SampleGroup] = []
            if let position = state.position[snapshot.samplerID] {
                state.changed(group: position / Self.groupSize, releasing: &stale)
            }
            let replaced = state.snapshots.updateValue(snapshot, forKey: snapshot.samplerID)
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
                // Its freshness series sit in the groups of the samplers declaring it, or
                // among the undeclared ones (the last group).
                for position in state.declaredBy[outcome.collector] ?? [] {
                    state.changed(group: position / Self.groupSize, releasing: &stale)
                }
                if !(state.expected[status.samplerID]?.collectors.contains(outcome.collector) ?? false) {
                    state.changed(group: state.groups.count - 1, releasing: &stale)
                }
            }
            return (replaced, stale)
        }
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
        state.withLock { state in
            state.order.flatMap { Self.declaredStatuses(of: $0, state) } + Self.undeclaredStatuses(state)
        }
    }

    private static func declaredStatuses(of id: String, _ state: State) -> [CollectorStatus] {
        (state.expected[id]?.collectors ?? []).compactMap { state.statuses[$0] }
    }

    private static func undeclaredStatuses(_ state: State) -> [CollectorStatus] {
        state.statuses.values
            .filter { !(state.expected[$0.samplerID]?.collectors.contains($0.collector) ?? false) }
            .sorted { $0.collector < $1.collector }
    }

    /// The latest snapshots in sampler order; their `result.families` are empty (see `publish`).
    public var snapshots: [SamplerSnapshot] {
        state.withLock { state in state.order.compactMap { state.snapshots[$0] } }
    }

    /// Every sampler's families plus collector freshness, rendered.
    public func renderedSamples(format: ExpositionFormat) -> String {
        samples(format: format).text
    }

    /// Every sampler's families plus collector freshness, as the chunks of the body in
    /// order. Groups that changed since they were last assembled are assembled here, from
    /// what the store holds at one moment (the body is one generation's, never a mix); the
    /// others are reused.
    public func samples(format: ExpositionFormat) -> SampleChunks {
        typealias Work = (index: Int, version: UInt64, members: [RenderedSnapshot], statuses: [CollectorStatus])
        if let unchanged = state.withLock({ state in
            state.lastChunks.flatMap { $0.generation == state.generation && $0.format == format ? $0 : nil }
        }) {
            return unchanged
        }
        var (generation, groups, work) = state.withLock { state -> (UInt64, [SampleGroup?], [Work]) in
            var work: [Work] = []
            let undeclared = state.groups.count - 1
            for index in state.groups.indices where state.groups[index] == nil {
                if index == undeclared {
                    work.append((index, state.groupVersions[index], [], Self.undeclaredStatuses(state)))
                } else {
                    let ids = state.order[index * Self.groupSize..<min(state.order.count, (index + 1) * Self.groupSize)]
                    work.append((index, state.groupVersions[index], ids.compactMap { state.snapshots[$0]?.rendered },
                                 ids.flatMap { Self.declaredStatuses(of: $0, state) }))
                }
            }
            return (state.generation, state.groups, work)
        }
        guard !work.isEmpty else { return remember(SampleChunks(generation: generation, format: format, groups: groups.map { $0! })) }
        var built: [(index: Int, group: SampleGroup)] = []
        for item in work {
            let group = SampleGroup(version: item.version, members: item.members, statuses: item.statuses)
            groups[item.index] = group
            built.append((item.index, group))
        }
        work = []
        state.withLock { state in
            // Kept unless a publish or a new sampler list made the group stale meanwhile.
            for (index, group) in built where index < state.groups.count && state.groups[index] == nil
                && state.groupVersions[index] == group.version {
                state.groups[index] = group
            }
        }
        return remember(SampleChunks(generation: generation, format: format, groups: groups.map { $0! }))
    }

    /// Keeps `chunks` for the next scrape while their generation is the store's.
    private func remember(_ chunks: SampleChunks) -> SampleChunks {
        state.withLock { state in
            if chunks.generation == state.generation { state.lastChunks = chunks }
        }
        return chunks
    }
}

/// The assembled lines of one group of samplers: their families in first-seen order, each
/// as the samplers' rendered blocks (references into the snapshots' text, not copies), and
/// the freshness lines of the collectors they declare.
struct SampleGroup: Sendable {
    struct Family: Sendable {
        var name: String
        var help: String
        var type: MetricType
        var slices: Range<Int>
        var byteCount: Int
    }

    /// A block of one member's text, by UTF-8 offsets.
    struct Slice: Sendable {
        var member: UInt32
        var start: UInt32
        var end: UInt32
    }

    let version: UInt64
    let texts: [RenderedLines]
    let families: [Family]
    let slices: [Slice]
    /// The sample lines of each `CollectorMetrics` family for this group's collectors, back
    /// to back, and where each family's lines end.
    let freshness: RenderedLines
    let freshnessEnds: [Int]

    init(version: UInt64, members: [RenderedSnapshot], statuses: [CollectorStatus]) {
        self.version = version
        texts = members.map(\.text)
        var index: [String: Int] = [:]
        var families: [Family] = []
        var perFamily: [[Slice]] = []
        for (member, snapshot) in members.enumerated() {
            for block in snapshot.blocks {
                let family = index[block.name] ?? {
                    index[block.name] = families.count
                    families.append(Family(name: block.name, help: block.help, type: block.type, slices: 0..<0, byteCount: 0))
                    perFamily.append([])
                    return families.count - 1
                }()
                perFamily[family].append(Slice(member: UInt32(member), start: UInt32(block.start), end: UInt32(block.end)))
                families[family].byteCount += block.end - block.start
            }
        }
        var slices: [Slice] = []
        slices.reserveCapacity(perFamily.reduce(0) { $0 + $1.count })
        for family in families.indices {
            families[family].slices = slices.count..<slices.count + perFamily[family].count
            slices += perFamily[family]
        }
        self.families = families
        self.slices = slices
        // Six freshness series per collector, each line about 96 bytes.
        var lines = LineBuffer(capacity: CollectorMetrics.heads.count * 96 * statuses.count)
        var ends: [Int] = []
        for family in CollectorMetrics.families(for: statuses) {
            Renderer.writeSamples(family, into: &lines)
            ends.append(lines.count)
        }
        freshness = lines.finish()
        freshnessEnds = ends
    }

    func freshnessRange(_ family: Int) -> Range<Int> {
        (family == 0 ? 0 : freshnessEnds[family - 1])..<freshnessEnds[family]
    }
}

/// The samples part of a `/metrics` body as chunks, in order: for each freshness family
/// (`mitra_exporter_collector_*`) then each sampler family in first-seen order, its HELP and
/// TYPE lines, then its lines from each group of samplers that has some. A chunk's text
/// changes only when its group's samplers publish, so anything derived from a chunk (its
/// compressed form) can be kept by `id` and `version`.
public struct SampleChunks: Sendable {
    public enum ChunkID: Hashable, Sendable {
        /// A family's HELP and TYPE lines, identified by their text (it differs between formats).
        case header(String)
        /// One sampler family's lines from one group of samplers.
        case samples(family: String, group: Int)
        /// One freshness family's lines for the collectors of one group.
        case freshness(family: Int, group: Int)
    }

    public struct Chunk: Sendable {
        public let id: ChunkID
        /// Changes whenever the chunk's text does (within one store).
        public let version: UInt64
        fileprivate let group: Int
        fileprivate let family: Int
    }

    /// The store's generation this body belongs to: it changes with every publish.
    public let generation: UInt64
    public let format: ExpositionFormat
    public let chunks: [Chunk]
    /// The body's length in UTF-8 bytes.
    public let byteCount: Int
    private let groups: [SampleGroup]

    init(generation: UInt64, format: ExpositionFormat, groups: [SampleGroup]) {
        self.generation = generation
        self.format = format
        self.groups = groups
        var chunks: [Chunk] = []
        var size = 0
        // Headers are chunks of their own, with group -1 and their text as id.
        func header(name: String, help: String, type: MetricType) {
            var text = ""
            Renderer.writeHeader(name: name, help: help, type: type, format: format, into: &text)
            size += text.utf8.count
            chunks.append(Chunk(id: .header(text), version: 0, group: -1, family: -1))
        }
        for (family, head) in CollectorMetrics.heads.enumerated() {
            let parts = groups.indices.filter { !groups[$0].freshnessRange(family).isEmpty }
            guard !parts.isEmpty else { continue }
            header(name: head.name, help: head.help, type: head.type)
            for group in parts {
                size += groups[group].freshnessRange(family).count
                chunks.append(Chunk(id: .freshness(family: family, group: group), version: groups[group].version, group: group, family: family))
            }
        }
        // Families in first-seen order over the groups (which is first-seen order over the
        // samplers), each with the groups that have it.
        var index: [String: Int] = [:]
        var order: [(head: SampleGroup.Family, parts: [(group: Int, family: Int)])] = []
        for (group, assembled) in groups.enumerated() {
            for (family, head) in assembled.families.enumerated() {
                if let known = index[head.name] {
                    order[known].parts.append((group, family))
                } else {
                    index[head.name] = order.count
                    order.append((head, [(group, family)]))
                }
            }
        }
        for (head, parts) in order {
            header(name: head.name, help: head.help, type: head.type)
            for (group, family) in parts {
                size += groups[group].families[family].byteCount
                chunks.append(Chunk(id: .samples(family: head.name, group: group), version: groups[group].version, group: group, family: family))
            }
        }
        self.chunks = chunks
        self.byteCount = size
    }

    /// Calls `body` with the UTF-8 bytes of `chunk`, in pieces.
    public func forEachPiece(of chunk: Chunk, _ body: (UnsafeRawBufferPointer) -> Void) {
        switch chunk.id {
        case .header(let text):
            var text = text
            text.withUTF8 { body(UnsafeRawBufferPointer($0)) }
        case .freshness(let family, _):
            let group = groups[chunk.group]
            group.freshness.withBytes(group.freshnessRange(family), body)
        case .samples:
            let group = groups[chunk.group]
            for slice in group.slices[group.families[chunk.family].slices] {
                group.texts[Int(slice.member)].withBytes(Int(slice.start)..<Int(slice.end), body)
            }
        }
    }

    /// Calls `body` with the whole body's UTF-8 bytes, in pieces.
    public func forEachPiece(_ body: (UnsafeRawBufferPointer) -> Void) {
        for chunk in chunks { forEachPiece(of: chunk, body) }
    }

    /// Appends `chunk`'s text to `output`.
    public func write(_ chunk: Chunk, into output: inout [UInt8]) {
        forEachPiece(of: chunk) { output.append(contentsOf: $0) }
    }

    /// The whole body, built on demand (it is not kept: a gzip scrape never needs it).
    public var text: String {
        String(unsafeUninitializedCapacity: byteCount) { buffer in
            var written = 0
            forEachPiece { piece in
                UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[written..<written + piece.count])
                    .copyMemory(from: piece)
                written += piece.count
            }
            return written
        }
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

    var text = RenderedLines.empty
    var blocks: [Block] = []

    init() {}

    /// `sizeHint`: the byte size of the sampler's previous render, so the buffer is allocated
    /// once at about the right size instead of doubling its way there (each doubling copies
    /// and leaves freed pages behind).
    init(_ families: [MetricFamily], sizeHint: Int = 0) {
        var lines = LineBuffer(capacity: sizeHint + sizeHint / 8 + 256)
        let merged = Renderer.merge(families)
        blocks.reserveCapacity(merged.count)
        for family in merged where !family.series.isEmpty {
            let start = lines.count
            Renderer.writeSamples(family, into: &lines)
            blocks.append(Block(name: family.name, help: family.help, type: family.type, start: start, end: lines.count))
        }
        self.text = lines.finish()
    }
}

/// `mitra_exporter_collector_*`: freshness you can alert on without knowing each sampler.
enum CollectorMetrics {
    /// The families' names, HELP and types, in the order they are exposed.
    static let heads: [(name: String, help: String, type: MetricType)] = [
        ("mitra_exporter_collector_success", "Whether the collector's last run succeeded (1) or failed (0).", .gauge),
        ("mitra_exporter_collector_duration_seconds", "Duration of the collector's last run in seconds.", .gauge),
        ("mitra_exporter_collector_last_success_timestamp_seconds", "Unix time of the collector's last successful run.", .gauge),
        ("mitra_exporter_collector_interval_seconds", "Configured interval between the collector's runs, for staleness alerts.", .gauge),
        ("mitra_exporter_collector_runs_total", "Runs of the collector since the exporter started or the entry changed.", .counter),
        ("mitra_exporter_collector_failures_total", "Failed runs of the collector since the exporter started or the entry changed.", .counter),
    ]

    /// The families of `heads`, in its order, with the series of `statuses` (some may be empty).
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
        return zip(heads, [success, duration, lastSuccess, interval, runs, failures]).map { head, series in
            MetricFamily(name: head.name, help: head.help, type: head.type, series: series)
        }
    }
}
