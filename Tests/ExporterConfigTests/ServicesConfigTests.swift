import ExporterConfig
import Testing

@Suite struct ServicesConfigTests {
    @Test func membersCarryTheServiceLabel() throws {
        let config = try loadFixture("valid-services.yml")
        #expect(config.services.map(\.name) == ["agentmitra-api", "agentmitra-db", "storage"])
        #expect(config.checks[0].labels == [ConfigLabel(name: "endpoint", value: "/health"), ConfigLabel(name: "service", value: "agentmitra-api")])
        // Not a member: its own label stays, nothing is added or inferred.
        #expect(config.checks[1].labels == [ConfigLabel(name: "service", value: "edge")])
        #expect(config.scenarios[0].labels.last == ConfigLabel(name: "service", value: "agentmitra-api"))
        #expect(config.postgres[0].labels == [ConfigLabel(name: "env", value: "test"), ConfigLabel(name: "service", value: "agentmitra-db")])
        // The audit query describes the API; the other query keeps the instance's service.
        #expect(config.postgres[0].queries.map(\.service) == ["agentmitra-api", nil])
    }

    @Test func dependenciesAreTransitive() throws {
        let config = try loadFixture("valid-services.yml")
        #expect(config.serviceDependencies.map { "\($0.service)->\($0.dependsOn)" }
                == ["agentmitra-api->agentmitra-db", "agentmitra-api->storage", "agentmitra-db->storage"])
        #expect(config.summary.contains("  service agentmitra-api: checks health; scenarios login-agent; queries agentmitra/api_requests; depends on agentmitra-db"))
    }

    @Test func configWithoutServicesIsUnchanged() throws {
        let config = try loadFixture("valid-minimal.yml")
        #expect(config.services.isEmpty && config.serviceDependencies.isEmpty)
        #expect(config.checks.allSatisfy { !$0.labels.contains { $0.name == "service" } })
        #expect(!config.summary.contains("service"))
    }
}
