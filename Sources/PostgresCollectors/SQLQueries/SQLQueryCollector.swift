import ExporterConfig
import Exposition
import Logging
import PostgresClient
import Sampling
import Synchronization

/// Runs one SQL-defined collector (`queries:` entry) over the instance's connection.
///
/// - `gauge` mode exports the rows of each run as they are.
/// - `incremental` mode reads only rows whose key is past the last counted key, up to the
///   newest settled key (see `KeyWatermark`), and adds their aggregates to counters and
///   histograms held here, so the counters are exact and never go backwards. On start the
///   watermark is the table's current largest key: rows older than the exporter are not
///   counted, and Prometheus' `rate()` treats the restart as a counter reset.
public final class SQLQueryCollector: Sendable {
    public typealias Execute = @Sendable (_ sql: String, _ parameters: [String?]) async throws(PostgresError) -> QueryResult

    public let config: SQLQueryConfig
    /// The `collector` label: `postgres/<instance>/query/<name>`.
    public let collectorName: String
    private let instanceLabels: [Label]
    private let defaultInterval: Duration
    private let logger: Logger
    private let state = Mutex(State())

    private struct State: Sendable {
        var watermark = KeyWatermark()
        var rangeLimit = CountRangeLimit()
        var counters: [String: [[Label]: Double]] = [:]
        var histograms: [String: [[Label]: HistogramValue]] = [:]
        var seriesOrder: [String: [[Label]]] = [:]
        var gaugeFamilies: [MetricFamily] = []
        var lastRun: ContinuousClock.Instant?
        var droppedSeries: UInt64 = 0
        var loggedDrop = false
    }

    public init(config: SQLQueryConfig, instanceName: String, instanceLabels: [Label], defaultInterval: Duration, logger: Logger) {
        self.config = config
        self.collectorName = "postgres/\(instanceName)/query/\(config.name)"
        self.instanceLabels = instanceLabels
        self.defaultInterval = defaultInterval
        self.logger = logger
    }

    struct Failure: Error {
        let message: String
    }

    /// Runs the query when it is due. Returns the families to export now, and an outcome
    /// when it ran (nil when the previous result was reused because `min_interval` has not
    /// passed). The caller must not run two collections of one collector at once.
    public func collect(execute: Execute, now: ContinuousClock.Instant = .now) async -> (families: [MetricFamily], outcome: CollectorOutcome?) {
        let lastRun = state.withLock { $0.lastRun }
        let minInterval = config.minInterval ?? defaultInterval
        // A little slack so a query due "every interval" is not skipped by scheduling jitter.
        if let lastRun, now - lastRun < minInterval - min(minInterval / 10, .seconds(1)) {
            return (families(), nil)
        }
        state.withLock { $0.lastRun = now }
        let started = ContinuousClock.now
        do {
            switch config.mode {
            case .gauge: try await runGauge(execute)
            case .incremental(let key): try await runIncremental(execute, key: key, now: now)
            }
            return (families(), CollectorOutcome(collector: collectorName, success: true, durationSeconds: (ContinuousClock.now - started).inSeconds))
        } catch {
            let message: String
            switch error {
            case let failure as Failure: message = failure.message
            case let postgres as PostgresError: message = "query \(config.name): \(postgres.description)"
            default: message = "query \(config.name): \(error)"
            }
            if config.mode == .gauge { state.withLock { $0.gaugeFamilies = [] } }
            return (families(), CollectorOutcome(collector: collectorName, success: false,
                                                 durationSeconds: (ContinuousClock.now - started).inSeconds, error: message))
        }
    }

    // MARK: gauge mode

    private func runGauge(_ execute: Execute) async throws {
        let result = try await execute(config.sql, [])
        try validate(result)
        var families: [MetricFamily] = []
        var seriesCount = 0
        for metric in config.metrics {
            var seen: Set<[Label]> = []
            var series: [Series] = []
            for row in result.namedRows {
                let labels = metric.labels.map { Label($0, row[$0] ?? "") }
                guard seen.insert(labels).inserted else { throw duplicate(metric, labels) }
                seriesCount += 1
                if seriesCount > config.maxSeries {
                    recordDrop(1)
                    continue
                }
                switch metric.value {
                case .histogram(let columns):
                    series.append(Series(labels: instanceLabels + labels, value: .histogram(try histogram(columns, row))))
                case .counter(let column), .gauge(let column):
                    series.append(Series(instanceLabels + labels, try number(column, row)))
                }
            }
            families.append(MetricFamily(name: metric.name, help: help(metric), type: type(metric), series: series))
        }
        state.withLock { $0.gaugeFamilies = families }
    }

    // MARK: incremental mode

    private func runIncremental(_ execute: Execute, key: SQLQueryConfig.Key, now: ContinuousClock.Instant) async throws {
        // Quoted: identifiers cannot be bound as parameters, and config text must never become SQL.
        guard let table = SQLIdentifier(parsing: key.table, maxParts: 2), let column = SQLIdentifier(parsing: key.column, maxParts: 1) else {
            throw Failure(message: "query \(config.name): key {table: \(key.table), column: \(key.column)} is not a table and column name")
        }
        let probe = try await execute("""
            SELECT max(\(column.quoted))::text AS max_key,
                   pg_snapshot_xmin(pg_current_snapshot())::text AS snapshot_xmin,
                   pg_snapshot_xmax(pg_current_snapshot())::text AS snapshot_xmax
            FROM \(table.quoted)
            """, [])
        guard let row = probe.namedRows.first,
              let xmin = row["snapshot_xmin"].flatMap(UInt64.init), let xmax = row["snapshot_xmax"].flatMap(UInt64.init) else {
            throw Failure(message: "query \(config.name): cannot read the largest key of \(key.table)")
        }
        guard let maxKey = row["max_key"].map({ Int64($0) }) ?? 0 else {
            throw Failure(message: "query \(config.name): key column \(key.table).\(key.column) is not an integer")
        }
        let observation = KeyWatermark.Observation(maxKey: maxKey, snapshotXmin: xmin, snapshotXmax: xmax, at: now)
        let (decision, truncated) = state.withLock { state in
            let decision = state.watermark.observe(observation, maxSettleWait: config.maxSettleWait)
            return (decision, state.watermark.truncationDetected)
        }
        if truncated {
            logger.warning("largest key fell below the counted watermark: the table was truncated; counting restarts from its first row",
                           metadata: ["collector": .string(collectorName), "table": .string(key.table)])
        }
        guard case .count(let lower, let upper, let forced) = decision else { return }
        if forced {
            logger.warning("counting a key range without waiting longer for open transactions; rows they commit below the range end will not be counted",
                           metadata: ["collector": .string(collectorName), "upper_key": .string("\(upper)")])
        }
        let end = state.withLock { $0.rangeLimit.end(lower: lower, upper: upper) }
        let result: QueryResult
        do {
            result = try await execute(config.sql, [String(lower), String(end)])
        } catch {
            let limit = state.withLock { $0.rangeLimit.failed(lower: lower, end: end) }
            logger.warning("counting \(end - lower) keys failed; the next samples count at most \(limit) keys each until counting has caught up",
                           metadata: ["collector": .string(collectorName), "lower_key": .string("\(lower)")])
            throw error
        }
        try validate(result)
        // Check everything before adding anything: a bad row must not half-apply a sample.
        var increments: [(metric: SQLMetricConfig, labels: [Label], value: Double?, histogram: HistogramValue?)] = []
        for metric in config.metrics {
            var seen: Set<[Label]> = []
            for row in result.namedRows {
                let labels = metric.labels.map { Label($0, row[$0] ?? "") }
                guard seen.insert(labels).inserted else { throw duplicate(metric, labels) }
                switch metric.value {
                case .histogram(let columns): increments.append((metric, labels, nil, try histogram(columns, row)))
                case .counter(let column), .gauge(let column):
                    let value = try number(column, row)
                    guard value >= 0 else {
                        throw Failure(message: "query \(config.name): \(column) is negative (\(value)); a counter only grows")
                    }
                    increments.append((metric, labels, value, nil))
                }
            }
        }
        state.withLock { state in
            for increment in increments {
                let name = increment.metric.name
                let known = state.seriesOrder[name]?.contains(increment.labels) ?? false
                if !known {
                    let total = state.seriesOrder.values.reduce(0) { $0 + $1.count }
                    if total >= config.maxSeries {
                        state.droppedSeries += 1
                        continue
                    }
                    state.seriesOrder[name, default: []].append(increment.labels)
                }
                if let value = increment.value {
                    state.counters[name, default: [:]][increment.labels, default: 0] += value
                } else if let histogram = increment.histogram {
                    var current = state.histograms[name]?[increment.labels] ?? HistogramValue(upperBounds: increment.metric.buckets)
                    for index in current.buckets.indices { current.buckets[index].count += histogram.buckets[index].count }
                    current.sum += histogram.sum
                    current.count += histogram.count
                    state.histograms[name, default: [:]][increment.labels] = current
                }
            }
            state.watermark.advance(to: end)
            state.rangeLimit.counted(caughtUp: end == upper)
        }
        logDropsOnce()
    }

    // MARK: shared

    /// Every metric's columns must be in the result; named in the error so the fix is obvious.
    private func validate(_ result: QueryResult) throws {
        if result.rowCount > config.maxRows {
            throw Failure(message: "query \(config.name): returned \(result.rowCount) rows, more than max_rows \(config.maxRows)")
        }
        for metric in config.metrics {
            for column in metric.columns where result.columnIndex(column) == nil {
                throw Failure(message: "query \(config.name): metric \(metric.name) reads column \"\(column)\", which the result does not have (columns: \(result.columns.joined(separator: ", ")))")
            }
        }
    }

    private func number(_ column: String, _ row: QueryResult.Row) throws -> Double {
        guard let text = row[column] else { return 0 }  // SQL NULL: nothing counted
        guard let value = row.double(column), value.isFinite else {
            throw Failure(message: "query \(config.name): column \(column) has \"\(text.prefix(40))\", not a number")
        }
        return value
    }

    private func histogram(_ metric: SQLMetricConfig.HistogramColumns, _ row: QueryResult.Row) throws -> HistogramValue {
        var value = HistogramValue(upperBounds: metric.buckets)
        var previous: UInt64 = 0
        for (index, column) in metric.bucketColumns.enumerated() {
            let count = try number(column, row)
            guard count >= 0, count == count.rounded(), UInt64(count) >= previous else {
                throw Failure(message: "query \(config.name): bucket column \(column) must hold a cumulative count (non-decreasing whole numbers)")
            }
            value.buckets[index].count = UInt64(count)
            previous = UInt64(count)
        }
        let total = try number(metric.countColumn, row)
        guard total >= 0, total == total.rounded(), UInt64(total) >= previous else {
            throw Failure(message: "query \(config.name): count column \(metric.countColumn) is below the largest bucket count")
        }
        value.count = UInt64(total)
        value.sum = try number(metric.sumColumn, row)
        return value
    }

    private func duplicate(_ metric: SQLMetricConfig, _ labels: [Label]) -> Failure {
        let set = labels.map { "\($0.name)=\"\($0.value)\"" }.joined(separator: ",")
        return Failure(message: "query \(config.name): two rows have the same labels {\(set)} for \(metric.name); group by every label column")
    }

    private func recordDrop(_ count: UInt64) {
        state.withLock { $0.droppedSeries += count }
        logDropsOnce()
    }

    private func logDropsOnce() {
        let shouldLog = state.withLock { state -> Bool in
            guard state.droppedSeries > 0, !state.loggedDrop else { return false }
            state.loggedDrop = true
            return true
        }
        if shouldLog {
            logger.warning("series budget reached; further series of this query are dropped",
                           metadata: ["collector": .string(collectorName), "max_series": .string("\(config.maxSeries)")])
        }
    }

    private func help(_ metric: SQLMetricConfig) -> String {
        metric.help.isEmpty ? "From SQL query \(config.name)." : metric.help
    }

    private func type(_ metric: SQLMetricConfig) -> MetricType {
        switch metric.kind {
        case .counter: .counter
        case .gauge: .gauge
        case .histogram: .histogram
        }
    }

    /// The families to export: gauge rows of the last run, or the accumulated counters.
    public func families() -> [MetricFamily] {
        state.withLock { state in
            var families: [MetricFamily]
            if config.mode == .gauge {
                families = state.gaugeFamilies
            } else {
                families = config.metrics.map { metric in
                    let order = state.seriesOrder[metric.name] ?? []
                    let series: [Series] = order.map { labels in
                        if metric.kind == .histogram {
                            return Series(labels: instanceLabels + labels, value: .histogram(state.histograms[metric.name]?[labels] ?? HistogramValue(upperBounds: metric.buckets)))
                        }
                        return Series(instanceLabels + labels, state.counters[metric.name]?[labels] ?? 0)
                    }
                    return MetricFamily(name: metric.name, help: help(metric), type: type(metric), series: series)
                }
            }
            families.append(.counter("mitra_exporter_series_dropped_total", "Series not exported because a collector's series budget was reached.",
                                     [Series([Label("collector", collectorName)], Double(state.droppedSeries))]))
            return families
        }
    }

    /// The counted watermark (for tests and the status page).
    public var watermark: Int64? { state.withLock { $0.watermark.watermark } }
}
