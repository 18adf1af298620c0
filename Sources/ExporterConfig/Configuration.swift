#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Intervals and timeouts used where an entry sets none.
public struct SamplingDefaults: Sendable, Hashable {
    public var interval: Duration = .seconds(15)
    public var timeout: Duration = .seconds(5)
    public init() {}
}

/// The whole validated configuration. Built only by `ConfigLoader`, which checks everything
/// before anything runs.
public struct Configuration: Sendable, Hashable {
    public var file: String
    public var defaults = SamplingDefaults()
    public var checks: [CheckConfig] = []
    public var scenarios: [ScenarioConfig] = []
    public var postgres: [PostgresInstanceConfig] = []
    /// The declared dependency model (`services:`, ServicesConfig.swift).
    public var services: [ServiceConfig] = []
    /// Values that came from `${env:..}`/`${file:..}`; never shown anywhere.
    public var redactor = Redactor()

    public init(file: String) {
        self.file = file
    }

    /// A human summary for `--config.check`: what would run, with no secret in it.
    public var summary: String {
        var lines: [String] = []
        lines.append("\(file): OK")
        lines.append("defaults: interval \(DurationParser.format(defaults.interval)), timeout \(DurationParser.format(defaults.timeout))")
        lines.append("\(checks.count) HTTP check(s)")
        for check in checks {
            lines.append("  check \(check.name): \(check.request.method) \(redactor.redact(check.request.url)) every \(DurationParser.format(check.interval)), timeout \(DurationParser.format(check.timeout))")
        }
        lines.append("\(scenarios.count) scenario(s)")
        for scenario in scenarios {
            lines.append("  scenario \(scenario.name): \(scenario.steps.count) step(s) every \(DurationParser.format(scenario.interval)), timeout \(DurationParser.format(scenario.timeout))")
        }
        lines.append("\(postgres.count) PostgreSQL instance(s)")
        for instance in postgres {
            let collectors = instance.collectors.map(\.rawValue).joined(separator: ",")
            lines.append("  postgres \(instance.name): \(redactor.redact(instance.dsn)) every \(DurationParser.format(instance.interval)), timeout \(DurationParser.format(instance.timeout)), collectors \(collectors)")
            for query in instance.queries {
                let every = query.minInterval.map { " at most every \(DurationParser.format($0))" } ?? ""
                lines.append("    query \(query.name) (\(query.mode.name))\(every): \(query.metrics.map(\.name).joined(separator: ", "))")
            }
        }
        lines += servicesSummary
        return lines.joined(separator: "\n")
    }
}

public enum ConfigLoader {
    /// Reads and validates a config file. Throws `ConfigErrors` listing every problem.
    public static func load(path: String, resolver: SecretResolver = SecretResolver()) throws(ConfigErrors) -> Configuration {
        let display = path
        let data: Data
        switch FileContents.read(path) {
        case .success(let contents): data = contents
        case .failure(let failure): throw ConfigErrors([ConfigError(file: display, line: 1, column: 1, path: "", message: failure.reason)])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigErrors([ConfigError(file: display, line: 1, column: 1, path: "", message: "file is not UTF-8")])
        }
        return try parse(text, file: display, resolver: resolver)
    }

    public static func parse(_ text: String, file: String, resolver: SecretResolver = SecretResolver()) throws(ConfigErrors) -> Configuration {
        let context = DecodeContext(file: file, resolver: resolver)
        var config = Configuration(file: file)
        if let root = try YAMLLoader.compose(text, file: file) {
            decode(ConfigValue(node: root, path: "", context: context), into: &config)
        }
        config.redactor = Redactor(secrets: context.secrets, sensitiveNames: config.redactor.sensitiveNames)
        if !context.errors.isEmpty {
            // Quoted values in messages could carry an expanded secret: redact them too.
            throw ConfigErrors(context.errors.map { error in
                var redacted = error
                redacted.message = config.redactor.redact(error.message)
                return redacted
            })
        }
        return config
    }

    private static func decode(_ root: ConfigValue, into config: inout Configuration) {
        guard let object = root.object() else { return }
        if let defaults = object.value("defaults")?.object() {
            if let interval = defaults.value("interval")?.positiveDuration() { config.defaults.interval = interval }
            if let timeout = defaults.value("timeout")?.positiveDuration() { config.defaults.timeout = timeout }
            if config.defaults.timeout > config.defaults.interval {
                defaults.error("timeout \(DurationParser.format(config.defaults.timeout)) is longer than interval \(DurationParser.format(config.defaults.interval))")
            }
            defaults.finish()
        }
        let defaults = config.defaults
        if let items = object.value("checks")?.list() {
            config.checks = items.compactMap { CheckConfig.decode($0, defaults: defaults) }
            items.reportDuplicateNames(kind: "check")
        }
        if let items = object.value("scenarios")?.list() {
            config.scenarios = items.compactMap { ScenarioConfig.decode($0, defaults: defaults) }
            items.reportDuplicateNames(kind: "scenario")
        }
        if let items = object.value("postgres")?.list() {
            config.postgres = items.compactMap { PostgresInstanceConfig.decode($0, defaults: defaults) }
            items.reportDuplicateNames(kind: "postgres instance")
        }
        // `redact_names: [X-Signature, ssn]`: header and JSON field names whose values traces
        // hide, in addition to the built-in patterns (matched whole, ignoring case).
        if let names = object.value("redact_names")?.stringList() {
            config.redactor = Redactor(sensitiveNames: names)
        }
        if let services = object.value("services") {
            ServicesDecoder.decode(services, root: root.node, into: &config)
        }
        object.finish()
    }

}

extension [ConfigValue] {
    /// Names label every series of an entry, so two entries with one name would collide.
    func reportDuplicateNames(kind: String) {
        var firstLine: [String: Int] = [:]
        for item in self {
            guard case .mapping(let mapping) = item.node, let nameNode = mapping["name"], let name = nameNode.string else { continue }
            if let line = firstLine[name] {
                item.context.error(at: nameNode.mark, path: "\(item.path).name", "duplicate \(kind) name \"\(name)\" (first defined on line \(line))")
            } else {
                firstLine[name] = nameNode.mark?.line ?? 0
            }
        }
    }
}

/// Shared checks for an entry's `interval` and `timeout`.
public struct Schedule: Sendable, Hashable {
    public var interval: Duration
    public var timeout: Duration

    /// Reads `interval`/`timeout` from an entry, falling back to the defaults, and reports a
    /// timeout longer than the interval (runs would overlap).
    public static func decode(_ object: ConfigObject, defaults: SamplingDefaults) -> Schedule {
        let interval = object.value("interval")?.positiveDuration() ?? defaults.interval
        let timeoutValue = object.value("timeout")
        let timeout = timeoutValue?.positiveDuration() ?? min(defaults.timeout, interval)
        if timeout > interval {
            let message = "timeout \(DurationParser.format(timeout)) is longer than interval \(DurationParser.format(interval))"
            if let timeoutValue { timeoutValue.error(message) } else { object.error(message) }
        }
        return Schedule(interval: interval, timeout: timeout)
    }
}

/// User labels added to every series of an entry.
public enum LabelsDecoder {
    /// `[a-zA-Z_][a-zA-Z0-9_]*`, Prometheus' label name syntax; `__` is reserved.
    public static func isValidLabelName(_ name: String) -> Bool {
        isIdentifier(name) && !name.hasPrefix("__")
    }

    /// ASCII letters, `_` and the `extra` characters, then also digits; not empty.
    static func isIdentifier(_ name: String, extra: UInt8? = nil) -> Bool {
        guard let first = name.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return false }
        return name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_") || byte == extra
        }
    }

    public static func decode(_ value: ConfigValue?, reserved: Set<String>) -> [ConfigLabel] {
        guard let value, let object = value.object() else { return [] }
        var labels: [ConfigLabel] = []
        for key in object.keys {
            guard let item = object.value(key) else { continue }
            if !isValidLabelName(key) {
                item.error("\"\(key)\" is not a valid label name")
                continue
            }
            if reserved.contains(key) {
                item.error("label \"\(key)\" is set by the exporter and cannot be overridden")
                continue
            }
            if let text = item.exportedString() { labels.append(ConfigLabel(name: key, value: text)) }
        }
        object.finish()
        return labels
    }
}

public struct ConfigLabel: Sendable, Hashable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}
