import Exposition
import ExporterConfig
import Logging
import PostgresClient
import Sampling

/// How soon to try again after failing to connect: doubling from `initial` up to `maximum`.
public struct ReconnectBackoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
    }

    public static let standard = ReconnectBackoff(initial: .seconds(1), maximum: .seconds(60))

    func delay(afterFailures failures: Int) -> Duration {
        var delay = initial
        for _ in 1..<max(1, failures) {
            delay *= 2
            if delay >= maximum { return maximum }
        }
        return min(delay, maximum)
    }
}

/// Samples one PostgreSQL instance over one long-lived, read-only connection.
///
/// Each enabled collector reports its own outcome (`postgres/<name>/<collector>`), so a view
/// that is missing or forbidden fails alone. When the server cannot be reached, the run
/// publishes `pg_up 0` at once and nothing else: no stale value is presented as current.
public actor PostgresSampler: Sampler {
    public nonisolated let id: String
    public nonisolated let interval: Duration
    public nonisolated let timeout: Duration
    public nonisolated let collectorNames: [String]
    /// `report` logs each collector's problem once, with the instance and collector named.
    public nonisolated let logsOwnFailures = true

    private nonisolated let config: PostgresInstanceConfig
    private nonisolated let settings: PostgresConnectionSettings
    private nonisolated let backoff: ReconnectBackoff
    private nonisolated let redactor: Redactor
    private nonisolated let logger: Logger
    private nonisolated let kinds: [PostgresCollectorKind]
    private nonisolated let baseLabels: [Label]
    private nonisolated let queryCollectors: [SQLQueryCollector]

    private var connection: PostgresConnection?
    private var consecutiveConnectFailures = 0
    private var nextConnectAttempt: ContinuousClock.Instant?
    private var lastConnectError: String?
    /// The enabled collectors in priority order; each keeps its own state between runs.
    private var collectors: [any PostgresCollector]
    private var droppedSeries: [PostgresCollectorKind: Double] = [:]
    private var reportedProblems: [PostgresCollectorKind: String] = [:]
    private var reportedBudget: Set<PostgresCollectorKind> = []
    private var isShutDown = false
    private var reportedQueryProblems: [String: String] = [:]
    /// Set while pg_stat_statements is missing: the collector reports the same error without
    /// asking the server again until then (see `StatementsReader.missingRecheck`).
    var statementsMissing: (message: String, recheckAt: ContinuousClock.Instant)? {
        collectors.lazy.compactMap { $0 as? StatementsCollector }.first?.missing
    }

    /// Cheap, small collectors first: when the run's budget (time or series) runs out, the
    /// large ones (tables, statements) are the ones cut short.
    static let priority: [PostgresCollectorKind] = [.database, .activity, .settings, .locks, .replication, .bgwriter, .wal, .io, .tables, .statements]

    public init(config: PostgresInstanceConfig, logger: Logger, backoff: ReconnectBackoff = .standard) {
        self.config = config
        self.id = "postgres/\(config.name)"
        self.interval = config.interval
        self.timeout = config.timeout
        let kinds = Self.priority.filter { config.collectors.contains($0) }
        self.kinds = kinds
        self.backoff = backoff
        self.redactor = Redactor(secrets: config.passwordSecrets)
        var logger = logger
        logger[metadataKey: "postgres"] = .string(config.name)
        self.logger = logger
        self.collectors = kinds.map { $0.makeCollector(config: config, logger: logger) }
        let baseLabels = [Label("instance_name", config.name)] + config.labels.map { Label($0.name, $0.value) }
        self.baseLabels = baseLabels
        self.queryCollectors = config.queries.map {
            SQLQueryCollector(config: $0, instanceName: config.name, instanceLabels: $0.constantLabels(instanceLabels: baseLabels), defaultInterval: config.interval, logger: logger)
        }
        self.collectorNames = kinds.map { "postgres/\(config.name)/\($0.rawValue)" } + queryCollectors.map(\.collectorName)
        let target: PostgresConnectionTarget = config.parameters.isEmpty
            ? .connectionString(config.dsn)
            : .parameters(config.parameters.map { .init($0.key, $0.value) })
        self.settings = PostgresConnectionSettings(
            target: target, connectTimeout: config.connectTimeout, statementTimeout: config.statementTimeout,
            lockTimeout: config.lockTimeout)
    }

    public func shutdown() async {
        isShutDown = true
        await connection?.close()
        connection = nil
    }

    public func sample() async -> SampleResult {
        let started = ContinuousClock.now
        let deadline = started + timeout
        let session: CollectorSession, sampleConnection: PostgresConnection
        switch await openSession(deadline: deadline) {
        case .success(let opened, let connection): (session, sampleConnection) = (opened, connection)
        case .failure(let message): return unreachable(message, started: started)
        }

        var sets: [(PostgresCollectorKind, MetricSet)] = []
        var outcomes: [CollectorOutcome] = []
        for index in collectors.indices {
            var collector = collectors[index]
            let kind = collector.kind
            let collectorStarted = ContinuousClock.now
            guard collectorStarted < deadline else {
                outcomes.append(outcome(kind, started: collectorStarted,
                                        error: "skipped: the run's \(Renderer.formatNumber(timeout.inSeconds))s timeout was used up by earlier collectors"))
                continue
            }
            var set = MetricSet()
            do throws(CollectorFailure) {
                if let problem = kind.unsupportedReason(serverVersion: session.serverVersion) { throw .unavailable(problem) }
                defer { collectors[index] = collector }
                try await collector.collect(session, into: &set)
                sets.append((kind, set))
                outcomes.append(outcome(kind, started: collectorStarted, error: nil))
                if reportedProblems.removeValue(forKey: kind) != nil {
                    logger.info("postgres \(config.name): \(kind.rawValue): collector works again")
                }
            } catch {
                if case .postgres(let failure) = error, failure.kind == .connectionLost || failure.kind == .closed {
                    // The server went away mid-run: nothing collected so far is trustworthy as current.
                    await dropConnection()
                    nextConnectAttempt = nil
                    return unreachable(redactor.redact(failure.description), started: started)
                }
                let message = redactor.redact(error.message)
                outcomes.append(outcome(kind, started: collectorStarted, error: message))
                report(kind, message)
            }
        }
        var families = budgeted(sets)
        // SQL-defined collectors come last: they have their own series caps, and a slow one
        // must not starve the built-in views.
        for query in queryCollectors {
            let connection = sampleConnection
            let (queryFamilies, outcome) = await query.collect(execute: { sql, parameters throws(PostgresError) in
                try await connection.query(sql, parameters, deadline: deadline)
            })
            families += queryFamilies
            if let outcome {
                outcomes.append(outcome)
                if let error = outcome.error, reportedQueryProblems[query.collectorName] != error {
                    logger.warning("postgres \(config.name): \(error)")
                }
                reportedQueryProblems[query.collectorName] = outcome.error
            }
        }
        await sampleConnection.endSample(deadline: max(deadline, ContinuousClock.now + .seconds(1)))
        return SampleResult(families: families, outcomes: outcomes)
    }

    // MARK: - Connection

    private enum SessionResult {
        case success(CollectorSession, PostgresConnection)
        case failure(String)
    }

    private func openSession(deadline: ContinuousClock.Instant) async -> SessionResult {
        if isShutDown { return .failure("shut down") }
        if let connection {
            switch await preflight(connection, deadline: deadline) {
            case .success(let session): return .success(session, connection)
            case .failure(let error) where !error.connectionUnusable:
                return .failure(redactor.redact(error.description))
            case .failure:
                // A restart or network drop: reconnect at once, the server is probably back.
                await dropConnection()
                nextConnectAttempt = nil
            }
        }
        if let next = nextConnectAttempt, ContinuousClock.now < next {
            let wait = ContinuousClock.now.duration(to: next)
            return .failure("\(lastConnectError ?? "not connected") (next connection attempt in \(Renderer.formatNumber((wait.inSeconds * 10).rounded(.up) / 10))s)")
        }
        let opened: PostgresConnection
        do {
            opened = try await PostgresConnection.connect(settings)
        } catch {
            consecutiveConnectFailures += 1
            nextConnectAttempt = ContinuousClock.now + backoff.delay(afterFailures: consecutiveConnectFailures)
            let message = redactor.redact(error.description)
            if message != lastConnectError {
                logger.warning("postgres \(config.name): \(message)")
            }
            lastConnectError = message
            return .failure(message)
        }
        if isShutDown {
            // shutdown() ran while this run was connecting: the new session must not outlive it.
            await opened.close()
            return .failure("shut down")
        }
        if lastConnectError != nil {
            logger.info("postgres \(config.name): connected (server version \(opened.serverVersion))")
        }
        consecutiveConnectFailures = 0
        nextConnectAttempt = nil
        lastConnectError = nil
        connection = opened
        switch await preflight(opened, deadline: deadline) {
        case .success(let session): return .success(session, opened)
        case .failure(let error):
            if error.connectionUnusable { await dropConnection() }
            return .failure(redactor.redact(error.description))
        }
    }

    private enum PreflightResult {
        case success(CollectorSession)
        case failure(PostgresError)
    }

    /// Opens the sample's read-only transaction (see `beginReadOnlySample`: no configured
    /// query can write or lift it), then one round trip that proves the session works and
    /// reads what every collector needs.
    private func preflight(_ connection: PostgresConnection, deadline: ContinuousClock.Instant) async -> PreflightResult {
        do {
            try await connection.beginReadOnlySample(deadline: deadline)
            let result = try await connection.query("SELECT current_database() AS db, pg_is_in_recovery() AS replica", deadline: deadline)
            let row = result.namedRows.first
            return .success(CollectorSession(connection: connection, deadline: deadline, config: config,
                                             serverVersion: connection.serverVersion, currentDatabase: row?.string("db") ?? "",
                                             isReplica: row?["replica"] == "t"))
        } catch {
            return .failure(error)
        }
    }

    private func dropConnection() async {
        await connection?.close()
        connection = nil
    }

    // MARK: - Results

    private func outcome(_ kind: PostgresCollectorKind, started: ContinuousClock.Instant, error: String?) -> CollectorOutcome {
        CollectorOutcome(collector: "postgres/\(config.name)/\(kind.rawValue)", success: error == nil,
                         durationSeconds: (ContinuousClock.now - started).inSeconds, error: error)
    }

    /// Logs a collector's problem once (and again only if it changes), not on every run.
    private func report(_ kind: PostgresCollectorKind, _ message: String) {
        guard reportedProblems[kind] != message else { return }
        reportedProblems[kind] = message
        logger.warning("postgres \(config.name): \(kind.rawValue): collector failed: \(message)")
    }

    private func unreachable(_ message: String, started: ContinuousClock.Instant) -> SampleResult {
        unreachable(message, seconds: (ContinuousClock.now - started).inSeconds)
    }

    private nonisolated func unreachable(_ message: String, seconds: Double) -> SampleResult {
        let up = MetricFamily.gauge("pg_up", "Whether the exporter could reach the PostgreSQL server on its last run (1) or not (0).", [Series([], 0)])
        return SampleResult(
            families: [up.addingLabels(baseLabels)],
            outcomes: collectorNames.map { CollectorOutcome(collector: $0, success: false, durationSeconds: seconds, error: message) })
    }

    /// A run the scheduler gave up on: the server did not answer in time, which is what
    /// `pg_up 0` means.
    public nonisolated func timedOutResult(after seconds: Double) -> SampleResult {
        unreachable("timed out after \(Renderer.formatNumber(seconds))s", seconds: seconds)
    }

    /// Applies the series budget in collector priority order; within a collector, whole
    /// entities are dropped lowest-ranked first.
    private func budgeted(_ sets: [(PostgresCollectorKind, MetricSet)]) -> [MetricFamily] {
        var families = [MetricFamily.gauge("pg_up", "Whether the exporter could reach the PostgreSQL server on its last run (1) or not (0).", [Series([], 1)])]
        var remaining = config.seriesBudget - 1 - kinds.count
        for (kind, set) in sets {
            let (kept, dropped) = set.families(limit: max(0, remaining))
            remaining -= set.count - dropped
            families += kept
            if dropped > 0 {
                droppedSeries[kind, default: 0] += Double(dropped)
                if !reportedBudget.contains(kind) {
                    reportedBudget.insert(kind)
                    logger.warning("postgres \(config.name): \(kind.rawValue): series budget of \(config.seriesBudget) reached; dropped \(dropped) lowest-ranked series (counted in mitra_exporter_series_dropped_total)")
                }
            }
        }
        families.append(.counter("mitra_exporter_series_dropped_total", "Series not exported because the instance's series budget was reached.",
                                 kinds.map { Series([Label("collector", "postgres/\(config.name)/\($0.rawValue)")], droppedSeries[$0] ?? 0) }))
        return families.addingLabels(baseLabels)
    }
}
