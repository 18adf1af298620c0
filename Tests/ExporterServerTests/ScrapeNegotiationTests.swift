import Foundation
import Testing

/// A scrape as a Prometheus server sends it: its exact `Accept` header and the format the
/// exporter must answer with.
struct ScrapeRequest: Sendable, CustomTestStringConvertible {
    let scraper: String
    let accept: String?
    let openMetrics: Bool
    var testDescription: String { scraper }
}

/// The `Accept` headers of the Prometheus versions in use. 2.42 is captured from the Debian
/// binary; the 3.x ones are what its scrape protocols produce (`scrape_protocols` in the
/// scrape config; protobuf first when native histograms are scraped; `escaping=` since 3.0).
let prometheusScrapeRequests: [ScrapeRequest] = [
    ScrapeRequest(scraper: "Prometheus 2.42",
                  accept: "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                  openMetrics: true),
    ScrapeRequest(scraper: "Prometheus 2.49+ (scrape_protocols)",
                  accept: "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
                  openMetrics: true),
    ScrapeRequest(scraper: "Prometheus 3.0",
                  accept: "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;escaping=allow-utf-8;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.3,*/*;q=0.2",
                  openMetrics: true),
    ScrapeRequest(scraper: "Prometheus 3.x",
                  accept: "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
                  openMetrics: true),
    ScrapeRequest(scraper: "Prometheus 3.x, escaping=underscores",
                  accept: "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=underscores;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
                  openMetrics: true),
    ScrapeRequest(scraper: "Prometheus 3.x, protobuf first (native histograms)",
                  accept: "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
                  openMetrics: true),
    ScrapeRequest(scraper: "Prometheus 3.x, scrape_protocols: [PrometheusProto]",
                  accept: "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,*/*;q=0.5",
                  openMetrics: false),
    ScrapeRequest(scraper: "Prometheus 3.x, scrape_protocols: [PrometheusText1.0.0]",
                  accept: "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.6,*/*;q=0.5",
                  openMetrics: false),
    ScrapeRequest(scraper: "Prometheus 3.x, scrape_protocols: [PrometheusText0.0.4]",
                  accept: "text/plain;version=0.0.4;q=0.6,*/*;q=0.5",
                  openMetrics: false),
    ScrapeRequest(scraper: "Prometheus 3.x, scrape_protocols: [OpenMetricsText0.0.1]",
                  accept: "application/openmetrics-text;version=0.0.1;q=0.6,*/*;q=0.5",
                  openMetrics: false),
    ScrapeRequest(scraper: "*/*", accept: "*/*", openMetrics: false),
    ScrapeRequest(scraper: "no Accept header", accept: nil, openMetrics: false),
]

/// Each scrape, as each Prometheus version sends it, gets a Content-Type Prometheus knows, the
/// format it asked for, gzip when it allows it, and a body Prometheus' own parser accepts.
@Suite(.serialized) struct ScrapeNegotiationTests {
    static let textContentType = "text/plain; version=0.0.4; charset=utf-8"
    static let openMetricsContentType = "application/openmetrics-text; version=1.0.0; charset=utf-8"

    @Test func everyPrometheusScrapeGetsAValidContentTypeAndBody() throws {
        let promtool = try #require(which("promtool"), "promtool is missing: install the prometheus package (make deps)")
        // A failing check gives histograms, counters and gauges with labels to render.
        let file = try TemporaryConfig("""
        checks:
          - {name: refused, url: 'http://127.0.0.1:1/', interval: 1s, timeout: 500ms, labels: {endpoint: /, kpi: dashboard}}

        """)
        let exporter = try ExporterProcess(arguments: ["--config.file", file.path])
        let base = "http://127.0.0.1:\(exporter.port)"
        #expect(try waitUntilReady(base))

        for request in prometheusScrapeRequests {
            for gzip in [true, false] {
                let response = try scrape(base, accept: request.accept, gzip: gzip)
                let context = "\(request.scraper), gzip \(gzip)"
                let expectedType = request.openMetrics ? Self.openMetricsContentType : Self.textContentType
                #expect(response.headers["content-type"] == expectedType, "\(context): \(response.headers)")
                #expect(response.headers["content-encoding"] == (gzip ? "gzip" : nil), "\(context)")
                #expect(response.body.contains("mitra_probe_duration_seconds_bucket{check=\"refused\",endpoint=\"/\",kpi=\"dashboard\",le=\"1.0\"}"),
                        "\(context): le values must be in the float form Prometheus 3 stores")
                if request.openMetrics {
                    #expect(response.body.hasSuffix("# EOF\n"), "\(context)")
                    #expect(response.body.contains("# TYPE mitra_probe_runs counter"), "\(context)")
                } else {
                    #expect(!response.body.contains("# EOF"), "\(context)")
                    let lint = try runCommand(promtool, ["check", "metrics"], stdin: response.body)
                    let problems = lint.output.split(separator: "\n").map(String.init).filter { line in
                        postgresExporterCompatibleLint.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)) == nil
                    }
                    #expect(problems.isEmpty, "\(context): promtool check metrics: \(problems.joined(separator: "\n"))")
                }
            }
        }
    }

    /// Status, lowercased response headers and the (decompressed) body of one scrape.
    private func scrape(_ base: String, accept: String?, gzip: Bool) throws -> (headers: [String: String], body: String) {
        // `-H "Accept:"` removes curl's own `Accept: */*`, so "no header" really sends none.
        var arguments = ["-f", "-D", "-", "-H", accept.map { "Accept: \($0)" } ?? "Accept:"]
        if gzip { arguments += ["--compressed"] } else { arguments += ["-H", "Accept-Encoding: identity"] }
        let output = try curl(arguments + ["\(base)/metrics"]).output
        guard let split = output.range(of: "\r\n\r\n") else { return ([:], output) }
        var headers: [String: String] = [:]
        for line in output[..<split.lowerBound].split(separator: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (headers, String(output[split.upperBound...]))
    }
}
