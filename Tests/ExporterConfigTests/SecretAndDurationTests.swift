import ExporterConfig
import Testing

@Suite struct DurationParserTests {
    @Test(arguments: [
        ("15s", Duration.seconds(15)), ("250ms", .milliseconds(250)), ("1m30s", .seconds(90)),
        ("2h", .seconds(7200)), ("1d", .seconds(86400)), ("1w", .seconds(604_800)), ("0s", .zero),
        ("1h1m1s1ms", .milliseconds(3_661_001)),
    ])
    func parses(_ text: String, _ expected: Duration) {
        #expect(DurationParser.parse(text) == expected)
    }

    @Test(arguments: ["", "15", "15x", "s", "-5s", "1.5s", "1s1m", "5s5s", " 5s", "99999999999999999999y"])
    func rejects(_ text: String) {
        #expect(DurationParser.parse(text) == nil)
    }

    @Test func formatsShortest() {
        #expect(DurationParser.format(.seconds(90)) == "1m30s")
        #expect(DurationParser.format(.milliseconds(2500)) == "2s500ms")
        #expect(DurationParser.format(.zero) == "0s")
    }
}

@Suite struct SecretResolverTests {
    let resolver = SecretResolver(environment: ["TOKEN": "abc", "EMPTY": ""], readFile: { path in
        guard path == "/run/secret" else { throw SecretResolver.Failure(message: "cannot read secret file \(path)") }
        return "from-file"
    })

    @Test func expandsEnvAndFileAndRecordsSecrets() throws {
        let (value, secrets) = try resolver.expand("a ${env:TOKEN} b ${file:/run/secret} c")
        #expect(value == "a abc b from-file c")
        #expect(secrets == ["abc", "from-file"])
    }

    @Test func leavesScenarioVariablesAndEscapes() throws {
        #expect(try resolver.expand("Bearer ${token}").value == "Bearer ${token}")
        #expect(try resolver.expand("literal $${env:TOKEN}").value == "literal ${env:TOKEN}")
        #expect(try resolver.expand("no refs").secrets.isEmpty)
    }

    @Test func reportsProblems() {
        #expect(throws: SecretResolver.Failure.self) { try resolver.expand("${env:MISSING}") }
        #expect(throws: SecretResolver.Failure.self) { try resolver.expand("${file:/other}") }
        #expect(throws: SecretResolver.Failure.self) { try resolver.expand("${env:TOKEN") }
        #expect(throws: SecretResolver.Failure.self) { try resolver.expand("${aws:x}") }
    }
}

@Suite struct RedactorTests {
    @Test func redactsKnownSecretsLongestFirst() {
        let redactor = Redactor(secrets: ["abcd", "abcdef"])
        #expect(redactor.redact("x abcdef y abcd") == "x <secret> y <secret>")
    }

    /// A placeholder is never matched again, and values too short to tell from ordinary
    /// text are left alone rather than blanking out every word.
    @Test func placeholdersAreNotRedactedTwice() {
        #expect(Redactor(secrets: ["secr", "t"]).redact("GET http://host/health secr") == "GET http://host/health <secret>")
        #expect(Redactor(secrets: ["<sec"]).redact("a <sec b") == "a <secret> b")
    }

    @Test(arguments: [
        ("postgresql://user:p%40ss@db:5432/x", "postgresql://user:<secret>@db:5432/x"),
        ("connection to server failed: host=db password=hunter2 dbname=x", "connection to server failed: host=db password=<secret> dbname=x"),
        ("password='a b c' user=x", "password=<secret> user=x"),
        ("PASSWORD: s3cret", "PASSWORD: <secret>"),
        ("no secrets here", "no secrets here"),
        ("http://example.test/path@x", "http://example.test/path@x"),
        ("postgresql://u:pa/ss@wo:rd@db/x and more", "postgresql://u:<secret>@db/x and more"),
    ])
    func redactsConnectionPasswords(_ input: String, _ expected: String) {
        #expect(Redactor.redactConnectionPasswords(input) == expected)
    }
}

@Suite struct WebConfigTests {
    @Test func parsesBasicAuthAndHeaders() throws {
        let config = try WebConfig.parse("""
        basic_auth_users:
          prometheus: $2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi
        http_server_config:
          headers: {X-Frame-Options: deny}
        """, file: "web.yml")
        #expect(config.basicAuthUsers.keys.sorted() == ["prometheus"])
        #expect(config.headers == [ConfigLabel(name: "X-Frame-Options", value: "deny")])
        #expect(config.tls == nil)
        #expect(!config.exemptHealthEndpointsFromAuth, "the health endpoints stay behind basic auth unless the key says otherwise")
    }

    @Test func healthEndpointExemptionIsAnExplicitBoolean() throws {
        #expect(try WebConfig.parse("basic_auth_exempt_health_endpoints: true\n", file: "web.yml").exemptHealthEndpointsFromAuth)
        #expect(try !WebConfig.parse("basic_auth_exempt_health_endpoints: false\n", file: "web.yml").exemptHealthEndpointsFromAuth)
        #expect(throws: ConfigErrors.self) { try WebConfig.parse("basic_auth_exempt_health_endpoints: [/-/healthy]\n", file: "web.yml") }
        do {
            _ = try WebConfig.parse("basic_auth_exempt_health_endpoints: sometimes\n", file: "web.yml")
            Issue.record("accepted")
        } catch {
            #expect(error.description == "web.yml:1:37: basic_auth_exempt_health_endpoints: expected true or false, got \"sometimes\"")
        }
    }

    @Test func reportsEveryProblem() {
        do {
            _ = try WebConfig.parse("""
            tls_server_config:
              cert_file: /nonexistent/server.crt
              client_auth_type: Sometimes
            basic_auth_users:
              alice: plaintext
            unknown: 1
            """, file: "web.yml")
            Issue.record("accepted")
        } catch {
            #expect(error.description == """
            web.yml:2:3: tls_server_config.key_file: required key is missing
            web.yml:2:14: tls_server_config.cert_file: cannot read /nonexistent/server.crt
            web.yml:3:21: tls_server_config.client_auth_type: unknown client_auth_type "Sometimes" (known: NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert)
            web.yml:5:10: basic_auth_users.alice: not a bcrypt hash (expected $2a$, $2b$ or $2y$ followed by a cost and 53 characters)
            web.yml:6:1: unknown: unknown key
            """)
        }
    }
}
