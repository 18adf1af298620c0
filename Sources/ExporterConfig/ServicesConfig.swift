#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `services:` — the declared dependency model. A service groups the checks, scenarios,
/// PostgreSQL instances and SQL-defined queries that describe one thing an on-call engineer
/// is paged for, and names the services it cannot work without:
///
///     services:
///       - name: agentmitra-api
///         checks: [health, dashboard]
///         scenarios: [login-junior-agent]
///         queries: [agentmitra/api_requests]    # instance/query: audit rows of the API's traffic
///         depends_on: [agentmitra-db]
///       - name: agentmitra-db
///         postgres: [agentmitra]
///
/// Every series of a member carries `service="<name>"`, so that rules can count a service's
/// failing checks and Alertmanager can hold back symptoms with `equal: [service]`. Nothing is
/// inferred from names: an entry no service lists gets no `service` label, as before.
public struct ServiceConfig: Sendable, Hashable {
    public var name: String
    public var checks: [String] = []
    public var scenarios: [String] = []
    public var postgres: [String] = []
    /// `instance/query`: a query whose series describe this service rather than its instance.
    public var queries: [String] = []
    /// Services this one needs, as written in the file (direct dependencies only).
    public var dependsOn: [String] = []

    public init(name: String) {
        self.name = name
    }
}

/// The label a service's members carry on every series.
public let serviceLabelName = "service"

extension Configuration {
    /// Every (service, dependency) pair, direct or through other services, sorted: what a
    /// service is down with when a dependency is down. Cycles are rejected at load time.
    public var serviceDependencies: [(service: String, dependsOn: String)] {
        let direct = Dictionary(services.map { ($0.name, $0.dependsOn) }, uniquingKeysWith: { first, _ in first })
        var pairs: [(service: String, dependsOn: String)] = []
        for service in services.map(\.name).sorted() {
            var seen: Set<String> = []
            var stack = direct[service] ?? []
            while let next = stack.popLast() {
                guard next != service, seen.insert(next).inserted else { continue }
                stack += direct[next] ?? []
            }
            pairs += seen.sorted().map { (service, $0) }
        }
        return pairs
    }
}

enum ServicesDecoder {
    /// Reads `services:` and adds the `service` label to each member. Runs after checks,
    /// scenarios and postgres are decoded, so that every reference can be resolved.
    static func decode(_ value: ConfigValue, root: YAMLNode, into config: inout Configuration) {
        guard let items = value.list() else { return }
        var services: [ServiceConfig] = []
        var dependencyNodes: [String: [(name: String, value: ConfigValue)]] = [:]
        var owner: [String: String] = [:]   // "check/x" -> service
        for item in items {
            guard let object = item.object() else { continue }
            guard let name = object.required("name")?.exportedNonEmptyString() else {
                _ = ["checks", "scenarios", "postgres", "queries", "depends_on"].map { object.value($0) }
                object.finish()
                continue
            }
            if !isValidServiceName(name) {
                object.value("name")?.error("\"\(name)\" is not a valid service name (letters, digits, '.', '_', '-')")
            }
            var service = ServiceConfig(name: name)
            service.checks = members(object, "checks", kind: "check", known: Set(config.checks.map(\.name)), service: name, owner: &owner)
            service.scenarios = members(object, "scenarios", kind: "scenario", known: Set(config.scenarios.map(\.name)), service: name, owner: &owner)
            service.postgres = members(object, "postgres", kind: "postgres instance", known: Set(config.postgres.map(\.name)), service: name, owner: &owner)
            let queryNames = Set(config.postgres.flatMap { instance in instance.queries.map { "\(instance.name)/\($0.name)" } })
            service.queries = members(object, "queries", kind: "query", known: queryNames, service: name, owner: &owner,
                                      hint: " (write instance/query)")
            if let list = object.value("depends_on")?.list() {
                for entry in list {
                    guard let dependency = entry.exportedNonEmptyString() else { continue }
                    service.dependsOn.append(dependency)
                    dependencyNodes[name, default: []].append((dependency, entry))
                }
            }
            object.finish()
            services.append(service)
        }
        items.reportDuplicateNames(kind: "service")
        let known = Set(services.map(\.name))
        for service in services {
            for (dependency, node) in dependencyNodes[service.name] ?? [] {
                if dependency == service.name {
                    node.error("service \"\(service.name)\" cannot depend on itself")
                } else if !known.contains(dependency) {
                    node.error("unknown service \"\(dependency)\"\(suggestion(dependency, in: known))")
                }
            }
        }
        reportCycles(services, nodes: dependencyNodes)
        reportOwnServiceLabels(root, context: value.context, services: services)
        config.services = services
        label(&config)
    }

    /// Reads one member list, reporting names that do not exist and entries already in
    /// another service (one series cannot carry two `service` values).
    private static func members(_ object: ConfigObject, _ key: String, kind: String, known: Set<String>, service: String,
                                owner: inout [String: String], hint: String = "") -> [String] {
        guard let list = object.value(key)?.list() else { return [] }
        var names: [String] = []
        for entry in list {
            guard let name = entry.exportedNonEmptyString() else { continue }
            guard known.contains(name) else {
                // The hint is for a bare query name; a wrong `instance/query` gets the suggestion.
                entry.error("unknown \(kind) \"\(name)\"\(suggestion(name, in: known))\(name.contains("/") ? "" : hint)")
                continue
            }
            if let first = owner["\(kind)/\(name)"] {
                entry.error("\(kind) \"\(name)\" already belongs to service \"\(first)\"")
                continue
            }
            owner["\(kind)/\(name)"] = service
            names.append(name)
        }
        return names
    }

    private static func suggestion(_ name: String, in known: Set<String>) -> String {
        guard let closest = known.min(by: { (editDistance($0, name), $0) < (editDistance($1, name), $1) }),
              editDistance(closest, name) <= 2 else { return "" }
        return " (did you mean \"\(closest)\"?)"
    }

    /// A cycle is reported once, at the dependency that closes it (in file order), with the
    /// whole loop spelled out.
    private static func reportCycles(_ services: [ServiceConfig], nodes: [String: [(name: String, value: ConfigValue)]]) {
        let edges = Dictionary(services.map { ($0.name, $0.dependsOn) }, uniquingKeysWith: { first, _ in first })
        var reported: Set<Set<String>> = []
        for service in services {
            for (dependency, node) in nodes[service.name] ?? [] where dependency != service.name {
                guard let path = path(from: dependency, to: service.name, edges: edges) else { continue }
                let loop = [service.name] + path
                guard reported.insert(Set(loop)).inserted else { continue }
                node.error("dependency cycle: \(loop.joined(separator: " -> "))")
            }
        }
    }

    /// The shortest dependency path from `start` to `goal`, both included.
    private static func path(from start: String, to goal: String, edges: [String: [String]]) -> [String]? {
        var previous: [String: String] = [:]
        var queue = [start]
        var seen: Set<String> = [start]
        while !queue.isEmpty {
            let current = queue.removeFirst()
            if current == goal {
                var path = [goal]
                while let before = previous[path[0]] { path.insert(before, at: 0) }
                return path
            }
            for next in edges[current] ?? [] where seen.insert(next).inserted {
                previous[next] = current
                queue.append(next)
            }
        }
        return nil
    }

    /// Adds `service` to the labels of every member. An entry that sets `service` itself
    /// keeps it only when it is in no service; a member's own value would contradict the file.
    private static func label(_ config: inout Configuration) {
        for service in config.services {
            let label = ConfigLabel(name: serviceLabelName, value: service.name)
            for index in config.checks.indices where service.checks.contains(config.checks[index].name) {
                config.checks[index].labels.setService(label)
            }
            for index in config.scenarios.indices where service.scenarios.contains(config.scenarios[index].name) {
                config.scenarios[index].labels.setService(label)
            }
            for index in config.postgres.indices {
                let instance = config.postgres[index].name
                if service.postgres.contains(instance) { config.postgres[index].labels.setService(label) }
                for query in config.postgres[index].queries.indices
                where service.queries.contains("\(instance)/\(config.postgres[index].queries[query].name)") {
                    config.postgres[index].queries[query].service = service.name
                }
            }
        }
    }

    /// Members may not set `service` in their own `labels:`; reported at that label.
    private static func reportOwnServiceLabels(_ root: YAMLNode, context: DecodeContext, services: [ServiceConfig]) {
        let sections: [(key: String, members: Set<String>)] = [
            ("checks", Set(services.flatMap(\.checks))), ("scenarios", Set(services.flatMap(\.scenarios))),
            ("postgres", Set(services.flatMap(\.postgres))),
        ]
        for section in sections {
            guard case .mapping(let top) = root, case .sequence(let sequence)? = top[section.key] else { continue }
            for (index, node) in sequence.enumerated() {
                guard case .mapping(let entry) = node, let name = entry["name"]?.string, section.members.contains(name),
                      case .mapping(let labels)? = entry["labels"], let value = labels[serviceLabelName] else { continue }
                let path = "\(section.key)[\(index)].labels.\(serviceLabelName)"
                context.error(at: value.mark, path: path,
                                   "label \"\(serviceLabelName)\" is set by services: (\"\(name)\" is a member of a service)")
            }
        }
    }
}

extension [ConfigLabel] {
    fileprivate mutating func setService(_ label: ConfigLabel) {
        removeAll { $0.name == label.name }
        append(label)
    }
}

extension ServicesDecoder {
    /// Service names become label values and appear in Alertmanager matchers and runbooks;
    /// keep them to a plain alphabet that needs no quoting anywhere.
    static func isValidServiceName(_ name: String) -> Bool {
        name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }
}

extension Configuration {
    /// `--config.check` lines for the services, after the entries they group.
    var servicesSummary: [String] {
        guard !services.isEmpty else { return [] }
        var lines = ["\(services.count) service(s)"]
        for service in services {
            let members = [("checks", service.checks), ("scenarios", service.scenarios), ("postgres", service.postgres),
                           ("queries", service.queries)]
                .filter { !$0.1.isEmpty }.map { "\($0.0) \($0.1.joined(separator: ","))" }
            let needs = service.dependsOn.isEmpty ? "" : "; depends on \(service.dependsOn.joined(separator: ", "))"
            lines.append("  service \(service.name): \(members.joined(separator: "; "))\(needs)")
        }
        return lines
    }
}
