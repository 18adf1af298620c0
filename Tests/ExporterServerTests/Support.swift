import ExporterConfig
@testable import ExporterServer
import Exposition
import Foundation
import Logging
import Sampling
import Synchronization

struct FixedClock: WallClock {
    let value: Double
    func now() -> Double { value }
}

struct FixedProcessStats: ProcessStatsSource {
    func read() -> ProcessStats? {
        ProcessStats(cpuSeconds: 1.5, residentMemoryBytes: 12_345_678, virtualMemoryBytes: 98_765_432,
                     startTimeSeconds: 1_700_000_000, openFDs: 12, maxFDs: 1024)
    }
}

/// A sampler with a fixed result, built per config entry by `StubFactory`.
final class StubSampler: Sampler, TraceReporting {
    let id: String
    let interval: Duration
    let timeout: Duration
    let succeed: Bool
    let errorText: String?
    private let runCount = Mutex(0)

    init(id: String, interval: Duration, timeout: Duration, succeed: Bool = true, errorText: String? = nil) {
        self.id = id
        self.interval = interval
        self.timeout = timeout
        self.succeed = succeed
        self.errorText = errorText
    }

    var runs: Int { runCount.withLock { $0 } }

    func sample() async -> SampleResult {
        runCount.withLock { $0 += 1 }
        return StubSampler.result(id: id, succeed: succeed, error: errorText)
    }

    static func result(id: String, succeed: Bool, error: String? = nil) -> SampleResult {
        SampleResult(
            families: [.gauge("probe_success", "Whether the probe succeeded.", [Series([Label("check", String(id.dropFirst(6)))], succeed ? 1 : 0)])],
            outcomes: [CollectorOutcome(collector: id, success: succeed, durationSeconds: 0.25, error: error)]
        )
    }

    func traceReport() -> String { "trace of \(id)\n" }
}

/// Builds one stub sampler per HTTP check; the check URL's path decides success so tests
/// can steer outcomes from the config.
struct StubFactory: SamplerFactory {
    func plan(_ config: Configuration) -> [PlannedSampler] {
        config.checks.map { check in
            PlannedSampler(id: "check/\(check.name)", fingerprint: check) {
                StubSampler(id: "check/\(check.name)", interval: check.interval, timeout: check.timeout,
                            succeed: !check.request.url.hasSuffix("/fail"),
                            errorText: check.request.url.hasSuffix("/fail") ? "status 500 from \(check.request.url)" : nil)
            }
        }
    }
}

/// A config file in a temporary directory that tests can rewrite between reloads.
final class TemporaryConfig: Sendable {
    let directory: URL
    let path: String

    init(_ text: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mitra-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        path = directory.appendingPathComponent("mitra-exporter.yml").path
        try write(text)
    }

    func write(_ text: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }
}

func makeRuntime(_ file: TemporaryConfig, environment: [String: String] = [:], clock: any WallClock = FixedClock(value: 1_800_000_000)) throws -> ExporterRuntime {
    let resolver = SecretResolver(environment: environment)
    let config = try ConfigLoader.load(path: file.path, resolver: resolver)
    return ExporterRuntime(config: config, configPath: file.path, factory: StubFactory(), store: SnapshotStore(clock: clock),
                           resolver: resolver, logger: Logger(label: "test"), processStats: FixedProcessStats())
}

/// Runs a command with a bounded time, returning its exit code and output.
func runCommand(_ executable: String, _ arguments: [String], stdin: String? = nil, timeout: Duration = .seconds(30)) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    let input = Pipe()
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try? input.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let deadline = Date().addingTimeInterval(timeout.inSeconds)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

func which(_ tool: String) -> String? {
    for directory in ["/usr/bin", "/usr/local/bin", "/bin"] where FileManager.default.isExecutableFile(atPath: "\(directory)/\(tool)") {
        return "\(directory)/\(tool)"
    }
    return nil
}
