import ExporterConfig
import HTTPChecks
import HTTPProbe
import Logging
import PostgresCollectors
import Sampling
import Synchronization

/// Builds the samplers a configuration asks for: one per HTTP check, scenario and
/// PostgreSQL instance. All HTTP samplers share one libcurl engine (one thread driving
/// every transfer), created on first use and stopped after the last sampler.
public final class DefaultSamplerFactory: SamplerFactory {
    private let logger: Logger
    /// Made when the first HTTP sampler is: starting the engine initialises libcurl, which
    /// sets up OpenSSL (about 3 MiB of its pages become resident), and a configuration with
    /// PostgreSQL instances only never needs any of it.
    private let engineSlot = Mutex<HTTPProbeEngine?>(nil)

    public init(logger: Logger) {
        self.logger = logger
    }

    /// The shared engine, started on first use.
    private func engine() -> HTTPProbeEngine {
        engineSlot.withLock { slot in
            if let engine = slot { return engine }
            let engine = HTTPProbeEngine()
            slot = engine
            return engine
        }
    }

    public func plan(_ config: Configuration) -> [PlannedSampler] {
        let logger = logger
        let redactor = config.redactor
        var planned: [PlannedSampler] = []
        for check in config.checks {
            planned.append(PlannedSampler(id: "check/\(check.name)", fingerprint: check) {
                HTTPCheckSampler(config: check, engine: self.engine(), redactor: redactor)
            })
        }
        for scenario in config.scenarios {
            planned.append(PlannedSampler(id: "scenario/\(scenario.name)", fingerprint: scenario) {
                ScenarioSampler(config: scenario, engine: self.engine(), redactor: redactor)
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
        engineSlot.withLock { $0 }?.shutdown()
    }
}
