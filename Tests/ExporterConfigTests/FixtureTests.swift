import ExporterConfig
import Foundation
import Testing

let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

func fixtureNames(prefix: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: fixturesDirectory.path)) ?? [])
        .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".yml") }
        .sorted()
}

/// Fixtures are parsed under their bare file name, so messages are stable wherever the
/// repository lives; secrets come from a fixed environment, never the test runner's.
func loadFixture(_ name: String, environment: [String: String] = [:]) throws(ConfigErrors) -> Configuration {
    let text = try! String(contentsOf: fixturesDirectory.appendingPathComponent(name), encoding: .utf8)
        .replacingOccurrences(of: "FIXTURE_DIR", with: fixturesDirectory.path)
    return try ConfigLoader.parse(text, file: name, resolver: SecretResolver(environment: environment))
}

@Suite struct ConfigFixtureTests {
    @Test func fixturesExist() {
        #expect(fixtureNames(prefix: "invalid-").count >= 10)
        #expect(fixtureNames(prefix: "valid-").count >= 2)
    }

    @Test(arguments: fixtureNames(prefix: "invalid-"))
    func invalidFixtureReportsExactErrors(_ name: String) throws {
        let expectedFile = fixturesDirectory.appendingPathComponent(name.replacingOccurrences(of: ".yml", with: ".txt"))
        let expected = try String(contentsOf: expectedFile, encoding: .utf8).trimmingCharacters(in: .newlines)
        do {
            _ = try loadFixture(name)
            Issue.record("\(name) was accepted")
        } catch {
            #expect(error.description == expected)
        }
    }

    @Test(arguments: fixtureNames(prefix: "valid-"))
    func validFixtureLoads(_ name: String) throws {
        let config = try loadFixture(name, environment: ["AGENTMITRA_TOKEN": "tok-123456", "PG_PASSWORD": "p@ss:w/rd?"])
        #expect(!config.summary.isEmpty)
    }

    @Test func fullFixtureDecodesEveryField() throws {
        let config = try loadFixture("valid-full.yml", environment: ["AGENTMITRA_TOKEN": "tok-123456", "PG_PASSWORD": "p@ss:w/rd?"])
        #expect(config.defaults.interval == .seconds(30))
        #expect(config.defaults.timeout == .seconds(10))
        #expect(config.checks.map(\.name) == ["policies", "health"])
        let policies = config.checks[0]
        #expect(policies.request.method == "GET")
        #expect(policies.request.headers == [ConfigLabel(name: "Authorization", value: "Bearer tok-123456")])
        #expect(policies.labels == [ConfigLabel(name: "endpoint", value: "/policies/"), ConfigLabel(name: "role", value: "junior_agent")])
        #expect(policies.expect.statusCodes == [.code(200), .classOf(3)])
        #expect(policies.interval == .seconds(30) && policies.timeout == .seconds(10))
        #expect(config.checks[1].interval == .seconds(60) && config.checks[1].timeout == .milliseconds(2500))
        let scenario = config.scenarios[0]
        #expect(scenario.steps.map(\.name) == ["login", "me"])
        #expect(scenario.steps[0].request.body == #"{"phone_number": "+919876540101", "password": "pa$$w0rd with spaces"}"#)
        // Scenario variables stay for run time.
        #expect(scenario.steps[1].request.headers[0].value == "Bearer ${token}")
        #expect(config.postgres[0].dsn == "postgresql://exporter:p@ss:w/rd?@127.0.0.1:5432/agentmitra")
        #expect(config.postgres[0].collectors == [.database, .activity, .statements])
    }

    @Test func summaryNeverShowsSecrets() throws {
        let config = try loadFixture("valid-full.yml", environment: ["AGENTMITRA_TOKEN": "tok-123456", "PG_PASSWORD": "p@ss:w/rd?"])
        #expect(!config.summary.contains("tok-123456"))
        #expect(!config.summary.contains("p@ss:w/rd?"))
        #expect(!config.summary.contains("pa$$w0rd"))
        #expect(config.summary.contains("postgres agentmitra: postgresql://exporter:<secret>@127.0.0.1:5432/agentmitra"))
    }

    @Test func errorsNeverShowSecrets() {
        let yaml = """
        checks:
          - name: a
            url: "${env:SECRET_URL}"
        """
        do {
            _ = try ConfigLoader.parse(yaml, file: "x.yml", resolver: SecretResolver(environment: ["SECRET_URL": "hunter2-not-a-url"]))
            Issue.record("accepted an invalid URL")
        } catch {
            #expect(error.description == #"x.yml:3:10: checks[0].url: "<secret>" is not a valid http/https URL"#)
        }
    }

    @Test func missingFileIsReported() {
        #expect(throws: ConfigErrors.self) { try ConfigLoader.load(path: "/nonexistent/mitra.yml") }
        do {
            _ = try ConfigLoader.load(path: "/nonexistent/mitra.yml")
        } catch {
            #expect(error.description == "/nonexistent/mitra.yml:1:1: file does not exist")
        }
    }

    @Test func emptyFileIsAValidConfigWithNothingToRun() throws {
        let config = try ConfigLoader.parse("", file: "empty.yml")
        #expect(config.checks.isEmpty && config.postgres.isEmpty && config.scenarios.isEmpty)
    }
}

/// Web config files (exporter-toolkit format) are read by their own loader; their invalid
/// fixtures are paired with messages the same way.
@Suite struct WebConfigFixtureTests {
    @Test(arguments: fixtureNames(prefix: "web-invalid-"))
    func invalidWebFixtureReportsExactErrors(_ name: String) throws {
        let expectedFile = fixturesDirectory.appendingPathComponent(name.replacingOccurrences(of: ".yml", with: ".txt"))
        let expected = try String(contentsOf: expectedFile, encoding: .utf8).trimmingCharacters(in: .newlines)
        let text = try String(contentsOf: fixturesDirectory.appendingPathComponent(name), encoding: .utf8)
            .replacingOccurrences(of: "FIXTURE_DIR", with: fixturesDirectory.path)
        do {
            _ = try WebConfig.parse(text, file: name)
            Issue.record("\(name) was accepted")
        } catch {
            #expect(error.description == expected)
        }
    }
}
