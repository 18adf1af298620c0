import ExporterConfig
import Exposition
import HTTPChecks
import HTTPProbe
import Sampling
import Testing

/// Parses a config snippet with a fixed environment (so `${env:..}` secrets are known).
func parseConfig(_ yaml: String, environment: [String: String] = [:]) throws -> Configuration {
    try ConfigLoader.parse(yaml, file: "test.yml", resolver: SecretResolver(environment: environment))
}

func configErrors(_ yaml: String, environment: [String: String] = [:]) -> [String] {
    do {
        _ = try parseConfig(yaml, environment: environment)
        return []
    } catch let error as ConfigErrors {
        return error.errors.map(\.description)
    } catch {
        return ["\(error)"]
    }
}

extension SampleResult {
    func family(_ name: String) -> MetricFamily? { families.first { $0.name == name } }

    /// The value of the one series of `name` whose labels include all of `labels`.
    func value(_ name: String, _ labels: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation) -> Double? {
        let matching = family(name)?.series.filter { series in
            labels.allSatisfy { key, value in series.labels.contains(Label(key, value)) }
        } ?? []
        guard matching.count == 1, case .number(let number) = matching[0].value else { return nil }
        return number
    }

    func histogram(_ name: String, _ labels: [String: String] = [:]) -> HistogramValue? {
        let matching = family(name)?.series.filter { series in
            labels.allSatisfy { key, value in series.labels.contains(Label(key, value)) }
        } ?? []
        guard matching.count == 1, case .histogram(let histogram) = matching[0].value else { return nil }
        return histogram
    }

    var outcome: CollectorOutcome { outcomes[0] }

    func phaseSum(_ labels: [String: String] = [:]) -> Double {
        PhaseTimings.phaseNames.reduce(0) { $0 + (value("probe_http_duration_seconds", labels.merging(["phase": $1]) { a, _ in a }) ?? .nan) }
    }

    /// Failure counters that are not zero, by reason.
    func failureReasons(_ labels: [String: String] = [:]) -> [String: Double] {
        var reasons: [String: Double] = [:]
        for series in family("mitra_probe_failures_total")?.series ?? [] where labels.allSatisfy({ series.labels.contains(Label($0.key, $0.value)) }) {
            if case .number(let count) = series.value, count > 0, let reason = series.labels.first(where: { $0.name == "reason" })?.value {
                reasons[reason, default: 0] += count
            }
        }
        return reasons
    }
}

/// Builds one check from a YAML entry (indented under `checks:`) and runs it once.
func runCheck(_ entry: String, engine: HTTPProbeEngine, environment: [String: String] = [:]) async throws -> (HTTPCheckSampler, SampleResult) {
    let config = try parseConfig("checks:\n" + entry, environment: environment)
    let sampler = HTTPCheckSampler(config: try #require(config.checks.first), engine: engine, redactor: config.redactor)
    return (sampler, await sampler.sample())
}
