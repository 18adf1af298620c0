import ExporterConfig
import Testing

@Suite("checks: and scenarios: configuration")
struct ChecksConfigTests {
    @Test func fullCheckIsRead() throws {
        let config = try parseConfig("""
        checks:
          - name: policies
            url: https://api.example/policies/
            method: post
            headers: {Authorization: "Bearer ${env:TOKEN}", X-Trace: "1"}
            json: {query: "active", limit: 10, deep: {flag: false}}
            interval: 30s
            timeout: 4s
            labels: {endpoint: /policies/}
            expect:
              status: [200, 2xx]
              body_matches: policy_id
              body_not_matches: ["error", "exception"]
              json: {"$[0].status": active, "$.count": {matches: "^[0-9]+$"}, "$.gone": {exists: false}}
              headers: {Content-Type: "^application/json"}
              max_duration: 1s
            tls: {insecure_skip_verify: true, server_name: api.internal}
            follow_redirects: false
            max_redirects: 3
            ip_version: ipv4
            proxy: http://proxy.local:3128
            max_body_size: 512KiB
        """, environment: ["TOKEN": "s3cr3t-token"])
        let check = try #require(config.checks.first)
        #expect(check.request.method == "POST")
        #expect(check.request.body == #"{"query":"active","limit":10,"deep":{"flag":false}}"#)
        #expect(check.request.bodyIsJSON)
        #expect(check.request.headers.map(\.name) == ["Authorization", "X-Trace", "Content-Type"])
        #expect(check.expect.acceptedStatuses == [.code(200), .classOf(2)])
        #expect(check.expect.bodyMatches.map(\.source) == ["policy_id"])
        #expect(check.expect.bodyNotMatches.map(\.source) == ["error", "exception"])
        #expect(check.expect.json.count == 3)
        #expect(check.expect.json[0].path.components == [.index(0), .key("status")])
        #expect(check.expect.json[1].expectation == .matches(try ConfigRegex("^[0-9]+$")))
        #expect(check.expect.json[2].expectation == .exists(false))
        #expect(check.expect.headers.map { [$0.name, $0.pattern.source] } == [["Content-Type", "^application/json"]])
        #expect(check.expect.maxDuration == .seconds(1))
        #expect(check.client.tls.insecureSkipVerify && check.client.tls.serverName == "api.internal")
        #expect(!check.client.followRedirects && check.client.maxRedirects == 3)
        #expect(check.client.ipVersion == .ipv4)
        #expect(check.client.proxy == "http://proxy.local:3128")
        #expect(check.client.maxBodyBytes == 512 * 1024)
        #expect(config.redactor.redact(check.request.headers[0].value) == "Bearer <secret>")
        #expect(!config.summary.contains("s3cr3t-token"))
    }

    @Test func scenarioWithVariablesAndExtractionIsRead() throws {
        let config = try parseConfig(loginScenario(base: "http://127.0.0.1:8000"), environment: ["AGENTMITRA_PASSWORD": "pw"])
        let scenario = try #require(config.scenarios.first)
        #expect(scenario.steps.map(\.name) == ["login", "me", "preferences", "check-permission", "policies"])
        #expect(scenario.variables == [ConfigLabel(name: "base", value: "http://127.0.0.1:8000")])
        #expect(scenario.steps[0].extract.map(\.variable) == ["token", "session", "refresh_suffix"])
        #expect(scenario.steps[0].extract[1].source == .header("X-Session"))
        #expect(scenario.steps[1].request.url == "${base}/users/me")
        #expect(scenario.steps[3].request.body == #"{"permission":"policies.read"}"#)
        #expect(scenario.labels == [ConfigLabel(name: "role", value: "role-junior-agent")])
    }

    @Test(arguments: [
        ("checks:\n  - {name: a, url: \"http://x/\", expect: {status: [299x]}}",
         #"test.yml:2:51: checks[0].expect.status[0]: "299x" is not a status code (100-599) or class (1xx-5xx)"#),
        ("checks:\n  - {name: a, url: \"http://x/\", expect: {body_matches: [\"(unclosed\"]}}",
         #"test.yml:2:57: checks[0].expect.body_matches[0]: "(unclosed" is not a valid regular expression"#),
        ("checks:\n  - {name: a, url: \"http://x/\", expect: {json: {\"role\": x}}}",
         #"test.yml:2:57: checks[0].expect.json.role: "role" is not a JSON path (use e.g. $.role, $[0].status, $.items[2].id)"#),
        ("checks:\n  - {name: a, url: \"http://x/\", expect: {json: {\"$.a\": {equals: 1, exists: true}}}}",
         "test.yml:2:56: checks[0].expect.json.$.a: needs exactly one of equals, matches, exists"),
        ("checks:\n  - {name: a, url: \"http://x/\", expect: {staus: [200]}}",
         #"test.yml:2:42: checks[0].expect.staus: unknown key (did you mean "status"?)"#),
        ("checks:\n  - {name: a, url: \"http://x/\", body: b, json: {c: 1}}",
         "test.yml:2:5: checks[0]: set either body or json, not both"),
        ("checks:\n  - {name: a, url: \"http://x/${token}\"}",
         "test.yml:2:5: checks[0]: checks have no variables, but ${token} is used (use a scenario, or $${ for a literal)"),
        ("checks:\n  - {name: a, url: \"http://x/\", method: FETCH}",
         #"test.yml:2:41: checks[0].method: "FETCH" is not a method (DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT)"#),
        ("checks:\n  - {name: a, url: \"http://x/\", max_body_size: 1TB}",
         #"test.yml:2:48: checks[0].max_body_size: "1TB" is not a size (use e.g. 65536, 512KiB, 1MiB)"#),
        ("checks:\n  - {name: a, url: \"http://x/\", ip_version: ip7}",
         #"test.yml:2:45: checks[0].ip_version: "ip7" is not an IP version (any, ipv4, ipv6)"#),
        ("checks:\n  - {name: a, url: \"http://x/\", timeout: 2s, expect: {max_duration: 3s}}",
         "test.yml:2:69: checks[0].expect.max_duration: max_duration 3s is longer than the timeout 2s"),
        ("checks:\n  - {name: a, url: \"http://x/\", tls: {cert_file: /etc/hostname}}",
         "test.yml:2:38: checks[0].tls: cert_file and key_file must be set together"),
        ("checks:\n  - {name: a, url: \"http://x/\", tls: {ca_file: /no/such/ca.pem}}",
         "test.yml:2:48: checks[0].tls.ca_file: file /no/such/ca.pem does not exist or cannot be read"),
        ("checks:\n  - {name: a, url: \"http://x/\", labels: {check: x}}",
         #"test.yml:2:49: checks[0].labels.check: label "check" is set by the exporter and cannot be overridden"#),
        ("scenarios:\n  - name: s\n    steps:\n      - {name: one, url: \"http://x/${token}\"}\n      - {name: two, url: \"http://x/\", extract: {token: \"$.t\"}}",
         "test.yml:4:9: scenarios[0].steps[0]: ${token} is not defined before this step (set it in variables, or extract it in an earlier step)"),
        ("scenarios:\n  - name: s\n    steps:\n      - {name: one, url: \"http://x/\"}\n      - {name: one, url: \"http://y/\"}",
         #"test.yml:5:16: scenarios[0].steps[1].name: duplicate step name "one""#),
        ("scenarios:\n  - name: s\n    steps:\n      - {name: one, url: \"http://x/\", extract: {9lives: \"$.a\"}}",
         #"test.yml:4:57: scenarios[0].steps[0].extract.9lives: "9lives" is not a valid variable name (letters, digits, _; not starting with a digit)"#),
        ("scenarios:\n  - name: s\n    steps:\n      - {name: one, url: \"http://x/\", extract: {a: {header: X, regex: y}}}",
         "test.yml:4:52: scenarios[0].steps[0].extract.a: needs exactly one of json, header, regex"),
        ("scenarios:\n  - name: s\n    steps:\n      - {name: one, url: \"http://x/\", tls: {insecure_skip_verify: true}}",
         "test.yml:4:44: scenarios[0].steps[0].tls: set tls on the scenario; it applies to every step"),
        ("scenarios:\n  - name: s\n    steps: []",
         "test.yml:3:12: scenarios[0].steps: a scenario needs at least one step"),
    ] as [(String, String)])
    func invalidConfigsAreRejectedWithLocatedMessages(yaml: String, message: String) {
        #expect(configErrors(yaml) == [message])
    }

    @Test func passwordInAnInvalidConfigIsRedacted() {
        let errors = configErrors("checks:\n  - {name: a, url: \"http://x/\", expect: {body_matches: [\"${env:PW}(\"]}}", environment: ["PW": "hunter2"])
        #expect(errors.count == 1)
        #expect(!errors[0].contains("hunter2"))
    }
}
