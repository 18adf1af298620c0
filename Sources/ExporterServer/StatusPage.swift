import ExporterConfig
import Sampling

/// The `/` page: what runs, how it fared, and links. Everything shown passes the redactor.
enum StatusPage {
    // Rendered by hand rather than with a template engine: the template library imports
    // Foundation, which links ICU into the binary. Every interpolated value goes through
    // `HTML.escape(_:)`. The page is a constant in the binary: a deployed exporter needs no
    // resource files.

    static func render(runtime: ExporterRuntime, now: Double, traceIDs: Set<String>) -> String {
        let config = runtime.configuration
        let redactor = config.redactor
        var rows = ""
        for status in runtime.store.collectorStatuses {
            let state: String
            switch status.lastSuccess {
            case .none: state = "pending"
            case .some(true): state = "ok"
            case .some(false): state = "failed"
            }
            let interval = DurationParser.format(.milliseconds(Int64(status.intervalSeconds * 1000)))
            let lastRun = status.lastRunAt.map { "\(Int(max(0, now - $0)))s ago" } ?? "never"
            let duration = status.lastDurationSeconds.map { DurationParser.formatSeconds($0, digits: 3) } ?? ""
            let lastSuccess = status.lastSuccessAt.map { "\(Int(max(0, now - $0)))s ago" } ?? "never"
            var trace = ""
            if traceIDs.contains(status.samplerID) {
                let link = "/trace?id=" + PercentEncoding.encode(status.samplerID, keeping: PercentEncoding.queryCharacters)
                trace = "<a href=\"\(HTML.escape(link))\">trace</a>"
            }
            rows += "<tr><td>\(HTML.escape(status.collector))</td><td>\(HTML.escape(interval))</td><td class=\"\(state)\">\(state)</td>"
                + "<td>\(HTML.escape(lastRun))</td><td>\(HTML.escape(duration))</td><td>\(HTML.escape(lastSuccess))</td>"
                + "<td>\(HTML.escape(redactor.redact(status.lastError ?? "")))</td><td>\(trace)</td></tr>\n"
        }
        let ready = runtime.isReady ? "ready" : "starting (waiting for every collector's first run)"
        let reloadFailed = runtime.lastReloadSuccessful
            ? "" : "&middot; <span class=\"failed\">last reload failed: the previous configuration is still running</span>"
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>mitra-exporter</title>
        <style>
        body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}
        td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:14px}
        .ok{color:#1a7f37}.failed{color:#cf222e;font-weight:bold}.pending{color:#9a6700}
        </style></head><body>
        <h1>mitra-exporter</h1>
        <p>Version \(HTML.escape(BuildInfo.version)) (revision \(HTML.escape(BuildInfo.revision))) &middot; config <code>\(HTML.escape(config.file))</code> &middot; \(ready)
        \(reloadFailed)</p>
        <p><a href="/metrics">Metrics</a> &middot; <a href="/-/healthy">Health</a> &middot; <a href="/-/ready">Readiness</a></p>
        <p>\(config.checks.count) HTTP checks, \(config.scenarios.count) scenarios, \(config.postgres.count) PostgreSQL instances.</p>
        \(KPIBoard.html(runtime: runtime, now: now))
        <table><tr><th>Collector</th><th>Interval</th><th>State</th><th>Last run</th><th>Duration</th><th>Last success</th><th>Last error</th><th></th></tr>
        \(rows)</table>
        </body></html>

        """
    }

}
