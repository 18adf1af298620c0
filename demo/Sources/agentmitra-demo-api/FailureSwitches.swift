import ServiceLifecycle
import Synchronization

/// Faults the demo backend can be told to show, so that every alert and dashboard panel of
/// the exporter can be seen firing. Set through the admin listener (`PUT /switches`).
struct FailureSwitches: Codable, Sendable, Equatable {
    /// Roles whose logins fail with a server error (recorded as outcome `error`) even with
    /// the right password.
    var loginDisabledRoles: [Role] = []
    /// Route templates (e.g. `/policies/`) that answer 500.
    var failingRoutes: [String] = []
    /// Extra seconds before a route answers, by route template.
    var latencySeconds: [String: Double] = [:]
    /// `refuse`: the API's port is closed (connection refused). `hang`: connections are
    /// accepted but nothing is answered (until switched back, or two minutes).
    var down: DownMode?
    /// Every endpoint answers 503 "down for maintenance" (audited like any answer), as a
    /// backend behind a maintenance page does: the process and its database are fine, the
    /// whole API refuses work.
    var maintenance = false

    enum DownMode: String, Codable, Sendable {
        case refuse
        case hang
    }

    enum CodingKeys: String, CodingKey {
        case loginDisabledRoles = "login_disabled_roles"
        case failingRoutes = "failing_routes"
        case latencySeconds = "latency_seconds"
        case down
        case maintenance
    }

    init() {}

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        loginDisabledRoles = try container.decodeIfPresent([Role].self, forKey: .loginDisabledRoles) ?? []
        failingRoutes = try container.decodeIfPresent([String].self, forKey: .failingRoutes) ?? []
        latencySeconds = try container.decodeIfPresent([String: Double].self, forKey: .latencySeconds) ?? [:]
        down = try container.decodeIfPresent(DownMode.self, forKey: .down)
        maintenance = try container.decodeIfPresent(Bool.self, forKey: .maintenance) ?? false
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(loginDisabledRoles, forKey: .loginDisabledRoles)
        try container.encode(failingRoutes, forKey: .failingRoutes)
        try container.encode(latencySeconds, forKey: .latencySeconds)
        try container.encode(down, forKey: .down)
        try container.encode(maintenance, forKey: .maintenance)
    }

    /// Problems that make the switches meaningless (an unknown route would silently do nothing).
    func problems(knownRoutes: Set<String>) -> [String] {
        var problems: [String] = []
        for route in failingRoutes + latencySeconds.keys.sorted() where !knownRoutes.contains(route) {
            problems.append("unknown route \"\(route)\" (known: \(knownRoutes.sorted().joined(separator: ", ")))")
        }
        for (route, seconds) in latencySeconds.sorted(by: { $0.key < $1.key }) where !(0...60).contains(seconds) {
            problems.append("latency for \(route) must be between 0 and 60 seconds")
        }
        return problems
    }
}

final class SwitchBoard: Sendable {
    private let state = Mutex(FailureSwitches())

    var current: FailureSwitches { state.withLock { $0 } }

    func replace(with switches: FailureSwitches) {
        state.withLock { $0 = switches }
    }

    /// While `hang` is on, waits (polling, so a switch back is noticed within 50 ms) up to
    /// `limit`. Returns whether the API is still hanging when the wait ends.
    func waitWhileHanging(limit: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while current.down == .hang, !Task.isShuttingDownGracefully {
            guard ContinuousClock.now < deadline else { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}
