import CCurl
import ExporterConfig
import Exposition
import Foundation
import HTTPChecks
import HTTPProbe
import Logging
import Sampling
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The probe side of `bench/http/run.sh`: N checks on the real scheduler against an external
/// target, reporting CPU seconds and resident memory. Runs only when the script sets
/// MITRA_HTTP_BENCH_URL (the target) and MITRA_HTTP_BENCH_OUT (where to write the figures).
@Suite("HTTP probe benchmark", .enabled(if: ProcessInfo.processInfo.environment["MITRA_HTTP_BENCH_URL"] != nil))
struct HTTPBenchmark {
    static func environment(_ name: String, _ fallback: String) -> String {
        ProcessInfo.processInfo.environment[name] ?? fallback
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    /// VmRSS and VmHWM from /proc/self/status, in bytes.
    static func memory() -> (rss: Double, peak: Double) {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Double {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return (Double(line.split(separator: " ").dropFirst().first.map(String.init) ?? "") ?? 0) * 1024
        }
        return (field("VmRSS"), field("VmHWM"))
    }

    @Test func probesOnTheScheduler() async throws {
        let url = Self.environment("MITRA_HTTP_BENCH_URL", "")
        let output = Self.environment("MITRA_HTTP_BENCH_OUT", "/dev/stdout")
        let checks = Int(Self.environment("MITRA_HTTP_BENCH_CHECKS", "1000")) ?? 1000
        let seconds = Int(Self.environment("MITRA_HTTP_BENCH_SECONDS", "60")) ?? 60
        let interval = Self.environment("MITRA_HTTP_BENCH_INTERVAL", "15s")

        let baseline = Self.memory()
        var yaml = "checks:\n"
        for index in 0..<checks {
            yaml += "  - {name: c\(index), url: \"\(url)\", interval: \(interval), timeout: 5s, expect: {status: [200]}}\n"
        }
        let config = try parseConfig(yaml)
        yaml = ""
        mitra_release_free_memory()
        let afterConfig = Self.memory()
        let engine = HTTPProbeEngine()
        defer { engine.shutdown() }
        let samplers: [any Sampler] = config.checks.map { HTTPCheckSampler(config: $0, engine: engine, redactor: config.redactor) }
        let afterSamplers = Self.memory()
        let store = SnapshotStore()
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let scheduler = SamplerScheduler(store: store, logger: logger)

        let cpuStart = Self.cpuSeconds()
        let clock = ContinuousClock()
        let started = clock.now
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await scheduler.run() }
            scheduler.replace(with: samplers)
            try? await Task.sleep(for: .seconds(seconds))
            scheduler.finish()
            group.cancelAll()
        }
        let elapsed = (clock.now - started).inSeconds
        let cpu = Self.cpuSeconds() - cpuStart
        let memory = Self.memory()
        // How much of the resident size is freed heap that glibc kept (live data stays).
        mitra_release_free_memory()
        let trimmed = Self.memory()

        var successes = 0.0, failures = 0.0
        var phaseMismatches = 0
        for snapshot in store.snapshots {
            for family in snapshot.result.families where family.name == "mitra_probe_runs_total" {
                for series in family.series {
                    guard case .number(let value) = series.value else { continue }
                    if series.labels.contains(Label("result", "success")) { successes += value } else { failures += value }
                }
            }
            // Each probe's phases must add up to no more than its duration.
            let phases = snapshot.result.families.first { $0.name == "probe_http_duration_seconds" }?.series.reduce(0.0) {
                if case .number(let value) = $1.value { return $0 + value } else { return $0 }
            } ?? 0
            let duration = snapshot.result.families.first { $0.name == "probe_duration_seconds" }?.series.first.flatMap {
                if case .number(let value) = $0.value { return value } else { return nil }
            } ?? 0
            if phases > duration + 1e-6 { phaseMismatches += 1 }
        }
        let renderStart = clock.now
        let rendered = store.renderedSamples(format: .prometheusText)
        let renderSeconds = (clock.now - renderStart).inSeconds

        let probes = successes + failures
        let figures: [String: Double] = [
            "checks": Double(checks), "seconds": elapsed, "probes": probes, "failures": failures,
            "cpu_seconds": cpu, "cpu_seconds_per_1000_probes": probes > 0 ? cpu / probes * 1000 : 0,
            "rss_bytes": memory.rss, "peak_rss_bytes": memory.peak, "baseline_rss_bytes": baseline.rss,
            "rss_after_trim_bytes": trimmed.rss, "rss_after_config_bytes": afterConfig.rss,
            "rss_after_samplers_bytes": afterSamplers.rss,
            "metrics_bytes": Double(rendered.utf8.count), "render_seconds": renderSeconds,
            "phase_mismatches": Double(phaseMismatches),
        ]
        let data = try JSONSerialization.data(withJSONObject: figures, options: [.sortedKeys])
        FileManager.default.createFile(atPath: output, contents: data)
        #expect(probes >= Double(checks))
        #expect(failures == 0)
        #expect(phaseMismatches == 0)
    }
}
