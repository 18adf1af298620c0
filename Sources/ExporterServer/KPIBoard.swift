import ExporterConfig
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Sampling

/// The status page's KPI board: Agent Mitra's KPIs over the last 5 minutes and the last
/// hour, from the exporter's own counters (`KPIHistory`), each beside its target, and the
/// failing collectors. An HTML fragment with its own style, so the page embeds it as is.
enum KPIBoard {
    enum State: String, Sendable {
        case ok
        case failing
        case noData = "no-data"
        /// Shown without a verdict: the figure has no target of its own.
        case tracked
    }

    /// One KPI's figure over one window.
    struct Figure: Equatable, Sendable {
        var state: State
        /// What the cell shows, e.g. `98.75 %` or `312 ms`; empty without data.
        var value: String
        /// The counts behind it, e.g. `79 of 80`.
        var detail: String
    }

    enum Comparison: Sendable {
        /// (total − failed) / total must be at least `target`; the numerator keys count failures.
        case successAtLeast
        /// good / total must be at least `target` (a share, 0…1).
        case shareAtLeast
        /// bad / total must be at most `target`.
        case shareAtMost
        /// sum / count (seconds) must stay below `target`.
        case meanBelow
        /// bad / total, shown without a verdict (`target` unused).
        case tracked
    }

    struct KPI: Sendable {
        /// Stable id for the DOM (`data-kpi`), e.g. `login-success:role-junior-agent`.
        var id: String
        var name: String
        var comparison: Comparison
        var target: Double
        /// The KPI keys of the numerator and denominator (each summed).
        var numerator: [String]
        var denominator: [String]

        var targetText: String {
            switch comparison {
            case .successAtLeast, .shareAtLeast: "≥ " + KPIBoard.percent(target)
            case .shareAtMost: "≤ " + KPIBoard.percent(target)
            case .meanBelow: "< " + KPIBoard.milliseconds(target)
            case .tracked: "tracked"
            }
        }

        func figure(_ window: KPIWindow) -> Figure {
            var top = numerator.reduce(0) { $0 + window[$1] }
            let bottom = denominator.reduce(0) { $0 + window[$1] }
            guard bottom > 0 else { return Figure(state: .noData, value: "", detail: "") }
            if case .successAtLeast = comparison { top = max(0, bottom - top) }
            let ratio = top / bottom
            // Shares meet their target exactly at the boundary (99 of 100 is 99 %); the
            // tolerance keeps binary rounding of 1 - 1/100 from turning that into a failure.
            let tolerance = 1e-9
            switch comparison {
            case .successAtLeast, .shareAtLeast:
                return Figure(state: ratio + tolerance >= target ? .ok : .failing, value: KPIBoard.percent(ratio),
                              detail: "\(KPIBoard.count(top)) of \(KPIBoard.count(bottom))")
            case .shareAtMost:
                return Figure(state: ratio - tolerance <= target ? .ok : .failing, value: KPIBoard.percent(ratio),
                              detail: "\(KPIBoard.count(top)) of \(KPIBoard.count(bottom))")
            case .meanBelow:
                return Figure(state: ratio < target ? .ok : .failing, value: KPIBoard.milliseconds(ratio),
                              detail: "\(KPIBoard.count(bottom)) samples")
            case .tracked:
                return Figure(state: .tracked, value: KPIBoard.percent(ratio), detail: "\(KPIBoard.count(top)) of \(KPIBoard.count(bottom))")
            }
        }
    }

    /// The seed's KPIs with their targets (the SLO objectives of alerts/rules/slo.rules.yml),
    /// one login row per role and one database row per instance that the history knows.
    static func kpis(roles: [String], instances: [String]) -> [KPI] {
        var kpis = [
            KPI(id: "api-availability", name: "API success (checks passed, requests without 5xx)", comparison: .successAtLeast, target: 0.99,
                numerator: ["api.checks.failed", "api.requests.5xx"], denominator: ["api.checks", "api.requests"]),
        ]
        for role in roles {
            kpis.append(KPI(id: "login-success:" + role, name: "Login success, " + role, comparison: .successAtLeast, target: 0.95,
                            numerator: ["login.failed|" + role], denominator: ["login.runs|" + role]))
        }
        // Latency KPIs as shares under the threshold: "p95 under 2 s" holds exactly when at
        // least 95 % are under 2 s, and this needs only the threshold's bucket, not a quantile
        // over histograms with different bucket layouts.
        func underThreshold(_ id: String, _ name: String, key: String) -> KPI {
            KPI(id: id, name: name, comparison: .shareAtLeast, target: 0.95,
                numerator: ["latency.\(key).under"], denominator: ["latency.\(key).measured"])
        }
        kpis += [
            underThreshold("login-latency", "Logins under 500 ms", key: "login"),
            underThreshold("dashboard-latency", "Dashboard under 2 s", key: "dashboard"),
            underThreshold("policy-search-latency", "Policy search under 1 s", key: "policy_search"),
            underThreshold("analytics-latency", "Analytics under 3 s", key: "analytics"),
            underThreshold("api-latency", "API p95 under 2 s (requests under 2 s)", key: "api"),
        ]
        for instance in instances.isEmpty ? [""] : instances {
            kpis.append(KPI(id: "db-query-time" + (instance.isEmpty ? "" : ":" + instance),
                            name: "DB mean query time" + (instance.isEmpty ? "" : ", " + instance), comparison: .meanBelow, target: 0.5,
                            numerator: ["db.mean.sum|" + instance], denominator: ["db.mean.n|" + instance]))
        }
        kpis += [
            KPI(id: "api-5xx", name: "API 5xx rate", comparison: .shareAtMost, target: 0.05,
                numerator: ["api.requests.5xx"], denominator: ["api.requests"]),
            // 4xx answers are mostly the clients' doing (wrong passwords, forbidden calls): the
            // seed asks to track them, and MitraAPIClientErrorSpike alerts on a jump against
            // the day's share, not on a fixed level.
            KPI(id: "api-4xx", name: "API 4xx rate", comparison: .tracked, target: 0,
                numerator: ["api.requests.4xx"], denominator: ["api.requests"]),
        ]
        return kpis
    }

    struct FailingCollector: Sendable {
        var collector: String
        var error: String
        var since: String
    }

    /// The fragment for the page. Every text taken from configuration, labels or errors is escaped.
    static func html(short: KPIWindow, long: KPIWindow, kpis: [KPI], failing: [FailingCollector]) -> String {
        var html = """
        <style>
        table.kpi td.kpi-ok{background:#dafbe1;color:#1a7f37}table.kpi td.kpi-failing{background:#ffebe9;color:#cf222e;font-weight:bold}
        table.kpi td.kpi-no-data,table.kpi td.kpi-tracked{background:#f6f8fa;color:#6e7781}table.kpi small{color:#57606a;font-weight:normal}
        ul.failing-collectors li{color:#cf222e}
        </style>
        <h2>Failing collectors</h2>

        """
        if failing.isEmpty {
            html += "<p class=\"failing-collectors\">None.</p>\n"
        } else {
            html += "<ul class=\"failing-collectors\">\n"
            for entry in failing {
                html += "<li><strong>\(HTML.escape(entry.collector))</strong> (last success \(HTML.escape(entry.since))): \(HTML.escape(entry.error))</li>\n"
            }
            html += "</ul>\n"
        }
        html += "<h2>KPIs</h2>\n<p>Computed by this exporter from its own counters; \(HTML.escape(coverage(long.covered)))</p>\n"
        html += "<table class=\"kpi\"><tr><th>KPI</th><th>Target</th><th>Last 5 min</th><th>Last hour</th></tr>\n"
        for kpi in kpis {
            html += "<tr data-kpi=\"\(HTML.escape(kpi.id))\"><td>\(HTML.escape(kpi.name))</td><td>\(HTML.escape(kpi.targetText))</td>"
            for (label, window) in [("5m", short), ("1h", long)] {
                let figure = kpi.figure(window)
                let text = figure.state == .noData ? "no data" : figure.value
                let detail = figure.detail.isEmpty ? "" : " <small>(\(HTML.escape(figure.detail)))</small>"
                html += "<td class=\"kpi-\(figure.state.rawValue)\" data-window=\"\(label)\" data-state=\"\(figure.state.rawValue)\">\(HTML.escape(text))\(detail)</td>"
            }
            html += "</tr>\n"
        }
        html += "</table>\n<h2>Collectors</h2>\n"
        return html
    }

    /// The board for the running exporter at `now`.
    static func html(runtime: ExporterRuntime, now: Double) -> String {
        let short = runtime.kpiHistory.increases(window: 300, now: now)
        let long = runtime.kpiHistory.increases(window: 3600, now: now)
        let configuredRoles = runtime.configuration.scenarios.compactMap { $0.labels.first { $0.name == "role" }?.value }
        let seenRoles = long.increases.keys.filter { $0.hasPrefix("login.runs|") }.map { String($0.dropFirst("login.runs|".count)) }
        let instances = long.increases.keys.filter { $0.hasPrefix("db.mean.n|") }.map { String($0.dropFirst("db.mean.n|".count)) }
        let redactor = runtime.redactor
        let failing = runtime.store.collectorStatuses.filter { $0.lastSuccess == false }.map { status in
            FailingCollector(collector: status.collector, error: redactor.redact(status.lastError ?? ""),
                             since: status.lastSuccessAt.map { "\(Int(max(0, now - $0)))s ago" } ?? "never")
        }
        return html(short: short, long: long,
                    kpis: kpis(roles: Array(Set(configuredRoles + seenRoles)).sorted(), instances: Array(Set(instances)).sorted()),
                    failing: failing)
    }

    static func coverage(_ seconds: Double) -> String {
        if seconds <= 0 { return "no samples yet." }
        if seconds >= 3600 { return "history covers the last hour." }
        return "history so far covers \(Int(seconds / 60))m \(Int(seconds) % 60)s, so \"last hour\" means since then."
    }

    static func percent(_ share: Double) -> String {
        // Two decimals, and none when they are zeros: 99/100 shows as "99 %", not "99.00 %".
        let value = (share * 10_000).rounded() / 100
        return value == value.rounded() ? DurationParser.fixed(value, digits: 0) + " %" : DurationParser.fixed(value, digits: 2) + " %"
    }

    static func milliseconds(_ seconds: Double) -> String {
        DurationParser.fixed(seconds * 1000, digits: 0) + " ms"
    }

    static func count(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : DurationParser.fixed(value, digits: 1)
    }
}
