import CompressNIO
import ExporterConfig
@testable import ExporterServer
import Exposition
import Foundation
import LogFormats
import Logging
import Sampling
import Testing
import TestSupport

let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

/// The build revision depends on how the binary was built, and the dropped-log-line counter is
/// process-wide (other tests drop lines on purpose); golden files hold placeholders.
func normalised(_ text: String) -> String {
    text.replacingOccurrences(of: "revision=\"\(BuildInfo.revision)\"", with: "revision=\"REVISION\"")
        .replacingOccurrences(of: "mitra_exporter_log_lines_dropped_total \(LogLineDrops.total)\n", with: "mitra_exporter_log_lines_dropped_total N\n")
}

func assertGolden(_ actual: String, file name: String) throws {
    let url = goldenDirectory.appendingPathComponent(name)
    if TestEnvironment.updatesGoldenFiles {
        try actual.write(to: url, atomically: true, encoding: .utf8)
    }
    let expected = try String(contentsOf: url, encoding: .utf8)
    #expect(actual == expected, "golden file \(name) differs; rerun with MITRA_UPDATE_GOLDEN=1 to update it after review")
}

@Suite struct MetricsGoldenTests {
    static let config = """
    checks:
      - name: policies
        url: http://127.0.0.1:8000/policies/
        interval: 15s
      - name: analytics
        url: http://127.0.0.1:8000/analytics/fail
        interval: 30s
      - name: never-ran
        url: http://127.0.0.1:8000/other
    services:
      - name: agentmitra-api
        checks: [policies, analytics]
        depends_on: [agentmitra-db]
      - name: agentmitra-db
    """

    func populatedRuntime() throws -> (ExporterRuntime, TemporaryConfig) {
        let file = try TemporaryConfig(Self.config)
        let runtime = try makeRuntime(file)
        for id in ["check/policies", "check/analytics"] {
            let succeed = id == "check/policies"
            runtime.store.publish(SamplerSnapshot(samplerID: id, interval: .seconds(15), startedAt: 1_799_999_990, finishedAt: 1_799_999_990.25,
                                                  result: StubSampler.result(id: id, succeed: succeed, error: succeed ? nil : "status 500")))
        }
        return (runtime, file)
    }

    @Test func textFormat() throws {
        let (runtime, _) = try populatedRuntime()
        try assertGolden(normalised(runtime.metricsBody(format: .prometheusText)), file: "metrics.txt")
    }

    @Test func openMetricsFormat() throws {
        let (runtime, _) = try populatedRuntime()
        try assertGolden(normalised(runtime.metricsBody(format: .openMetrics)), file: "metrics.openmetrics.txt")
    }

    @Test func scrapesAreCounted() throws {
        let (runtime, _) = try populatedRuntime()
        _ = runtime.metricsBody(format: .prometheusText)
        #expect(runtime.metricsBody(format: .prometheusText).contains("mitra_exporter_scrapes_total 2\n"))
    }

    @Test func liveOutputPassesPromtool() throws {
        let promtool = try #require(which("promtool"), "promtool is missing: install the prometheus package (make deps)")
        let (runtime, _) = try populatedRuntime()
        let realRuntime = ExporterRuntime(config: runtime.configuration, configPath: "unused", factory: StubFactory(), logger: .init(label: "t"))
        for body in [runtime.metricsBody(format: .prometheusText), realRuntime.metricsBody(format: .prometheusText)] {
            let result = try runCommand(promtool, ["check", "metrics"], stdin: body)
            #expect(result.status == 0, "promtool check metrics: \(result.output)")
        }
    }
}
