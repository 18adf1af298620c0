import ExporterConfig
@testable import ExporterServer
import Exposition
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Sampling
import Testing

/// A check sampler's runs counter, as HTTPChecks publishes it.
private func checkRuns(_ check: String, success: Double, failure: Double) -> MetricFamily {
    .counter("mitra_probe_runs_total", "runs", [
        Series([Label("check", check), Label("result", "success")], success),
        Series([Label("check", check), Label("result", "failure")], failure),
    ])
}

private func scenarioRuns(_ role: String, success: Double, failure: Double) -> MetricFamily {
    .counter("mitra_scenario_runs_total", "runs", [
        Series([Label("scenario", "login-" + role), Label("role", role), Label("result", "success")], success),
        Series([Label("scenario", "login-" + role), Label("role", role), Label("result", "failure")], failure),
    ])
}

private func apiRequests(_ byCode: [(String, Double)]) -> MetricFamily {
    .counter("agentmitra_api_requests_total", "requests", byCode.map { Series([Label("route", "/x"), Label("code", $0.0)], $0.1) })
}

@Suite struct KPIHistoryTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        /// (time, successes, failures) of one check's counters, published in order.
        var publishes: [(Double, Double, Double)]
        var expectedTotal: Double
        var expectedFailed: Double
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "the first snapshot is a baseline only", publishes: [(0, 10, 2)], expectedTotal: 0, expectedFailed: 0),
        Case(name: "increases after the baseline", publishes: [(0, 10, 2), (60, 20, 5)], expectedTotal: 13, expectedFailed: 3),
        Case(name: "a reset counts the new value as the increase since it",
             publishes: [(0, 10, 0), (60, 20, 0), (120, 3, 1)], expectedTotal: 10 + 4, expectedFailed: 1),
        Case(name: "unchanged counters add nothing", publishes: [(0, 5, 5), (60, 5, 5), (120, 5, 5)], expectedTotal: 0, expectedFailed: 0),
    ]

    @Test(arguments: cases) func counterIncreases(_ testCase: Case) {
        let history = KPIHistory()
        for (time, success, failure) in testCase.publishes {
            history.record(samplerID: "check/a", families: [checkRuns("a", success: success, failure: failure)], at: time)
        }
        let window = history.increases(window: 3600, now: testCase.publishes.last!.0)
        #expect(window["api.checks"] == testCase.expectedTotal)
        #expect(window["api.checks.failed"] == testCase.expectedFailed)
    }

    @Test func aSeriesAppearingLaterCountsFromZero() {
        let history = KPIHistory()
        history.record(samplerID: "pg/a", families: [apiRequests([("200", 1000)])], at: 0)
        history.record(samplerID: "pg/a", families: [apiRequests([("200", 1010), ("503", 4)])], at: 60)
        let window = history.increases(window: 300, now: 60)
        #expect(window["api.requests"] == 14)
        #expect(window["api.requests.5xx"] == 4)
    }

    @Test func windowsStartAtThePointBeforeTheirStart() {
        let history = KPIHistory(resolution: 10, retention: 3600)
        // One failure a minute for two hours, after a baseline.
        for minute in 0...120 {
            history.record(samplerID: "check/a", families: [checkRuns("a", success: 0, failure: Double(minute))], at: Double(minute * 60))
        }
        let now = 120.0 * 60
        #expect(history.increases(window: 300, now: now)["api.checks.failed"] == 5)
        #expect(history.increases(window: 3600, now: now)["api.checks.failed"] == 60)
        #expect(history.increases(window: 3600, now: now).covered == 3600)
        // Young history: a window longer than it covers what there is.
        let young = KPIHistory()
        young.record(samplerID: "check/a", families: [checkRuns("a", success: 0, failure: 0)], at: 1000)
        young.record(samplerID: "check/a", families: [checkRuns("a", success: 0, failure: 2)], at: 1100)
        let window = young.increases(window: 3600, now: 1100)
        #expect(window["api.checks.failed"] == 2)
        #expect(window.covered == 100)
        #expect(KPIHistory().increases(window: 300, now: 5).covered == 0)
    }

    @Test func staysBounded() {
        // Ten minutes kept; a publish every second for twice as long, with ever new roles.
        // (Small on purpose: tests share the cooperative pool with timing-sensitive ones.)
        let history = KPIHistory(resolution: 10, retention: 600)
        for second in 0..<1200 {
            history.record(samplerID: "s", families: [scenarioRuns("role-\(second % 300)", success: Double(second), failure: 0)], at: Double(second))
        }
        #expect(history.pointCount == 600 / 10 + 2)
        #expect(history.keyCount <= KPIHistory.maxKeys)
    }

    @Test func gaugeReadingsAverage() {
        let history = KPIHistory()
        for (time, value) in [(0.0, 0.2), (15.0, 0.8)] {
            history.record(samplerID: "postgres/agentmitra", families: [
                .gauge("pg_stat_statements_mean_exec_seconds", "mean", [Series([Label("instance_name", "agentmitra")], value)]),
            ], at: time)
        }
        let window = history.increases(window: 300, now: 15)
        #expect(window["db.mean.sum|agentmitra"] == 1.0)
        #expect(window["db.mean.n|agentmitra"] == 2)
    }

    @Test func histogramsCountOnlyWhenTheThresholdIsABucket() {
        func probe(_ kpi: String, buckets: [Double], observations: [Double]) -> MetricFamily {
            var value = HistogramValue(upperBounds: buckets)
            for observation in observations { value.observe(observation) }
            return MetricFamily(name: "mitra_probe_duration_seconds", help: "d", type: .histogram,
                                series: [Series(labels: [Label("check", kpi), Label("kpi", kpi)], value: .histogram(value))])
        }
        let history = KPIHistory()
        history.record(samplerID: "check/dashboard", families: [probe("dashboard", buckets: [1, 2, 5], observations: [])], at: 0)
        history.record(samplerID: "check/dashboard", families: [probe("dashboard", buckets: [1, 2, 5], observations: [0.5, 1.9, 2.0, 4])], at: 60)
        history.record(samplerID: "check/analytics", families: [probe("analytics", buckets: [1, 2, 5], observations: [])], at: 0)
        history.record(samplerID: "check/analytics", families: [probe("analytics", buckets: [1, 2, 5], observations: [0.5])], at: 60)
        let window = history.increases(window: 300, now: 60)
        // `le` is inclusive: 2.0 is under 2 s.
        #expect(window["latency.dashboard.under"] == 3)
        #expect(window["latency.dashboard.measured"] == 4)
        // No 3 s bucket: the analytics KPI has no data rather than a guess.
        #expect(window["latency.analytics.measured"] == 0)
        #expect(window["latency.api.measured"] == 5)
    }
}

@Suite struct KPIFigureTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var kpiID: String
        var increases: [String: Double]
        var state: KPIBoard.State
        var value: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "no data without a denominator", kpiID: "api-availability", increases: [:], state: .noData, value: ""),
        Case(name: "API success exactly at 99 % is ok", kpiID: "api-availability",
             increases: ["api.checks": 60, "api.requests": 40, "api.checks.failed": 1], state: .ok, value: "99 %"),
        Case(name: "API success under 99 % fails", kpiID: "api-availability",
             increases: ["api.checks": 60, "api.requests": 40, "api.checks.failed": 1, "api.requests.5xx": 1], state: .failing, value: "98 %"),
        Case(name: "a role whose logins all fail", kpiID: "login-success:role-junior-agent",
             increases: ["login.runs|role-junior-agent": 4, "login.failed|role-junior-agent": 4, "login.runs|role-super-admin": 4],
             state: .failing, value: "0 %"),
        Case(name: "another role's failures do not count", kpiID: "login-success:role-super-admin",
             increases: ["login.runs|role-junior-agent": 4, "login.failed|role-junior-agent": 4, "login.runs|role-super-admin": 4],
             state: .ok, value: "100 %"),
        Case(name: "login success exactly at 95 %", kpiID: "login-success:role-super-admin",
             increases: ["login.runs|role-super-admin": 20, "login.failed|role-super-admin": 1], state: .ok, value: "95 %"),
        Case(name: "latency share just under the target", kpiID: "dashboard-latency",
             increases: ["latency.dashboard.measured": 1000, "latency.dashboard.under": 949], state: .failing, value: "94.90 %"),
        Case(name: "5xx rate at the limit is ok", kpiID: "api-5xx",
             increases: ["api.requests": 100, "api.requests.5xx": 5], state: .ok, value: "5 %"),
        Case(name: "5xx rate over the limit", kpiID: "api-5xx",
             increases: ["api.requests": 100, "api.requests.5xx": 6], state: .failing, value: "6 %"),
        Case(name: "4xx rate without requests", kpiID: "api-4xx", increases: ["api.requests.4xx": 0], state: .noData, value: ""),
        Case(name: "4xx rate is tracked without a verdict", kpiID: "api-4xx",
             increases: ["api.requests": 100, "api.requests.4xx": 40], state: .tracked, value: "40 %"),
        Case(name: "DB mean under 500 ms", kpiID: "db-query-time:pg", increases: ["db.mean.sum|pg": 0.998, "db.mean.n|pg": 2],
             state: .ok, value: "499 ms"),
        Case(name: "DB mean of exactly 500 ms is not under it", kpiID: "db-query-time:pg", increases: ["db.mean.sum|pg": 1.0, "db.mean.n|pg": 2],
             state: .failing, value: "500 ms"),
    ]

    @Test(arguments: cases) func figure(_ testCase: Case) throws {
        let kpis = KPIBoard.kpis(roles: ["role-junior-agent", "role-super-admin"], instances: ["pg"])
        let kpi = try #require(kpis.first { $0.id == testCase.kpiID })
        let figure = kpi.figure(KPIWindow(increases: testCase.increases, covered: 300))
        #expect(figure.state == testCase.state)
        #expect(figure.value == testCase.value)
    }

    @Test func everySeedKPIIsOnTheBoard() {
        let ids = KPIBoard.kpis(roles: ["r"], instances: []).map(\.id)
        #expect(ids == ["api-availability", "login-success:r", "login-latency", "dashboard-latency", "policy-search-latency",
                        "analytics-latency", "api-latency", "db-query-time", "api-5xx", "api-4xx"])
    }

    @Test func htmlMarksStatesAndEscapesEverything() {
        let kpis = KPIBoard.kpis(roles: ["<script>alert(1)</script>"], instances: [])
        let window = KPIWindow(increases: ["login.runs|<script>alert(1)</script>": 3, "login.failed|<script>alert(1)</script>": 3,
                                           "api.checks": 10], covered: 300)
        let html = KPIBoard.html(short: window, long: window, kpis: kpis,
                                 failing: [.init(collector: "check/a&b", error: "status 500 <b>boom</b> \"x\"", since: "never")])
        #expect(!html.contains("<script>"))
        #expect(html.contains("data-kpi=\"login-success:&lt;script&gt;alert(1)&lt;/script&gt;\""))
        #expect(html.contains("<td class=\"kpi-failing\" data-window=\"5m\" data-state=\"failing\">0 % <small>(0 of 3)</small></td>"))
        #expect(html.contains("<tr data-kpi=\"api-availability\"><td>API success (checks passed, requests without 5xx)</td><td>≥ 99 %</td>"
            + "<td class=\"kpi-ok\" data-window=\"5m\" data-state=\"ok\">100 % <small>(10 of 10)</small></td>"))
        #expect(html.contains("<tr data-kpi=\"api-5xx\"><td>API 5xx rate</td><td>≤ 5 %</td><td class=\"kpi-no-data\" data-window=\"5m\" data-state=\"no-data\">no data</td>"))
        #expect(html.contains("<li><strong>check/a&amp;b</strong> (last success never): status 500 &lt;b&gt;boom&lt;/b&gt; &quot;x&quot;</li>"))
        #expect(KPIBoard.html(short: window, long: window, kpis: kpis, failing: []).contains("<p class=\"failing-collectors\">None.</p>"))
    }

    @Test func statusPageShowsTheBoardFromPublishedSnapshots() async throws {
        let file = try TemporaryConfig("checks:\n  - {name: a, url: 'http://127.0.0.1:1/a'}\n")
        let runtime = try makeRuntime(file, clock: FixedClock(value: 1000))
        for (time, failures) in [(900.0, 0.0), (990.0, 3.0)] {
            var result = StubSampler.result(id: "check/a", succeed: false, error: "status 500 from http://127.0.0.1:1/a")
            result.families.append(checkRuns("a", success: 1, failure: failures))
            runtime.store.publish(.init(samplerID: "check/a", interval: .seconds(15), startedAt: time, finishedAt: time, result: result))
        }
        let app = Application(router: ExporterHTTPServer.makeRouter(runtime: runtime, webConfig: WebConfig(), logger: .init(label: "t")))
        try await app.test(.router) { client in
            try await client.execute(uri: "/", method: .get) { response in
                let page = body(response)
                #expect(page.contains("<td class=\"kpi-failing\" data-window=\"5m\" data-state=\"failing\">0 % <small>(0 of 3)</small></td>"))
                #expect(page.contains("<ul class=\"failing-collectors\">\n<li><strong>check/a</strong>"))
                // Failing collectors come before the collector table.
                let failing = try #require(page.range(of: "failing-collectors"))
                let table = try #require(page.range(of: "<th>Collector</th>"))
                #expect(failing.lowerBound < table.lowerBound)
            }
        }
    }
}
