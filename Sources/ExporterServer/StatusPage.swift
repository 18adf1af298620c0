import ExporterConfig
import Foundation
import Mustache
import Sampling

/// The `/` page: what runs, how it fared, and links. Everything shown passes the redactor.
enum StatusPage {
    static let template: MustacheTemplate = {
        // The template is a constant in the binary: a deployed exporter needs no resource files.
        do { return try MustacheTemplate(string: templateText) } catch { fatalError("status page template: \(error)") }
    }()

    static func render(runtime: ExporterRuntime, now: Double, traceIDs: Set<String>) -> String {
        let config = runtime.configuration
        let redactor = config.redactor
        let rows: [[String: Any]] = runtime.store.collectorStatuses.map { status in
            let state: String
            switch status.lastSuccess {
            case .none: state = "pending"
            case .some(true): state = "ok"
            case .some(false): state = "failed"
            }
            var row: [String: Any] = [
                "collector": status.collector,
                "interval": DurationParser.format(.milliseconds(Int64(status.intervalSeconds * 1000))),
                "state": state,
                "lastRun": status.lastRunAt.map { "\(Int(max(0, now - $0)))s ago" } ?? "never",
                "duration": status.lastDurationSeconds.map { String(format: "%.3fs", $0) } ?? "",
                "lastSuccess": status.lastSuccessAt.map { "\(Int(max(0, now - $0)))s ago" } ?? "never",
                "error": redactor.redact(status.lastError ?? ""),
            ]
            if traceIDs.contains(status.samplerID) {
                row["traceLink"] = "/trace?id=" + (status.samplerID.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? status.samplerID)
            }
            return row
        }
        let values: [String: Any] = [
            "version": BuildInfo.version,
            "revision": BuildInfo.revision,
            "configFile": config.file,
            "ready": runtime.isReady ? "ready" : "starting (waiting for every collector's first run)",
            "reloadOK": runtime.lastReloadSuccessful,
            "checks": config.checks.count,
            "scenarios": config.scenarios.count,
            "postgres": config.postgres.count,
            "collectors": rows,
            "kpiBoard": KPIBoard.html(runtime: runtime, now: now),
        ]
        return template.render(values)
    }

    static let templateText = """
    <!DOCTYPE html>
    <html lang="en"><head><meta charset="utf-8"><title>mitra-exporter</title>
    <style>
    body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}
    td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:14px}
    .ok{color:#1a7f37}.failed{color:#cf222e;font-weight:bold}.pending{color:#9a6700}
    </style></head><body>
    <h1>mitra-exporter</h1>
    <p>Version {{version}} (revision {{revision}}) &middot; config <code>{{configFile}}</code> &middot; {{ready}}
    {{^reloadOK}}&middot; <span class="failed">last reload failed: the previous configuration is still running</span>{{/reloadOK}}</p>
    <p><a href="/metrics">Metrics</a> &middot; <a href="/-/healthy">Health</a> &middot; <a href="/-/ready">Readiness</a></p>
    <p>{{checks}} HTTP checks, {{scenarios}} scenarios, {{postgres}} PostgreSQL instances.</p>
    {{{kpiBoard}}}
    <table><tr><th>Collector</th><th>Interval</th><th>State</th><th>Last run</th><th>Duration</th><th>Last success</th><th>Last error</th><th></th></tr>
    {{#collectors}}<tr><td>{{collector}}</td><td>{{interval}}</td><td class="{{state}}">{{state}}</td><td>{{lastRun}}</td><td>{{duration}}</td><td>{{lastSuccess}}</td><td>{{error}}</td><td>{{#traceLink}}<a href="{{.}}">trace</a>{{/traceLink}}</td></tr>
    {{/collectors}}</table>
    </body></html>

    """
}
