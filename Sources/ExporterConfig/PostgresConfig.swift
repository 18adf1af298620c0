/// `postgres:` — PostgreSQL instances and their collectors.

public enum PostgresCollectorKind: String, Sendable, Hashable, CaseIterable {
    case database, activity, locks, statements, tables, replication, bgwriter, wal, io, settings
}

/// One `key: value` of the `params:` form of a connection (libpq keywords).
public struct PostgresConnectionParameter: Sendable, Hashable {
    public var key: String
    public var value: String
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// Options of the `statements` collector (pg_stat_statements).
public struct PostgresStatementsOptions: Sendable, Hashable {
    /// How many statements, ranked by execution time spent during the last interval, get
    /// their own series; the rest are summed into `queryid="other"`.
    public var top: Int = 100
    /// Export normalised, truncated query text as `pg_stat_statements_query_info`. Off by
    /// default: query text can reveal schema and literals.
    public var queryText: Bool = false
    public var queryTextLength: Int = 120
    /// How long a statement that left the top K keeps its own series (its counters frozen)
    /// before they are dropped, so `rate()` has no gaps while it drops in and out.
    public var hold: Duration = .seconds(900)
    public init() {}
}

/// Options of the `tables` collector.
public struct PostgresTablesOptions: Sendable, Hashable {
    public var schemas: [String] = ["lic_schema"]
    public init() {}
}

public struct PostgresInstanceConfig: Sendable, Hashable {
    public var name: String
    /// A libpq connection string (URL or key/value form), secrets already expanded. Empty
    /// when the entry uses `params:` instead.
    public var dsn: String
    /// The `params:` form, in file order; empty when `dsn:` is used.
    public var parameters: [PostgresConnectionParameter]
    public var interval: Duration
    public var timeout: Duration
    public var collectors: [PostgresCollectorKind]
    public var labels: [ConfigLabel]
    /// Server-side bound on each statement; always below `timeout` so a slow view fails
    /// alone instead of eating the whole run.
    public var statementTimeout: Duration
    public var lockTimeout: Duration
    public var connectTimeout: Duration
    /// Most series one instance may export per run; the lowest-ranked are dropped beyond it.
    public var seriesBudget: Int
    public var statements: PostgresStatementsOptions
    public var tables: PostgresTablesOptions
    /// SQL-defined collectors run on this instance's connection.
    public var queries: [SQLQueryConfig] = []

    public init(name: String, dsn: String, parameters: [PostgresConnectionParameter] = [], interval: Duration,
                timeout: Duration, collectors: [PostgresCollectorKind] = PostgresInstanceConfig.defaultCollectors,
                labels: [ConfigLabel] = [], statementTimeout: Duration? = nil, lockTimeout: Duration? = nil,
                connectTimeout: Duration? = nil, seriesBudget: Int = 10_000,
                statements: PostgresStatementsOptions = PostgresStatementsOptions(),
                tables: PostgresTablesOptions = PostgresTablesOptions()) {
        self.name = name
        self.dsn = dsn
        self.parameters = parameters
        self.interval = interval
        self.timeout = timeout
        self.collectors = collectors
        self.labels = labels
        self.statementTimeout = statementTimeout ?? Self.defaultStatementTimeout(for: timeout)
        self.lockTimeout = lockTimeout ?? min(.seconds(1), self.statementTimeout)
        self.connectTimeout = connectTimeout ?? timeout
        self.seriesBudget = seriesBudget
        self.statements = statements
        self.tables = tables
    }

    /// Leaves a fifth of the run (at least 100ms) for the round trips around the statement.
    static func defaultStatementTimeout(for timeout: Duration) -> Duration {
        let margin = max(timeout / 5, .milliseconds(100))
        return max(timeout - margin, timeout / 2)
    }

    /// The connection with its password removed, for summaries and logs.
    public var connectionDescription: String {
        if !parameters.isEmpty {
            return parameters.map { $0.key == "password" ? "password=\(Redactor.placeholder)" : "\($0.key)=\($0.value)" }
                .joined(separator: " ")
        }
        return Redactor.redactConnectionPasswords(dsn)
    }

    /// The password of this entry (from either form), for redacting driver messages.
    public var passwordSecrets: [String] {
        var secrets = parameters.filter { $0.key == "password" }.map(\.value)
        if !dsn.isEmpty { secrets.append(dsn) }
        return secrets
    }

    public static let defaultCollectors: [PostgresCollectorKind] = [.database, .activity, .locks, .replication, .bgwriter, .wal, .settings]

    static let reservedLabels: Set<String> = [
        "instance_name", "collector", "datname", "datid", "user", "queryid", "schemaname", "relname",
        "state", "mode", "wait_event_type", "application_name", "client_addr", "query", "backend_type", "object", "context",
    ]

    static func decode(_ value: ConfigValue, defaults: SamplingDefaults) -> PostgresInstanceConfig? {
        guard let object = value.object() else { return nil }
        let name = object.required("name")?.exportedNonEmptyString()
        var dsn: String?
        var parameters: [PostgresConnectionParameter] = []
        let dsnValue = object.value("dsn")
        let paramsValue = object.value("params")
        switch (dsnValue, paramsValue) {
        case (nil, nil):
            object.error("one of \"dsn\" or \"params\" is required")
        case (.some, .some):
            object.error("\"dsn\" and \"params\" are exclusive; use one")
        case (let dsnValue?, nil):
            dsn = dsnValue.nonEmptyString()
        case (nil, let paramsValue?):
            if let pairs = paramsValue.stringPairs() {
                if pairs.isEmpty { paramsValue.error("must not be empty") }
                parameters = pairs.map { PostgresConnectionParameter(key: $0.key, value: $0.value) }
                dsn = ""
            }
        }
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
        let labels = LabelsDecoder.decode(object.value("labels"), reserved: reservedLabels)

        var statementTimeout: Duration?
        if let item = object.value("statement_timeout"), let value = item.positiveDuration() {
            if value >= schedule.timeout {
                item.error("must be shorter than the timeout \(DurationParser.format(schedule.timeout)) so one slow statement cannot use up the run")
            } else {
                statementTimeout = value
            }
        }
        let lockTimeout = object.value("lock_timeout")?.positiveDuration()
        var connectTimeout: Duration?
        if let item = object.value("connect_timeout"), let value = item.positiveDuration() {
            if value > schedule.timeout {
                item.error("must not be longer than the timeout \(DurationParser.format(schedule.timeout))")
            } else {
                connectTimeout = value
            }
        }
        let seriesBudget = object.value("series_budget")?.int(in: 1...10_000_000) ?? 10_000

        var statements = PostgresStatementsOptions()
        if let options = object.value("statements")?.object() {
            if let top = options.value("top")?.int(in: 1...10_000) { statements.top = top }
            if let on = options.value("query_text")?.bool() { statements.queryText = on }
            if let length = options.value("query_text_length")?.int(in: 16...4096) { statements.queryTextLength = length }
            if let item = options.value("hold"), let hold = item.positiveDuration() {
                if hold < schedule.interval {
                    item.error("must be at least the interval \(DurationParser.format(schedule.interval)) (one run), or statements leaving the top K lose their series at once")
                } else if hold > .seconds(86_400) {
                    item.error("must be at most 24h: held series count against the series budget")
                } else {
                    statements.hold = hold
                }
            }
            options.finish()
        }
        var tables = PostgresTablesOptions()
        if let options = object.value("tables")?.object() {
            if let item = options.value("schemas"), let schemas = item.stringList() {
                if schemas.isEmpty { item.error("must list at least one schema") } else { tables.schemas = schemas }
            }
            options.finish()
        }
        let queries = SQLQueryConfig.decodeList(object.value("queries"), reservedLabels: reservedLabels.union(labels.map(\.name)))
        object.finish()
        guard let name, let dsn else { return nil }
        var instance = PostgresInstanceConfig(name: name, dsn: dsn, parameters: parameters, interval: schedule.interval,
                                              timeout: schedule.timeout, collectors: collectors, labels: labels,
                                              statementTimeout: statementTimeout, lockTimeout: lockTimeout,
                                              connectTimeout: connectTimeout, seriesBudget: seriesBudget,
                                              statements: statements, tables: tables)
        instance.queries = queries
        return instance
    }
}
