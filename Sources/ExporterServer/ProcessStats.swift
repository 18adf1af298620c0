import ExporterConfig
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The `process_*` metrics client libraries export, read from /proc/self.
public struct ProcessStats: Sendable, Hashable {
    public var cpuSeconds: Double
    public var residentMemoryBytes: Double
    public var virtualMemoryBytes: Double
    public var startTimeSeconds: Double
    public var openFDs: Double
    public var maxFDs: Double

    public init(cpuSeconds: Double, residentMemoryBytes: Double, virtualMemoryBytes: Double,
                startTimeSeconds: Double, openFDs: Double, maxFDs: Double) {
        self.cpuSeconds = cpuSeconds
        self.residentMemoryBytes = residentMemoryBytes
        self.virtualMemoryBytes = virtualMemoryBytes
        self.startTimeSeconds = startTimeSeconds
        self.openFDs = openFDs
        self.maxFDs = maxFDs
    }
}

public protocol ProcessStatsSource: Sendable {
    func read() -> ProcessStats?
}

public struct ProcSelfStats: ProcessStatsSource {
    /// Boot time never changes while we run; read /proc/stat once.
    private let bootTime: Double?
    private let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
    private let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))

    public init() {
        bootTime = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("btime ") }
            .flatMap { Double($0.dropFirst(6).trimmingSpaces()) }
    }

    public func read() -> ProcessStats? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after "(comm)" start at field 3 (state); the command name may contain spaces.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        func field(_ number: Int) -> Double { Double(fields[number - 3]) ?? 0 }
        guard fields.count >= 22 else { return nil }
        let cpu = (field(14) + field(15)) / ticksPerSecond
        let start = (bootTime ?? 0) + field(22) / ticksPerSecond
        let openFDs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count).map(Double.init) ?? 0
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return ProcessStats(cpuSeconds: cpu, residentMemoryBytes: field(24) * pageSize, virtualMemoryBytes: field(23),
                            startTimeSeconds: start, openFDs: openFDs, maxFDs: Double(limit.rlim_cur))
    }
}
