import Exposition

/// The series one collector produced in one run, in rank order. Series are grouped into
/// entities (a table, a statement: everything that shares its labels) so that the series
/// budget drops whole entities, lowest-ranked first, never half of one.
struct MetricSet: Sendable {
    struct FamilyID: Hashable, Sendable {
        fileprivate var index: Int
    }

    private struct Entry: Sendable {
        var family: Int
        var series: Series
        var entity: Int
    }

    private var descriptors: [MetricFamily] = []
    private var entries: [Entry] = []
    private var entity = 0

    var count: Int { entries.count }

    mutating func family(_ name: String, _ help: String, _ type: MetricType) -> FamilyID {
        if let index = descriptors.firstIndex(where: { $0.name == name }) { return FamilyID(index: index) }
        descriptors.append(MetricFamily(name: name, help: help, type: type))
        return FamilyID(index: descriptors.count - 1)
    }

    mutating func gauge(_ name: String, _ help: String) -> FamilyID { family(name, help, .gauge) }
    mutating func counter(_ name: String, _ help: String) -> FamilyID { family(name, help, .counter) }

    /// Adds a series to the current entity; a nil value (SQL NULL) adds nothing.
    mutating func add(_ family: FamilyID, _ labels: [Label], _ value: Double?) {
        guard let value, value.isFinite else { return }
        entries.append(Entry(family: family.index, series: Series(labels, value), entity: entity))
    }

    /// Starts the next entity: series added after this rank below those added before.
    mutating func nextEntity() {
        entity += 1
    }

    /// The families, keeping at most `limit` series by dropping whole entities from the end.
    func families(limit: Int) -> (families: [MetricFamily], dropped: Int) {
        var kept = entries
        if entries.count > limit {
            var perEntity: [Int: Int] = [:]
            for entry in entries { perEntity[entry.entity, default: 0] += 1 }
            var total = 0
            var cutoff = 0
            for id in perEntity.keys.sorted() {
                guard total + perEntity[id]! <= limit else { break }
                total += perEntity[id]!
                cutoff = id + 1
            }
            kept = entries.filter { $0.entity < cutoff }
        }
        var families = descriptors
        for entry in kept { families[entry.family].series.append(entry.series) }
        return (families.filter { !$0.series.isEmpty }, entries.count - kept.count)
    }
}
