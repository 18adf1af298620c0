import ArgumentParser
import CMallocTuning
import ExporterConfig
import ExporterServer
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import LogFormats
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

@main
struct MitraExporter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mitra-exporter",
        abstract: "Prometheus exporter for HTTP health checks, multi-step login scenarios and PostgreSQL statistics.",
        discussion: "Samples run in the background on their own intervals; /metrics serves the latest results and never waits for a target. Endpoints: /metrics, /-/healthy, /-/ready, POST /-/reload (with --web.enable-lifecycle; SIGHUP always reloads), /trace, and a status page at /.",
        version: "mitra-exporter \(BuildInfo.version) (revision \(BuildInfo.revision), Swift \(BuildInfo.swiftVersion))"
    )

    @Option(name: .customLong("config.file"), help: "Path to the YAML configuration file.")
    var configFile = "mitra-exporter.yml"

    @Flag(name: .customLong("config.check"), help: "Validate the configuration, print what would run, and exit (0 when valid).")
    var configCheck = false

    @Option(name: .customLong("web.listen-address"), help: "Address to listen on: [host]:port, e.g. :9741 or 127.0.0.1:9741.")
    var listenAddress = ":9741"

    @Option(name: .customLong("web.config.file"), help: "Path to a web config file (exporter-toolkit format) enabling TLS and/or basic auth.")
    var webConfigFile: String?

    @Flag(name: .customLong("web.enable-lifecycle"), help: "Allow POST /-/reload. Off by default: anyone who can reach the port could trigger reloads. SIGHUP always reloads.")
    var enableLifecycle = false

    @Flag(name: .customLong("web.disable-trace"), help: "Turn off /trace (the last runs of each HTTP check and scenario, redacted).")
    var disableTrace = false

    @Option(name: .customLong("web.max-connections"), help: "Most connections held open at once; beyond it the quietest connection is closed.")
    var maxConnections = ConnectionLimits().maxConnections

    @Option(name: .customLong("web.idle-timeout"), help: "Close a connection with no request in flight after this long (e.g. 60s).")
    var idleTimeout = "60s"

    @Option(name: .customLong("web.max-header-bytes"), help: "Refuse requests whose headers are larger than this many bytes.")
    var maxHeaderBytes = ConnectionLimits().maxHeaderBytes

    @Option(name: .customLong("log.level"), help: "Only log messages at this level or above: debug, info, warn, error.")
    var logLevel: LogLevelOption = .info

    @Option(name: .customLong("log.format"), help: "Log line format: logfmt or json.")
    var logFormat: LogFormat = .logfmt

    @Option(name: .customLong("shard"), help: "Run only shard i of N (e.g. 0/3): the checks and instances whose stable hash falls in it.")
    var shard: String?

    func validate() throws {
        if ListenAddress(parsing: listenAddress) == nil {
            throw ValidationError("--web.listen-address \"\(listenAddress)\" is not [host]:port")
        }
        if maxConnections < 1 { throw ValidationError("--web.max-connections must be at least 1") }
        if maxHeaderBytes < 1024 { throw ValidationError("--web.max-header-bytes must be at least 1024") }
        guard let idle = DurationParser.parse(idleTimeout), idle > .zero else {
            throw ValidationError("--web.idle-timeout \"\(idleTimeout)\" is not a positive duration (e.g. 60s)")
        }
        if let shard, Shard(parsing: shard) == nil {
            throw ValidationError("--shard \"\(shard)\" is not i/N with 0 <= i < N")
        }
    }

    func run() async throws {
        // A closed log pipe or scraper connection must end in an EPIPE error, not in the
        // process being killed.
        signal(SIGPIPE, SIG_IGN)
        // Each scrape builds a body as large as the whole exposition (megabytes with
        // thousands of checks). glibc's default raises its mmap threshold after the first such
        // buffer is freed, and from then on keeps every freed body in the heap. A fixed
        // threshold gives buffers of 1 MiB and more back to the system when they are freed.
        _ = mitra_set_mmap_threshold(1 << 20)
        let redaction = LogRedaction()
        let level = logLevel.level
        let format = logFormat
        LoggingSystem.bootstrap { label in
            LineLogHandler(label: label, level: level, format: format, redact: { redaction.redact($0) })
        }
        let logger = Logger(label: "mitra-exporter")

        let config: Configuration
        do {
            config = try ConfigLoader.load(path: configFile)
        } catch {
            standardError(error.description)
            throw ExitCode(1)
        }
        var webConfig = WebConfig()
        if let webConfigFile {
            do {
                webConfig = try WebConfig.load(path: webConfigFile)
            } catch {
                standardError(error.description)
                throw ExitCode(1)
            }
        }
        if configCheck {
            print(config.summary)
            if let webConfigFile { print("\(webConfigFile): OK (TLS \(webConfig.tls == nil ? "off" : "on"), \(webConfig.basicAuthUsers.count) basic auth user(s))") }
            return
        }

        let address = ListenAddress(parsing: listenAddress)!
        let tlsEnabled = webConfig.tls != nil
        let runtime = ExporterRuntime(config: config, configPath: configFile, factory: DefaultSamplerFactory(logger: logger),
                                      shard: shard.flatMap(Shard.init(parsing:)), logger: logger, logRedaction: redaction)
        let app: any Service
        do {
            let webState = try WebConfigState(config: webConfig, path: webConfigFile)
            runtime.reloadsWebConfig(webState)
            let limits = ConnectionLimits(maxConnections: maxConnections, idleTimeout: DurationParser.parse(idleTimeout) ?? .seconds(60),
                                          maxHeaderBytes: maxHeaderBytes)
            let options = ServerOptions(enableLifecycle: enableLifecycle, enableTrace: !disableTrace, limits: limits)
            app = try ExporterHTTPServer.makeApplication(runtime: runtime, address: address, webState: webState, options: options, logger: logger) { channel in
                logger.info("listening", metadata: [
                    "address": .string(ListenAddress(host: address.host, port: channel.localAddress?.port ?? address.port).description),
                    "tls": .string(tlsEnabled ? "on" : "off"),
                ])
            }
        } catch {
            logger.error("cannot start the HTTP server", metadata: ["error": .string("\(error)")])
            throw ExitCode(1)
        }
        logger.info("starting mitra-exporter", metadata: [
            "version": .string(BuildInfo.version), "revision": .string(BuildInfo.revision), "config": .string(configFile),
            "checks": .string("\(config.checks.count)"), "scenarios": .string("\(config.scenarios.count)"),
            "postgres": .string("\(config.postgres.count)"), "shard": .string(shard ?? "all"),
        ])
        // Named services: without a name, ServiceLifecycle names each one "\(service)", which
        // for the HTTP application is a reflection dump of its whole nested generic value: 10 M
        // instructions at every start (a tenth of the start-up's) and the reflection code's pages.
        var groupConfiguration = ServiceGroupConfiguration(
            services: [
                .init(service: app, serviceName: "http"),
                .init(service: SamplingService(runtime: runtime), serviceName: "sampling"),
                .init(service: ReloadOnSIGHUPService(runtime: runtime, logger: logger), serviceName: "reload-on-sighup"),
                .init(service: FreeMemoryService(), serviceName: "free-memory"),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        // Stop within 5 s of SIGTERM: graceful for 3 s, then cancel what is left.
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(3)
        try await ServiceGroup(configuration: groupConfiguration).run()
        logger.info("stopped")
    }
}

enum LogLevelOption: String, ExpressibleByArgument, CaseIterable {
    case debug, info, warn, error

    var level: Logger.Level {
        switch self {
        case .debug: .debug
        case .info: .info
        case .warn: .warning
        case .error: .error
        }
    }
}

extension LogFormat: ExpressibleByArgument {}

/// One line to standard error (FileHandle is not in FoundationEssentials).
func standardError(_ message: String) {
    let line = Array((message + "\n").utf8)
    var written = 0
    while written < line.count {
        let count = line[written...].withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
        if count < 0, errno == EINTR { continue }
        guard count > 0 else { return }
        written += count
    }
}
