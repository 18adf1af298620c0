import ExporterConfig
import Foundation
import PostgresClient
import Testing
@testable import agentmitra_demo_api

/// examples/agentmitra.yml is the config `make demo` runs against this demo world: it must
/// stay valid, cover every endpoint and role of the demo, and its SQL must run on the demo
/// schema.
@Suite struct DefaultConfigTests {
    static let fakeSecrets = [
        "AGENTMITRA_PASSWORD": "pw-7d1e0c", "AGENTMITRA_SERVICE_TOKEN": "tok-91aa3f", "AGENTMITRA_PG_PASSWORD": "pg-5be2d4",
    ]

    static func load() throws -> Configuration {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../examples/agentmitra.yml").standardizedFileURL.path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try ConfigLoader.parse(text, file: "examples/agentmitra.yml",
                                      resolver: SecretResolver(environment: fakeSecrets))
    }

    @Test func isValidAndShowsNoSecret() throws {
        let config = try Self.load()
        for secret in Self.fakeSecrets.values {
            #expect(!config.summary.contains(secret))
        }
    }

    @Test func checksCoverEveryEndpointOfTheDemo() throws {
        let config = try Self.load()
        let paths = Set(config.checks.compactMap { URLComponents(string: $0.request.url)?.path })
        #expect(paths == DemoServer.routes)
        for check in config.checks {
            #expect(check.labels.contains { $0.name == "endpoint" }, "check \(check.name) has no endpoint label")
        }
        let kpis = Set(config.checks.flatMap(\.labels).filter { $0.name == "kpi" }.map(\.value))
        #expect(kpis == ["dashboard", "policy_search", "analytics"])
    }

    @Test func oneLoginScenarioPerRoleAgreesWithTheDemo() throws {
        let config = try Self.load()
        let roles = config.scenarios.compactMap { $0.labels.first { $0.name == "role" }?.value }
        #expect(Set(roles) == Set(Role.allCases.map(\.rawValue)))
        #expect(roles.count == Role.allCases.count)
        for scenario in config.scenarios {
            let role = try #require(scenario.labels.first { $0.name == "role" }.flatMap { Role(rawValue: $0.value) })
            #expect(scenario.steps.first?.name == "login", "\(scenario.name): the alerts expect a step named login")
            let login = try #require(scenario.steps.first?.request.body)
            #expect(login.contains(DemoUsers.phones[role]!), "\(scenario.name) logs in as another user")
            // The RBAC step expects the answer the demo's access matrix gives.
            let rbac = try #require(scenario.steps.first { $0.name == "rbac" })
            let body = try #require(rbac.request.body.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
            let permission = try #require((body["permission"] as? String).flatMap(Permission.init(rawValue:)))
            let expected = rbac.expect.json.compactMap { assertion -> String? in
                if case .equals(let text) = assertion.expectation { return text }
                return nil
            }
            #expect(expected == [AccessControl.allows(role, permission) ? "true" : "false"], "\(scenario.name)")
        }
    }

    @Test func queriesDefineTheAgentMitraFamilies() throws {
        let config = try Self.load()
        let instance = try #require(config.postgres.first { $0.name == "agentmitra" })
        let metrics = Set(instance.queries.flatMap(\.metrics).map(\.name))
        #expect(metrics.isSuperset(of: ["agentmitra_login_attempts_total", "agentmitra_login_duration_seconds",
                                        "agentmitra_api_requests_total", "agentmitra_api_request_duration_seconds"]))
        #expect(metrics.isSuperset(of: ["agentmitra_policies", "agentmitra_users", "agentmitra_leads"]))
    }

    @Test(.enabled(if: DemoDatabase.available, "MITRA_TEST_PG_* not set"))
    func everyQueryRunsOnTheDemoSchemaAndYieldsItsColumns() async throws {
        let database = try DemoDatabase.ready()
        let config = try Self.load()
        let instance = try #require(config.postgres.first { $0.name == "agentmitra" })
        let connection = try await PostgresConnection.connect(database.settings(readOnly: true))
        for query in instance.queries {
            let parameters: [String?] = query.mode == .gauge ? [] : ["0", "9223372036854775807"]
            do {
                let result = try await connection.query(query.sql, parameters, deadline: .now + .seconds(5))
                for column in query.metrics.flatMap(\.columns) {
                    #expect(result.columnIndex(column) != nil, "query \(query.name) lacks column \(column)")
                }
                if query.mode == .gauge { #expect(!result.rows.isEmpty, "query \(query.name) returned no rows") }
            } catch {
                Issue.record("query \(query.name): \(error)")
            }
        }
        await connection.close()
    }
}
