#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// `queries:` under a postgres instance — SQL-defined collectors.
///
/// ```yaml
/// queries:
///   - name: login_attempts
///     mode: incremental          # or gauge
///     key: {table: lic_schema.auth_events, column: event_id}
///     min_interval: 30s
///     sql: |
///       SELECT role_id AS role, outcome, count(*) AS attempts
///       FROM lic_schema.auth_events WHERE event_id > $1 AND event_id <= $2 GROUP BY 1, 2
///     metrics:
///       - {name: agentmitra_login_attempts_total, type: counter, help: ..., labels: [role, outcome], value: attempts}
/// ```
public struct SQLQueryConfig: Sendable, Hashable {
    /// How results are exported: a gauge query's rows replace the last ones; an incremental
    /// query reads only the rows added since the last sample and adds them to counters. Only
    /// an incremental query has a key, so a gauge query cannot be written with one.
    public enum Mode: Sendable, Hashable {
        case gauge
        case incremental(Key)

        /// The name written in `mode:`.
        public var name: String {
            switch self {
            case .gauge: "gauge"
            case .incremental: "incremental"
            }
        }
    }

    /// The append-only table and its increasing key (a serial/identity column) that an
    /// incremental query reads; `$1`/`$2` bound the keys of each sample.
    public struct Key: Sendable, Hashable {
        public var table: String
        public var column: String

        public init(table: String, column: String) {
            self.table = table
            self.column = column
        }
    }

    public var name: String
    public var mode: Mode
    public var sql: String
    /// Runs at most this often (the instance interval when unset); results in between are reused.
    public var minInterval: Duration?
    public var maxRows: Int
    public var maxSeries: Int
    /// How long a key range may wait for in-flight writers before it is counted anyway.
    public var maxSettleWait: Duration
    public var metrics: [SQLMetricConfig]
    /// The service its series belong to when `services[].queries` lists it (ServicesConfig.swift).
    public var service: String? = nil

    public init(name: String, mode: Mode, sql: String, minInterval: Duration?, maxRows: Int, maxSeries: Int,
                maxSettleWait: Duration, metrics: [SQLMetricConfig], service: String? = nil) {
        self.name = name
        self.mode = mode
        self.sql = sql
        self.minInterval = minInterval
        self.maxRows = maxRows
        self.maxSeries = maxSeries
        self.maxSettleWait = maxSettleWait
        self.metrics = metrics
        self.service = service
    }
}

public struct SQLMetricConfig: Sendable, Hashable {
    /// The `type:` written in the config.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case counter, gauge, histogram
    }

    /// Which result columns make the metric's values: one column for a counter or gauge, the
    /// bucket, sum and count columns for a histogram. Each kind carries exactly the columns it
    /// needs, so a collector never meets a counter without its value column.
    public enum Value: Sendable, Hashable {
        case counter(column: String)
        case gauge(column: String)
        case histogram(HistogramColumns)
    }

    public struct HistogramColumns: Sendable, Hashable {
        /// Upper bounds, strictly increasing, and the columns holding the cumulative count for each.
        public var buckets: [Double]
        public var bucketColumns: [String]
        public var sumColumn: String
        public var countColumn: String

        public init(buckets: [Double], bucketColumns: [String], sumColumn: String, countColumn: String) {
            self.buckets = buckets
            self.bucketColumns = bucketColumns
            self.sumColumn = sumColumn
            self.countColumn = countColumn
        }
    }

    public var name: String
    public var help: String
    /// Result columns whose values become labels (label name = column name).
    public var labels: [String]
    public var value: Value

    public init(name: String, help: String, labels: [String], value: Value) {
        self.name = name
        self.help = help
        self.labels = labels
        self.value = value
    }

    public var kind: Kind {
        switch value {
        case .counter: .counter
        case .gauge: .gauge
        case .histogram: .histogram
        }
    }

    /// A histogram's upper bounds; none for counters and gauges.
    public var buckets: [Double] {
        if case .histogram(let histogram) = value { return histogram.buckets }
        return []
    }

    /// Every column this metric reads, for checking a result has them.
    public var columns: [String] {
        switch value {
        case .counter(let column), .gauge(let column): labels + [column]
        case .histogram(let histogram): labels + [histogram.sumColumn, histogram.countColumn] + histogram.bucketColumns
        }
    }
}

extension SQLQueryConfig {
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`, Prometheus' metric name syntax.
    static func isValidMetricName(_ name: String) -> Bool {
        LabelsDecoder.isIdentifier(name, extra: UInt8(ascii: ":"))
    }

    /// Decodes `queries:`, rejecting duplicate query names and a metric defined by two queries.
    public static func decodeList(_ value: ConfigValue?, reservedLabels: Set<String>) -> [SQLQueryConfig] {
        guard let items = value?.list() else { return [] }
        items.reportDuplicateNames(kind: "query")
        var queries: [SQLQueryConfig] = []
        var metricOwners: [String: String] = [:]
        for item in items {
            guard let query = decode(item, reservedLabels: reservedLabels) else { continue }
            var seenInQuery: Set<String> = []
            for metric in query.metrics {
                if !seenInQuery.insert(metric.name).inserted {
                    item.error("metric \(metric.name) is defined twice in query \"\(query.name)\"")
                }
                if let owner = metricOwners[metric.name], owner != query.name {
                    item.error("metric \(metric.name) is also defined by query \"\(owner)\"")
                }
                metricOwners[metric.name] = query.name
            }
            queries.append(query)
        }
        return queries
    }

    static func decode(_ value: ConfigValue, reservedLabels: Set<String>) -> SQLQueryConfig? {
        guard let object = value.object() else { return nil }
        let name = object.required("name")?.exportedNonEmptyString()
        let sqlValue = object.required("sql")
        let sql = sqlValue?.nonEmptyString()
        var modeName = "gauge"
        if let modeValue = object.value("mode"), let text = modeValue.string() {
            if ["gauge", "incremental"].contains(text) {
                modeName = text
            } else {
                modeValue.error("unknown mode \"\(text)\" (use gauge or incremental)")
            }
        }
        var key: Key?
        if let keyValue = object.value("key"), let keyObject = keyValue.object() {
            let table = keyObject.required("table")?.identifier(maxParts: 2, "a table name, optionally schema-qualified (lic_schema.auth_events)")
            let column = keyObject.required("column")?.identifier(maxParts: 1, "a column name (event_id)")
            keyObject.finish()
            if let table, let column { key = Key(table: table, column: column) }
        }
        let minInterval = object.value("min_interval")?.positiveDuration()
        let maxRows = object.value("max_rows")?.int(in: 1...1_000_000) ?? 10_000
        let maxSeries = object.value("max_series")?.int(in: 1...1_000_000) ?? 10_000
        let maxSettleWait = object.value("max_settle_wait")?.positiveDuration() ?? .seconds(120)
        var metrics: [SQLMetricConfig] = []
        if let metricsValue = object.required("metrics"), let items = metricsValue.list() {
            if items.isEmpty { metricsValue.error("a query needs at least one metric") }
            metrics = items.compactMap { SQLMetricConfig.decode($0, reservedLabels: reservedLabels) }
        }
        if let sql, let sqlValue {
            let usesKeyRange = sql.contains("$1") && sql.contains("$2")
            if modeName == "incremental" {
                if key == nil, !object.contains("key") {
                    object.error("an incremental query needs key: {table, column} (the append-only table and its increasing key)")
                }
                if !usesKeyRange {
                    sqlValue.error("an incremental query must read only new rows: use $1 (last counted key, exclusive) and $2 (newest settled key, inclusive)")
                }
                for metric in metrics where metric.kind == .gauge {
                    object.error("metric \(metric.name): an incremental query adds to counters and histograms; gauge is not allowed (use mode: gauge)")
                }
            } else {
                if sql.contains("$1") { sqlValue.error("a gauge query takes no parameters ($1 is only for mode: incremental)") }
                if object.contains("key") { object.value("key")?.error("key is only used by mode: incremental") }
            }
        }
        object.finish()
        let mode: Mode
        if modeName == "incremental" {
            guard let key else { return nil }
            mode = .incremental(key)
        } else {
            mode = .gauge
        }
        guard let name, let sql else { return nil }
        return SQLQueryConfig(name: name, mode: mode, sql: sql, minInterval: minInterval, maxRows: maxRows,
                              maxSeries: maxSeries, maxSettleWait: maxSettleWait, metrics: metrics)
    }
}

extension SQLMetricConfig {
    static func decode(_ value: ConfigValue, reservedLabels: Set<String>) -> SQLMetricConfig? {
        guard let object = value.object() else { return nil }
        let nameValue = object.required("name")
        let name = nameValue?.exportedNonEmptyString()
        if let name, !SQLQueryConfig.isValidMetricName(name) { nameValue?.error("\"\(name)\" is not a valid metric name") }
        let help = object.value("help")?.exportedString() ?? ""
        var kind: Kind?
        if let typeValue = object.required("type"), let text = typeValue.string() {
            kind = Kind(rawValue: text)
            if kind == nil { typeValue.error("unknown type \"\(text)\" (use counter, gauge or histogram)") }
        }
        var labels: [String] = []
        if let labelsValue = object.value("labels"), let list = labelsValue.stringList() {
            for (index, label) in list.enumerated() {
                if !LabelsDecoder.isValidLabelName(label) {
                    labelsValue.list()?[index].error("\"\(label)\" is not a valid label name")
                } else if reservedLabels.contains(label) || label == "le" {
                    labelsValue.list()?[index].error("label \"\(label)\" is already set by the exporter or the instance's labels")
                } else if labels.contains(label) {
                    labelsValue.list()?[index].error("label \"\(label)\" is listed twice")
                } else {
                    labels.append(label)
                }
            }
        }
        let valueColumn = object.value("value")?.nonEmptyString()
        let metricValue: Value?
        switch kind {
        case .histogram:
            let bucketsValue = object.required("buckets")
            let buckets = bucketsValue?.list()?.compactMap { $0.double() } ?? []
            let columnsValue = object.required("bucket_columns")
            let bucketColumns = columnsValue?.stringList() ?? []
            let sumColumn = object.required("sum")?.nonEmptyString()
            let countColumn = object.required("count")?.nonEmptyString()
            if buckets != buckets.sorted() || Set(buckets).count != buckets.count {
                bucketsValue?.error("bucket bounds must be strictly increasing")
            }
            if let columnsValue, buckets.count != bucketColumns.count {
                columnsValue.error("\(bucketColumns.count) bucket column(s) for \(buckets.count) bucket bound(s)")
            }
            if let name, name.hasSuffix("_bucket") || name.hasSuffix("_total") {
                nameValue?.error("a histogram name takes no _bucket or _total suffix")
            }
            if object.contains("value") { object.value("value")?.error("a histogram reads bucket_columns, sum and count, not value") }
            if let sumColumn, let countColumn {
                metricValue = .histogram(HistogramColumns(buckets: buckets, bucketColumns: bucketColumns,
                                                          sumColumn: sumColumn, countColumn: countColumn))
            } else {
                metricValue = nil
            }
        case .counter, .gauge:
            if valueColumn == nil, !object.contains("value") { object.error("metric \(name ?? "?") needs value: <column>") }
            if kind == .counter, let name, !name.hasSuffix("_total") {
                nameValue?.error("a counter name must end in _total")
            }
            metricValue = valueColumn.map { kind == .counter ? .counter(column: $0) : .gauge(column: $0) }
        case nil:
            metricValue = nil
        }
        object.finish()
        guard let name, let metricValue else { return nil }
        return SQLMetricConfig(name: name, help: help, labels: labels, value: metricValue)
    }
}
