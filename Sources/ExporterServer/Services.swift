import Logging
public import ServiceLifecycle
import UnixSignals

/// Runs the samplers for as long as the service group runs; graceful shutdown cancels the
/// in-flight runs (their C-level work is bounded and cancellable) and shuts samplers down.
public struct SamplingService: Service {
    let runtime: ExporterRuntime

    public init(runtime: ExporterRuntime) {
        self.runtime = runtime
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await runtime.run()
        }
    }
}

/// SIGHUP reloads the configuration, as in Prometheus and its exporters.
public struct ReloadOnSIGHUPService: Service {
    let runtime: ExporterRuntime
    let logger: Logger

    public init(runtime: ExporterRuntime, logger: Logger) {
        self.runtime = runtime
        self.logger = logger
    }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            logger.info("SIGHUP received, reloading configuration")
            runtime.reload()
        }
    }
}
