/// The metric model shared by every sampler: plain values, built once per sample and never
/// mutated after they are published, so any thread can render them without locks.

public enum MetricType: String, Sendable, Hashable {
    case counter, gauge, histogram, untyped
}

public struct Label: Sendable, Hashable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A cumulative histogram: `buckets[i].count` counts observations `<= buckets[i].upperBound`.
/// The implicit `+Inf` bucket is `count`.
public struct HistogramValue: Sendable, Hashable {
    public struct Bucket: Sendable, Hashable {
        public var upperBound: Double
        public var count: UInt64
        public init(upperBound: Double, count: UInt64) {
            self.upperBound = upperBound
            self.count = count
        }
    }
    public var buckets: [Bucket]
    public var sum: Double
    public var count: UInt64

    public init(buckets: [Bucket], sum: Double, count: UInt64) {
        self.buckets = buckets
        self.sum = sum
        self.count = count
    }

    /// An empty histogram over the given upper bounds.
    public init(upperBounds: [Double]) {
        self.init(buckets: upperBounds.sorted().map { Bucket(upperBound: $0, count: 0) }, sum: 0, count: 0)
    }

    public mutating func observe(_ value: Double) {
        for index in buckets.indices where value <= buckets[index].upperBound {
            buckets[index].count += 1
        }
        sum += value
        count += 1
    }
}

public enum SampleValue: Sendable, Hashable {
    case number(Double)
    case histogram(HistogramValue)
}

public struct Series: Sendable, Hashable {
    public var labels: [Label]
    public var value: SampleValue

    public init(labels: [Label], value: SampleValue) {
        self.labels = labels
        self.value = value
    }

    public init(_ labels: [Label] = [], _ value: Double) {
        self.init(labels: labels, value: .number(value))
    }
}

/// One metric family: a name, its HELP and TYPE, and its series.
///
/// Counter names are given as they appear in the text format (`..._total` where the name
/// has it); the OpenMetrics renderer derives the family name and sample suffix from it.
public struct MetricFamily: Sendable, Hashable {
    public var name: String
    public var help: String
    public var type: MetricType
    public var series: [Series]

    public init(name: String, help: String, type: MetricType, series: [Series] = []) {
        self.name = name
        self.help = help
        self.type = type
        self.series = series
    }

    public static func gauge(_ name: String, _ help: String, _ series: [Series]) -> MetricFamily {
        MetricFamily(name: name, help: help, type: .gauge, series: series)
    }

    public static func counter(_ name: String, _ help: String, _ series: [Series]) -> MetricFamily {
        MetricFamily(name: name, help: help, type: .counter, series: series)
    }
}

extension MetricFamily {
    /// The same family with `extra` labels prepended to every series (used for user labels
    /// from the config and for labels that name the instance or check).
    public func addingLabels(_ extra: [Label]) -> MetricFamily {
        [self].addingLabels(extra)[0]
    }
}

extension Array where Element == MetricFamily {
    /// The families with `extra` labels prepended to every series. Series that share one label
    /// array (a table's two dozen statistics share the table's labels) share one combined
    /// array as well, so a PostgreSQL sample allocates one per table instead of one per series.
    /// Arrays are matched by their storage: while these families hold an array, no other
    /// array can have the same storage, and an array's contents cannot change under it.
    public func addingLabels(_ extra: [Label]) -> [MetricFamily] {
        guard !extra.isEmpty else { return self }
        var combined: [UnsafeRawPointer: [Label]] = [:]
        return map { family in
            var copy = family
            copy.series = family.series.map { series in
                guard let storage = series.labels.withUnsafeBufferPointer({ $0.baseAddress.map(UnsafeRawPointer.init) }) else {
                    return Series(labels: extra, value: series.value)
                }
                if let labels = combined[storage] { return Series(labels: labels, value: series.value) }
                let labels = extra + series.labels
                combined[storage] = labels
                return Series(labels: labels, value: series.value)
            }
            return copy
        }
    }
}
