public import ExporterConfig
public import Exposition
import LogFormats
public import Logging
public import NIOCore
public import Sampling
import Synchronization

/// Owns what runs: the current configuration, its samplers, the snapshot store, and the
/// reload state. HTTP handlers and signal handlers talk to this one object.
public final class ExporterRuntime: Sendable {
    public let store: SnapshotStore
    public let scheduler: SamplerScheduler
    /// What the status page's KPI board computes its windows from.
    public let kpiHistory = KPIHistory()
    private let factory: any SamplerFactory
    private let configPath: String
    private let resolver: SecretResolver
    private let shard: Shard?
    private let logger: Logger
    private let logRedaction: LogRedaction?
    private let processStats: any ProcessStatsSource

    private struct Running: Sendable {
        var fingerprint: any Hashable & Sendable
        var sampler: any Sampler
    }

    private struct State: Sendable {
        var config: Configuration
        var running: [String: Running] = [:]
        var reload: SelfMetrics.ReloadState
        var scrapes: UInt64 = 0
    }

    private let state: Mutex<State>
    /// Every chunk of the last gzip body, compressed, by chunk (see `gzip`).
    private let compressedChunks = Mutex<[SampleChunks.ChunkID: (version: UInt64, part: GzipSplice.Part)]>([:])
    /// The last gzip scrape's samples: their generation and format, and once a second scrape
    /// found the same generation, its chunks joined into one part. Between publishes every
    /// scrape then only compresses the exporter's own metrics, instead of looking up and
    /// combining the CRCs of some hundred chunks (a third of a gzip scrape's CPU with one
    /// PostgreSQL instance). With thousands of checks a sampler publishes between almost any
    /// two scrapes, and nothing is joined.
    private let joinedSamples = Mutex<(generation: UInt64, format: ExpositionFormat, part: GzipSplice.Part?)?>(nil)

    public init(config: Configuration, configPath: String, factory: any SamplerFactory, store: SnapshotStore = SnapshotStore(),
                resolver: SecretResolver = SecretResolver(), shard: Shard? = nil, logger: Logger,
                logRedaction: LogRedaction? = nil, processStats: any ProcessStatsSource = ProcSelfStats()) {
        self.store = store
        self.scheduler = SamplerScheduler(store: store, logger: logger)
        self.factory = factory
        self.configPath = configPath
        self.resolver = resolver
        self.shard = shard
        self.logger = logger
        self.logRedaction = logRedaction
        self.processStats = processStats
        self.state = Mutex(State(config: config, reload: .init(successful: true, lastSuccessTimestamp: store.clock.now())))
        store.observePublishes { [kpiHistory] in kpiHistory.record($0) }
        apply(config)
    }

    public var configuration: Configuration { state.withLock { $0.config } }
    public var redactor: Redactor { state.withLock { $0.config.redactor } }
    public var isReady: Bool { store.isReady }
    public var lastReloadSuccessful: Bool { state.withLock { $0.reload.successful } }
    public var runningSamplers: [any Sampler] { state.withLock { Array($0.running.values.map(\.sampler)) } }

    public func sampler(id: String) -> (any Sampler)? {
        state.withLock { $0.running[id]?.sampler }
    }

    /// The web config re-read with the config on reload (`--web.config.file`).
    private let webConfig = Mutex<WebConfigState?>(nil)

    /// From now on, a reload re-reads this web config too. A reload applies both files or neither.
    public func reloadsWebConfig(_ webState: WebConfigState) {
        webConfig.withLock { $0 = webState }
    }

    /// Re-reads the config file. On error the running configuration stays in place, the
    /// errors are logged, and `mitra_exporter_config_last_reload_successful` turns 0.
    @discardableResult
    public func reload() -> Result<Configuration, ConfigErrors> {
        do {
            let applyWebConfig = try webConfig.withLock { $0 }?.prepareReload()
            let config = try ConfigLoader.load(path: configPath, resolver: resolver)
            applyWebConfig?()
            apply(config)
            let now = store.clock.now()
            state.withLock { $0.reload = .init(successful: true, lastSuccessTimestamp: now) }
            logger.info("configuration reloaded", metadata: ["file": .string(configPath)])
            return .success(config)
        } catch {
            state.withLock { $0.reload.successful = false }
            for problem in error.errors {
                logger.error("configuration reload failed; keeping the running configuration", metadata: ["error": .string(problem.description)])
            }
            return .failure(error)
        }
    }

    private func apply(_ config: Configuration) {
        let redactor = config.redactor
        logRedaction?.set { redactor.redact($0) }
        let planned = factory.plan(config).filter { shard?.owns($0.id) ?? true }
        let samplers = state.withLock { state -> [any Sampler] in
            var next: [String: Running] = [:]
            var ordered: [any Sampler] = []
            for plan in planned where next[plan.id] == nil {
                let entry: Running
                if let existing = state.running[plan.id], plan.hasSameFingerprint(as: existing.fingerprint) {
                    entry = existing
                } else {
                    entry = Running(fingerprint: plan.fingerprint, sampler: plan.make())
                }
                next[plan.id] = entry
                ordered.append(entry.sampler)
            }
            state.running = next
            state.config = config
            return ordered
        }
        scheduler.replace(with: samplers)
        kpiHistory.retainSamplers(Set(samplers.map(\.id)))
    }

    /// One scrape's `/metrics` body: the exporter's own metrics (counting this scrape) and the
    /// samples as chunks of one generation of the store. Built once per request, whether it is
    /// then sent plain or gzipped; the plain text is only put together for a plain response.
    public struct ScrapeBody: Sendable {
        public let format: ExpositionFormat
        public let selfMetrics: String
        public let samples: SampleChunks
        public var generation: UInt64 { samples.generation }

        /// The body's length in UTF-8 bytes.
        public var byteCount: Int {
            selfMetrics.utf8.count + samples.byteCount + (format == .openMetrics ? Renderer.eofMarker.utf8.count : 0)
        }

        /// Writes the plain body into `buffer` (one copy of each piece).
        public func write(into buffer: inout ByteBuffer) {
            buffer.writeString(selfMetrics)
            samples.forEachPiece { buffer.writeBytes($0) }
            if format == .openMetrics { buffer.writeString(Renderer.eofMarker) }
        }

        /// The plain body as one string (tests).
        public var text: String {
            var buffer = ByteBufferAllocator().buffer(capacity: byteCount)
            write(into: &buffer)
            return String(buffer: buffer)
        }
    }

    public func scrapeBody(format: ExpositionFormat) -> ScrapeBody {
        let selfMetrics = selfMetrics(format: format)
        return ScrapeBody(format: format, selfMetrics: selfMetrics, samples: store.samples(format: format))
    }

    /// The part that ends every gzip body of a format (`# EOF` for OpenMetrics, nothing for
    /// the text format): the same bytes every scrape, so compressed once.
    private static let streamEnds = Result { () throws -> [ExpositionFormat: GzipSplice.Part] in
        try Dictionary(uniqueKeysWithValues: ExpositionFormat.allCases.map { format in
            (format, try GzipSplice.deflate(format == .openMetrics ? Renderer.eofMarker : "", final: true, level: 6,
                                            windowBits: 9, memLevel: 1))
        })
    }

    /// The body gzip-compressed. Every chunk of the samples is compressed once per change and
    /// kept; a scrape compresses only the exporter's own metrics and the chunks whose samplers
    /// published since they were compressed, and joins the parts (`GzipSplice`). So a gzip
    /// scrape costs about what the changed chunks weigh, not the whole body.
    public func gzip(_ body: ScrapeBody) throws -> ByteBuffer {
        let samples = body.samples
        let head = try GzipSplice.deflate(body.selfMetrics, final: false, level: 6, windowBits: 12, memLevel: 5)
        let end = try Self.streamEnds.get()[body.format]!
        let seenBefore = joinedSamples.withLock { last -> (joined: GzipSplice.Part?, sameGeneration: Bool) in
            guard let last, last.generation == samples.generation, last.format == body.format else { return (nil, false) }
            return (last.part, true)
        }
        if let joined = seenBefore.joined { return GzipSplice.member([head, joined, end]) }
        var parts: [GzipSplice.Part] = []
        parts.reserveCapacity(samples.chunks.count + 2)
        parts.append(head)
        let cached = compressedChunks.withLock { cache in
            samples.chunks.map { chunk in cache[chunk.id].flatMap { $0.version == chunk.version ? $0.part : nil } }
        }
        var compressed: [(chunk: SampleChunks.Chunk, part: GzipSplice.Part)] = []
        var text: [UInt8] = []
        for (chunk, part) in zip(samples.chunks, cached) {
            if let part {
                parts.append(part)
                continue
            }
            text.removeAll(keepingCapacity: true)
            samples.write(chunk, into: &text)
            let part = try GzipSplice.deflate(text, final: false, level: 6)
            parts.append(part)
            compressed.append((chunk, part))
        }
        parts.append(end)
        // The second scrape of one generation joins the chunks for the ones after it.
        let joined = seenBefore.sameGeneration ? GzipSplice.join(parts.dropFirst().dropLast()) : nil
        joinedSamples.withLock { last in
            if (last?.generation ?? 0) <= samples.generation {
                last = (samples.generation, body.format, joined)
            }
        }
        compressedChunks.withLock { cache in
            // A concurrent scrape of an older generation does not put back older chunks.
            for (chunk, part) in compressed where cache[chunk.id].map({ $0.version < chunk.version }) ?? true {
                cache[chunk.id] = (chunk.version, part)
            }
            // Chunks no longer in the body (a family gone, fewer samplers, the other format's
            // headers) are dropped.
            if cache.count > samples.chunks.count {
                let live = Set(samples.chunks.map(\.id))
                cache = cache.filter { live.contains($0.key) }
            }
        }
        return GzipSplice.member(parts)
    }

    /// The exporter's own families; counts the scrape.
    private func selfMetrics(format: ExpositionFormat) -> String {
        let (reload, scrapes, config) = state.withLock { state -> (SelfMetrics.ReloadState, UInt64, Configuration) in
            state.scrapes &+= 1
            return (state.reload, state.scrapes, state.config)
        }
        var text = ""
        Renderer.render(SelfMetrics.families(reload: reload, scrapes: scrapes, droppedLogLines: LogLineDrops.total, process: processStats.read())
                            + ServiceMetrics.families(config),
                        format: format, into: &text)
        return text
    }

    /// The whole `/metrics` body as one string (tests).
    public func metricsBody(format: ExpositionFormat) -> String {
        scrapeBody(format: format).text
    }

    /// Runs the scheduler until cancelled, then releases the factory's shared resources.
    public func run() async {
        await scheduler.run()
        await factory.shutdown()
    }
}
