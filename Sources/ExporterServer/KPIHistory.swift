import Exposition
import Sampling
import Synchronization

/// The counters the status page's KPI board needs, kept by the exporter itself so the board
/// works without Prometheus. Every published snapshot's relevant series are folded into
/// monotonic running totals (one per KPI key, e.g. `login.runs|role-junior-agent`); a point
/// of those totals is kept every `resolution` seconds for `retention` seconds, and a
/// window's increase is the current totals minus the point at the window's start.
///
/// Bounded: at most `retention / resolution + 2` points of at most `maxKeys` doubles each
/// (362 × 256 × 8 bytes ≈ 740 KB at most; ~100 KB for the Agent Mitra config's 33 keys),
/// whatever the number of series or publishes.
public final class KPIHistory: Sendable {
    public static let maxKeys = 256

    struct Point {
        var time: Double
        /// Indexed like `State.keys`; keys added after this point was taken are missing (0).
        var values: [Double]
    }

    struct State {
        var keys: [String] = []
        var index: [String: Int] = [:]
        var totals: [Double] = []
        var points: [Point] = []
        /// Per sampler, the last value of each counter series seen, to turn values into increases.
        var previous: [String: [String: Double]] = [:]
    }

    let resolution: Double
    let retention: Double
    private let state = Mutex(State())

    public init(resolution: Double = 10, retention: Double = 3600) {
        self.resolution = resolution
        self.retention = retention
    }

    /// Folds one snapshot in. Counter series are turned into increases the way Prometheus'
    /// `increase()` does: a drop is a reset (the new value is the increase since it). A
    /// series in a sampler's first snapshot is a baseline only — a SQL counter's first value
    /// can hold the table's whole history — while one that appears later counts from 0.
    public func record(_ snapshot: SamplerSnapshot) {
        record(samplerID: snapshot.samplerID, families: snapshot.result.families, at: snapshot.finishedAt)
    }

    func record(samplerID: String, families: [MetricFamily], at time: Double) {
        let observations = KPIExtraction.observations(families)
        state.withLock { state in
            let previous = state.previous[samplerID]
            var seen: [String: Double] = [:]
            for observation in observations {
                let increase: Double
                switch observation.kind {
                case .gaugeSample:
                    increase = observation.value
                case .counter(let seriesID):
                    seen[seriesID] = observation.value
                    if let previous {
                        let before = previous[seriesID] ?? 0
                        increase = observation.value >= before ? observation.value - before : observation.value
                    } else {
                        increase = 0
                    }
                }
                // The key is registered even at 0, so the board knows the series exists.
                guard let slot = Self.slot(for: observation.key, in: &state) else { continue }
                state.totals[slot] += increase
            }
            state.previous[samplerID] = seen
            if let last = state.points.last, time - last.time < resolution, time >= last.time { return }
            state.points.append(Point(time: time, values: state.totals))
            let keep = Int(retention / resolution) + 2
            if state.points.count > keep { state.points.removeFirst(state.points.count - keep) }
        }
    }

    private static func slot(for key: String, in state: inout State) -> Int? {
        if let slot = state.index[key] { return slot }
        guard state.keys.count < maxKeys else { return nil }
        state.keys.append(key)
        state.totals.append(0)
        state.index[key] = state.keys.count - 1
        return state.keys.count - 1
    }

    var pointCount: Int { state.withLock { $0.points.count } }
    var keyCount: Int { state.withLock { $0.keys.count } }

    /// Forgets the last values of samplers that no longer run (after a reload).
    public func retainSamplers(_ ids: Set<String>) {
        state.withLock { state in state.previous = state.previous.filter { ids.contains($0.key) } }
    }

    /// Each key's increase over the `window` seconds before `now`, and the seconds the
    /// history actually covers (less than `window` while the exporter is young; 0 = nothing).
    public func increases(window: Double, now: Double) -> KPIWindow {
        state.withLock { state in
            guard let oldest = state.points.first else { return KPIWindow(increases: [:], covered: 0) }
            // A history younger than the window counts from its start, when every total was 0
            // (first snapshots add nothing to counters, but their gauge readings count).
            let base = state.points.last { $0.time <= now - window } ?? Point(time: oldest.time, values: [])
            var increases: [String: Double] = [:]
            for (slot, key) in state.keys.enumerated() {
                let before = slot < base.values.count ? base.values[slot] : 0
                increases[key] = state.totals[slot] - before
            }
            return KPIWindow(increases: increases, covered: max(0, now - base.time))
        }
    }
}

/// Increases of the KPI keys over one window.
public struct KPIWindow: Sendable, Equatable {
    public var increases: [String: Double]
    public var covered: Double

    public init(increases: [String: Double], covered: Double) {
        self.increases = increases
        self.covered = covered
    }

    public subscript(_ key: String) -> Double { increases[key] ?? 0 }
}

/// Which series feed which KPI key. Mirrors the SLI expressions of alerts/rules/slo.rules.yml,
/// so the board and the alerts agree on what counts.
enum KPIExtraction {
    enum Kind: Equatable {
        /// A cumulative counter; the id tells one series from another within a sampler.
        case counter(seriesID: String)
        /// One reading of a gauge: summed with a companion `…n` count it gives a mean.
        case gaugeSample
    }

    struct Observation: Equatable {
        var key: String
        var value: Double
        var kind: Kind
    }

    /// Latency thresholds by `kpi` label value, and the ones for logins and the API.
    static let checkLatencyThresholds: [String: Double] = ["dashboard": 2, "policy_search": 1, "analytics": 3]
    static let loginLatencyThreshold = 0.5
    static let apiLatencyThreshold = 2.0

    static func observations(_ families: [MetricFamily]) -> [Observation] {
        var out: [Observation] = []
        func counter(_ key: String, _ labels: [Label], _ value: Double, _ suffix: String = "") {
            let id = key + suffix + "{" + labels.map { $0.name + "=" + $0.value }.joined(separator: ",") + "}"
            out.append(Observation(key: key, value: value, kind: .counter(seriesID: id)))
        }
        func histogram(_ prefix: String, _ labels: [Label], _ value: HistogramValue, threshold: Double) {
            // A layout without the threshold as a bucket bound cannot tell; it adds nothing.
            if let bucket = value.buckets.first(where: { $0.upperBound == threshold }) {
                counter(prefix + ".under", labels, Double(bucket.count))
                counter(prefix + ".measured", labels, Double(value.count))
            }
        }
        for family in families {
            switch family.name {
            case "mitra_probe_runs_total", "mitra_scenario_runs_total", "agentmitra_api_requests_total", "agentmitra_login_attempts_total":
                for series in family.series {
                    guard case .number(let value) = series.value else { continue }
                    let label = { (name: String) in series.labels.first { $0.name == name }?.value ?? "" }
                    switch family.name {
                    case "mitra_probe_runs_total" where !label("check").isEmpty:
                        counter("api.checks", series.labels, value)
                        if label("result") == "failure" { counter("api.checks.failed", series.labels, value) }
                    case "agentmitra_api_requests_total":
                        counter("api.requests", series.labels, value)
                        if label("code").hasPrefix("5") { counter("api.requests.5xx", series.labels, value) }
                        if label("code").hasPrefix("4") { counter("api.requests.4xx", series.labels, value) }
                    case "mitra_scenario_runs_total" where !label("role").isEmpty:
                        counter("login.runs|" + label("role"), series.labels, value)
                        if label("result") == "failure" { counter("login.failed|" + label("role"), series.labels, value) }
                    case "agentmitra_login_attempts_total" where !label("role").isEmpty:
                        counter("login.runs|" + label("role"), series.labels, value)
                        if label("outcome") != "success" { counter("login.failed|" + label("role"), series.labels, value) }
                    default: break
                    }
                }
            case "mitra_probe_duration_seconds", "agentmitra_login_duration_seconds", "agentmitra_api_request_duration_seconds":
                for series in family.series {
                    guard case .histogram(let value) = series.value else { continue }
                    let label = { (name: String) in series.labels.first { $0.name == name }?.value ?? "" }
                    switch family.name {
                    case "agentmitra_login_duration_seconds":
                        histogram("latency.login", series.labels, value, threshold: loginLatencyThreshold)
                    case "agentmitra_api_request_duration_seconds":
                        histogram("latency.api", series.labels, value, threshold: apiLatencyThreshold)
                    default:
                        if !label("role").isEmpty, label("step") == "login" {
                            histogram("latency.login", series.labels, value, threshold: loginLatencyThreshold)
                        }
                        if !label("check").isEmpty {
                            histogram("latency.api", series.labels, value, threshold: apiLatencyThreshold)
                        }
                        if let threshold = checkLatencyThresholds[label("kpi")] {
                            histogram("latency." + label("kpi"), series.labels, value, threshold: threshold)
                        }
                    }
                }
            case "pg_stat_statements_mean_exec_seconds":
                for series in family.series {
                    guard case .number(let value) = series.value, value.isFinite else { continue }
                    let instance = series.labels.first { $0.name == "instance_name" }?.value ?? ""
                    out.append(Observation(key: "db.mean.sum|" + instance, value: value, kind: .gaugeSample))
                    out.append(Observation(key: "db.mean.n|" + instance, value: 1, kind: .gaugeSample))
                }
            default:
                break
            }
        }
        return out
    }
}
