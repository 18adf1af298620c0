import ExporterConfig
import HTTPChecks
import HTTPProbe
import Logging
import PostgresCollectors
import Sampling

/// Builds the samplers a configuration asks for: one per HTTP check, scenario and
/// PostgreSQL instance. All HTTP samplers share one libcurl engine (one thread driving
/// every transfer), created on first use and stopped after the last sampler.
public final class DefaultSamplerFactory: SamplerFactory {
    private let logger: Logger
    private let engine: HTTPProbeEngine

    public init(logger: Logger) {
        self.logger = logger
        self.engine = HTTPProbeEngine()
    }

    public func plan(_ config: Configuration) -> [PlannedSampler] {
        let engine = engine
        let logger = logger
        let redactor = config.redactor
        var planned: [PlannedSampler] = []
        for check in config.checks {
            planned.append(PlannedSampler(id: "check/\(check.name)", fingerprint: check) {
                HTTPCheckSampler(config: check, engine: engine, redactor: redactor)
            })
        }
        for scenario in config.scenarios {
            planned.append(PlannedSampler(id: "scenario/\(scenario.name)", fingerprint: scenario) {
                ScenarioSampler(config: scenario, engine: engine, redactor: redactor)
            })
        }
        for instance in config.postgres {
            planned.append(PlannedSampler(id: "postgres/\(instance.name)", fingerprint: instance) {
                PostgresSampler(config: instance, logger: logger)
            })
        }
        return planned
    }

    public func shutdown() async {
        engine.shutdown()
    }
}
