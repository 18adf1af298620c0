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
    private let compressedSamples = Mutex<(format: ExpositionFormat, generation: UInt64, part: GzipSplice.Part)?>(nil)

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

    /// One scrape's `/metrics` body: the exporter's own metrics (counting this scrape), the
    /// cached render of all snapshots (shared with the cache, not copied) and the generation
    /// it belongs to. Built once per request, whether it is then sent plain or gzipped.
    public struct ScrapeBody: Sendable {
        public let format: ExpositionFormat
        public let selfMetrics: String
        public let samples: String
        public let generation: UInt64

        /// The body in pieces, written straight into the response buffer (one copy).
        public var parts: [String] {
            format == .openMetrics ? [selfMetrics, samples, Renderer.eofMarker] : [selfMetrics, samples]
        }
    }

    public func scrapeBody(format: ExpositionFormat) -> ScrapeBody {
        let selfMetrics = selfMetrics(format: format)
        let (generation, samples) = store.renderedSamplesAndGeneration(format: format)
        return ScrapeBody(format: format, selfMetrics: selfMetrics, samples: samples, generation: generation)
    }

    /// The body gzip-compressed. The samples part is compressed once per publish and kept; a
    /// scrape compresses only the exporter's own metrics and joins the two (`GzipSplice`), so
    /// a gzip scrape costs about what a plain one does.
    public func gzip(_ body: ScrapeBody) throws -> ByteBuffer {
        let head = try GzipSplice.deflate(body.selfMetrics, final: false, level: 6, windowBits: 12, memLevel: 5)
        let cached = compressedSamples.withLock { cache -> GzipSplice.Part? in
            // Like the rendered body, one entry: a stale one is released before the new one is built.
            if cache?.generation != body.generation || cache?.format != body.format { cache = nil }
            return cache?.part
        }
        if let cached { return GzipSplice.member(head: head, tail: cached) }
        let text = body.format == .openMetrics ? body.samples + Renderer.eofMarker : body.samples
        let tail = try GzipSplice.deflate(text, final: true, level: 6)
        compressedSamples.withLock { $0 = (body.format, body.generation, tail) }
        return GzipSplice.member(head: head, tail: tail)
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
        scrapeBody(format: format).parts.joined()
    }

    /// Runs the scheduler until cancelled, then releases the factory's shared resources.
    public func run() async {
        await scheduler.run()
        await factory.shutdown()
    }
}
