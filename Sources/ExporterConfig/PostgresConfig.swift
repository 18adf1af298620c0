/// `postgres:` — PostgreSQL instances and their collectors.

public enum PostgresCollectorKind: String, Sendable, Hashable, CaseIterable {
    case database, activity, locks, statements, tables, replication, bgwriter, wal
}

public struct PostgresInstanceConfig: Sendable, Hashable {
    public var name: String
    /// A libpq connection string (URL or key/value form), secrets already expanded.
    public var dsn: String
    public var interval: Duration
    public var timeout: Duration
    public var collectors: [PostgresCollectorKind]
    public var labels: [ConfigLabel]

    /// The DSN with its password removed, for summaries and logs.
    public var connectionDescription: String { Redactor.redactConnectionPasswords(dsn) }

    static let defaultCollectors: [PostgresCollectorKind] = [.database, .activity, .locks, .replication, .bgwriter, .wal]

    static func decode(_ value: ConfigValue, defaults: SamplingDefaults) -> PostgresInstanceConfig? {
        guard let object = value.object() else { return nil }
        let name = object.required("name")?.nonEmptyString()
        let dsn = object.required("dsn")?.nonEmptyString()
        let schedule = Schedule.decode(object, defaults: defaults)
        var collectors = defaultCollectors
        if let items = object.value("collectors")?.list() {
            collectors = []
            for item in items {
                guard let text = item.string() else { continue }
                guard let kind = PostgresCollectorKind(rawValue: text) else {
                    item.error("unknown collector \"\(text)\" (known: \(PostgresCollectorKind.allCases.map(\.rawValue).joined(separator: ", ")))")
                    continue
                }
                if collectors.contains(kind) {
                    item.error("collector \"\(text)\" is listed twice")
                    continue
                }
                collectors.append(kind)
            }
        }
        let labels = LabelsDecoder.decode(object.value("labels"), reserved: ["instance_name", "collector", "datname", "datid"])
        object.finish()
        guard let name, let dsn else { return nil }
        return PostgresInstanceConfig(name: name, dsn: dsn, interval: schedule.interval, timeout: schedule.timeout,
                                      collectors: collectors, labels: labels)
    }
}
