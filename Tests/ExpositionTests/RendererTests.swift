import Exposition
import Testing

@Suite struct RendererTests {
    let families: [MetricFamily] = [
        .counter("mitra_probe_runs_total", "Probe runs.", [Series([Label("check", "a"), Label("result", "success")], 3)]),
        .gauge("probe_success", "Whether the probe succeeded.", [Series([Label("check", "a\"b\\c\nd")], 1)]),
        MetricFamily(name: "mitra_probe_duration_seconds", help: "Probe duration.\nSecond line \\ here", type: .histogram, series: [
            Series(labels: [Label("check", "a")], value: .histogram({
                var histogram = HistogramValue(upperBounds: [0.5, 0.25, 1])
                histogram.observe(0.2)
                histogram.observe(0.7)
                return histogram
            }())),
        ]),
        .gauge("probe_success", "Whether the probe succeeded.", [Series([Label("check", "b")], 0.125)]),
        .gauge("empty_family", "Has no series and is not rendered.", []),
    ]

    @Test func rendersPrometheusText() {
        #expect(Renderer.render(families, format: .prometheusText) == """
        # HELP mitra_probe_runs_total Probe runs.
        # TYPE mitra_probe_runs_total counter
        mitra_probe_runs_total{check="a",result="success"} 3
        # HELP probe_success Whether the probe succeeded.
        # TYPE probe_success gauge
        probe_success{check="a\\"b\\\\c\\nd"} 1
        probe_success{check="b"} 0.125
        # HELP mitra_probe_duration_seconds Probe duration.\\nSecond line \\\\ here
        # TYPE mitra_probe_duration_seconds histogram
        mitra_probe_duration_seconds_bucket{check="a",le="0.25"} 1
        mitra_probe_duration_seconds_bucket{check="a",le="0.5"} 1
        mitra_probe_duration_seconds_bucket{check="a",le="1.0"} 2
        mitra_probe_duration_seconds_bucket{check="a",le="+Inf"} 2
        mitra_probe_duration_seconds_sum{check="a"} 0.8999999999999999
        mitra_probe_duration_seconds_count{check="a"} 2

        """)
    }

    @Test func rendersOpenMetrics() {
        let text = Renderer.render([families[0], families[1]], format: .openMetrics)
        #expect(text == """
        # TYPE mitra_probe_runs counter
        # HELP mitra_probe_runs Probe runs.
        mitra_probe_runs_total{check="a",result="success"} 3
        # TYPE probe_success gauge
        # HELP probe_success Whether the probe succeeded.
        probe_success{check="a\\"b\\\\c\\nd"} 1
        # EOF

        """)
    }

    /// Counters named without `_total` keep their name in OpenMetrics (typed unknown), so
    /// Prometheus stores the same series whichever format it negotiated.
    @Test func openMetricsKeepsCounterNamesWithoutTotal() {
        let text = Renderer.render([.counter("pg_stat_database_xact_commit", "Commits.", [Series([], 7)])], format: .openMetrics)
        #expect(text == "# TYPE pg_stat_database_xact_commit unknown\n# HELP pg_stat_database_xact_commit Commits.\npg_stat_database_xact_commit 7\n# EOF\n")
    }

    @Test(arguments: [
        (1.0, "1"), (0.5, "0.5"), (-3.0, "-3"), (Double.infinity, "+Inf"), (-Double.infinity, "-Inf"), (Double.nan, "NaN"),
        (1e20, "1e+20"), (1795600459.25, "1795600459.25"),
    ])
    func formatsNumbers(_ value: Double, _ expected: String) {
        #expect(Renderer.formatNumber(value) == expected)
    }

    /// Prometheus 3's own examples and Go's `strconv.FormatFloat(v, 'g', -1, 64)` + ".0".
    @Test(arguments: [
        (1.0, "1.0"), (2.0, "2.0"), (3.0, "3.0"), (0.0, "0.0"), (-1.0, "-1.0"), (0.25, "0.25"), (0.5, "0.5"),
        (0.05, "0.05"), (10.0, "10.0"), (300.0, "300.0"), (100_000.0, "100000.0"), (123_456.5, "123456.5"),
        (1e6, "1e+06"), (1_234_567.0, "1.234567e+06"), (1e21, "1e+21"), (1e100, "1e+100"),
        (0.0001, "0.0001"), (0.00001, "1e-05"), (1.5e-7, "1.5e-07"), (-2.5, "-2.5"),
        (Double.infinity, "+Inf"), (-Double.infinity, "-Inf"), (Double.nan, "NaN"),
    ])
    func formatsLabelFloatsAsPrometheus3StoresThem(_ value: Double, _ expected: String) {
        #expect(Renderer.formatLabelFloat(value) == expected)
    }

    @Test func histogramBucketsUseTheStoredForm() {
        var histogram = HistogramValue(upperBounds: [0.25, 1, 2])
        histogram.observe(0.7)
        let text = Renderer.render([MetricFamily(name: "h_seconds", help: "H.", type: .histogram, series: [Series(labels: [], value: .histogram(histogram))])], format: .prometheusText)
        #expect(text.contains("h_seconds_bucket{le=\"0.25\"} 0\n"))
        #expect(text.contains("h_seconds_bucket{le=\"1.0\"} 1\n"))
        #expect(text.contains("h_seconds_bucket{le=\"2.0\"} 1\n"))
        #expect(text.contains("h_seconds_bucket{le=\"+Inf\"} 1\n"))
        #expect(!text.contains("le=\"1\""))
    }

    @Test func addingLabelsPrependsThem() {
        let family = MetricFamily.gauge("g", "h", [Series([Label("a", "1")], 1)]).addingLabels([Label("instance_name", "db")])
        #expect(family.series[0].labels == [Label("instance_name", "db"), Label("a", "1")])
    }
}

@Suite struct NegotiationTests {
    @Test(arguments: [
        (nil, ExpositionFormat.prometheusText),
        ("", .prometheusText),
        ("text/plain", .prometheusText),
        ("*/*", .prometheusText),
        ("application/openmetrics-text; version=1.0.0", .openMetrics),
        // What Prometheus 2.x sends when it prefers OpenMetrics:
        ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", .openMetrics),
        ("text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5", .prometheusText),
        ("application/openmetrics-text;version=0.0.1", .prometheusText),
        ("application/json", .prometheusText),
    ])
    func negotiates(_ accept: String?, _ expected: ExpositionFormat) {
        #expect(ExpositionFormat.negotiate(accept: accept) == expected)
    }
}

@Suite struct AddingLabelsTests {
    /// Series that share a label array, series with arrays of equal contents, and series
    /// without labels all get `extra` first and their own labels after, in every family.
    @Test func everySeriesGetsTheExtraLabelsFirst() {
        let table = [Label("relname", "users")]
        let sameContents = [Label("relname", "users")]
        let other = [Label("relname", "policies")]
        let families: [MetricFamily] = [
            .counter("seq_scan", "Scans.", [Series(table, 1), Series(other, 2), Series([], 3)]),
            .gauge("size_bytes", "Size.", [Series(table, 4), Series(sameContents, 5), Series(other, 6)]),
        ]
        let extra = [Label("instance_name", "main"), Label("env", "prod")]
        let labelled = families.addingLabels(extra)
        #expect(labelled.count == families.count)
        for (before, after) in zip(families, labelled) {
            #expect(after.name == before.name)
            #expect(after.series.map(\.value) == before.series.map(\.value))
            #expect(after.series.map(\.labels) == before.series.map { extra + $0.labels })
        }
        #expect(families.addingLabels([]) == families)
    }
}
