import Exposition
import LogFormats

/// The exporter's own metrics: build, reloads, scrapes and the process.
enum SelfMetrics {
    struct ReloadState: Sendable {
        var successful: Bool
        var lastSuccessTimestamp: Double
    }

    static func families(reload: ReloadState, scrapes: UInt64, droppedLogLines: UInt64, process: ProcessStats?) -> [MetricFamily] {
        var families: [MetricFamily] = [
            .gauge("mitra_exporter_build_info", "A metric with a constant '1' value labeled by version, revision and Swift version.",
                   [Series([Label("version", BuildInfo.version), Label("revision", BuildInfo.revision),
                            Label("swift_version", BuildInfo.swiftVersion)], 1)]),
            .gauge("mitra_exporter_config_last_reload_successful", "Whether the last configuration reload attempt was successful.",
                   [Series([], reload.successful ? 1 : 0)]),
            .gauge("mitra_exporter_config_last_reload_success_timestamp_seconds", "Timestamp of the last successful configuration reload.",
                   [Series([], reload.lastSuccessTimestamp)]),
            .counter("mitra_exporter_scrapes_total", "Requests served on /metrics, this one included.",
                     [Series([], Double(scrapes))]),
            .counter("mitra_exporter_log_lines_dropped_total",
                     "Log lines not written because the log destination was full, closed or not being read.",
                     [Series([], Double(droppedLogLines))]),
        ]
        if let process {
            families += [
                .counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", [Series([], process.cpuSeconds)]),
                .gauge("process_open_fds", "Number of open file descriptors.", [Series([], process.openFDs)]),
                .gauge("process_max_fds", "Maximum number of open file descriptors.", [Series([], process.maxFDs)]),
                .gauge("process_resident_memory_bytes", "Resident memory size in bytes.", [Series([], process.residentMemoryBytes)]),
                .gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", [Series([], process.virtualMemoryBytes)]),
                .gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", [Series([], process.startTimeSeconds)]),
            ]
        }
        return families
    }
}
