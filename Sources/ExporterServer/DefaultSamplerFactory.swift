import ExporterConfig
import Logging

/// Builds the samplers a configuration asks for.
public struct DefaultSamplerFactory: SamplerFactory {
    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func plan(_ config: Configuration) -> [PlannedSampler] {
        []
    }
}
