import ExporterConfig
import Foundation
import Testing
import TestSupport

/// Mutation fuzzing of the config and web-config parsers: whatever the input, the result is a
/// configuration or a list of located errors, and no expanded secret leaks into an error.
@Suite struct ConfigFuzzTests {
    static let environment = [
        "MITRA_FUZZ_SECRET": "fz-Secret-7Qx9-env",
        "AGENTMITRA_TOKEN": "tok-Fuzz-3141-env",
        "PG_PASSWORD": "pg-Fuzz-2718-env",
    ]
    static let fileSecret = "file-Fuzz-1618-secret"
    static var secrets: [String] { Array(environment.values) + [fileSecret] }

    static let resolver = SecretResolver(environment: environment) { path in
        if path.hasSuffix("password.txt") { return fileSecret }
        throw SecretResolver.Failure(message: "cannot read secret file \(path)")
    }

    /// The repository's own fixtures plus a few inline documents covering every section.
    static let corpus: [String] = {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("ExporterConfigTests/Fixtures")
        var documents: [String] = []
        if let names = try? FileManager.default.contentsOfDirectory(atPath: fixtures.path) {
            for name in names.sorted() where name.hasSuffix(".yml") {
                if let text = try? String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8) {
                    documents.append(text)
                }
            }
        }
        documents.append("""
        defaults: {interval: 15s, timeout: 5s}
        checks:
          - name: health
            url: http://127.0.0.1:8000/health
            headers: {Authorization: "Bearer ${env:MITRA_FUZZ_SECRET}"}
            expect: {status: [200], json: {"$.status": ok}, max_duration: 1s}
        postgres:
          - name: agentmitra
            dsn: "postgresql://exporter:${env:PG_PASSWORD}@127.0.0.1:5432/agentmitra"
            collectors: [database, activity, locks, statements, tables]
            statements: {top: 100}
            tables: {schemas: [lic_schema]}
        """)
        documents.append("{}")
        documents.append("")
        return documents
    }()

    /// True when `text` starts with `file:LINE:COL: ` (positive numbers).
    static func hasLocation(_ text: String, file: String) -> Bool {
        guard text.hasPrefix(file + ":") else { return false }
        let parts = text.dropFirst(file.count + 1).split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let line = Int(parts[0]), let column = Int(parts[1]) else { return false }
        return line >= 1 && column >= 1 && parts[2].hasPrefix(" ")
    }

    static func check(_ errors: ConfigErrors, file: String, input: String, seed: UInt64) {
        #expect(!errors.errors.isEmpty, "seed \(seed): empty ConfigErrors")
        for error in errors.errors {
            let text = error.description
            #expect(hasLocation(text, file: file), "seed \(seed): not file:line:col: \(text)")
            #expect(error.line >= 1 && error.column >= 1, "seed \(seed): \(text)")
            for secret in secrets {
                #expect(!text.contains(secret), "seed \(seed): secret in error: \(text)\ninput:\n\(input)")
            }
        }
    }

    @Test func seedCorpusParsesOrReportsLocatedErrors() {
        // The fixtures must have been found, or the mutations start from almost nothing.
        #expect(Self.corpus.count >= 10, "fixture corpus not found next to this file")
        for (index, text) in Self.corpus.enumerated() {
            do {
                _ = try ConfigLoader.parse(text, file: "seed.yml", resolver: Self.resolver)
            } catch {
                Self.check(error, file: "seed.yml", input: text, seed: UInt64(index))
            }
        }
    }

    @Test(arguments: 0..<4)
    func mutatedConfigsNeverCrash(shard: Int) {
        var random = SeededRandom(seed: 0xC0F1_6000 + UInt64(shard))
        var parsed = 0, rejected = 0
        for iteration in 0..<1500 {
            var text = random.pick(Self.corpus)
            let rounds = Int.random(in: 1...3, using: &random)
            for _ in 0..<rounds { text = text.mutated(using: &random) }
            let seed = UInt64(shard) << 32 | UInt64(iteration)
            do {
                let config = try ConfigLoader.parse(text, file: "fuzz.yml", resolver: Self.resolver)
                parsed += 1
                // Any secret that ended up in the loaded config must be known to its redactor.
                var dumped = ""
                dump(config, to: &dumped)
                for secret in Self.secrets where dumped.contains(secret) {
                    #expect(!config.redactor.redact("x \(secret) y").contains(secret), "seed \(seed)")
                }
            } catch {
                rejected += 1
                Self.check(error, file: "fuzz.yml", input: text, seed: seed)
            }
        }
        // The mutations must exercise both outcomes, or the test proves nothing.
        #expect(parsed > 0 && rejected > 0, "parsed \(parsed), rejected \(rejected)")
    }

    @Test func randomBytesNeverCrash() {
        var random = SeededRandom(seed: 0xB17E5)
        for iteration in 0..<400 {
            let length = Int.random(in: 0...200, using: &random)
            var text = ""
            for _ in 0..<length {
                if random.chance(30) {
                    text += random.pick(Fragments.tokens)
                } else {
                    text.unicodeScalars.append(Unicode.Scalar(UInt8.random(in: 0...0x7F, using: &random)))
                }
            }
            do {
                _ = try ConfigLoader.parse(text, file: "bytes.yml", resolver: Self.resolver)
            } catch {
                Self.check(error, file: "bytes.yml", input: text, seed: UInt64(iteration))
            }
        }
    }

    /// The configurations the project ships: what users copy and edit.
    static let shippedConfigs: [(name: String, text: String)] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return ["examples/agentmitra.yml", "deploy/examples/mitra-exporter.yml", "e2e/exporter.yml"].compactMap { path in
            (try? String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)).map { (path, $0) }
        }
    }()

    /// Every `${env:NAME}` the shipped configs use, set, so that their mutations get past
    /// secret resolution and into validation.
    static let shippedResolver: SecretResolver = {
        var environment = Self.environment
        let reference = try! NSRegularExpression(pattern: #"\$\{env:([A-Za-z0-9_]+)\}"#)
        for (_, text) in shippedConfigs {
            for match in reference.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                guard let range = Range(match.range(at: 1), in: text) else { continue }
                let name = String(text[range])
                // URLs and file paths must look like them, or every mutation fails on them alone.
                environment[name] = name.hasSuffix("_URL") ? "http://127.0.0.1:8000" : name.hasSuffix("_CA") ? #filePath : "fz-\(name.count)-Shipped-env"
            }
        }
        return SecretResolver(environment: environment) { path in
            throw SecretResolver.Failure(message: "cannot read secret file \(path)")
        }
    }()

    /// Values that replace a `key: value` line's value: other types, huge and odd values.
    static let replacementValues = [
        "[a, b]", "{x: 1}", "true", "-1", "0", "1e308", "99999999999999999999999999", "\"\"", "~", "-", "0x7fffffffffffffff",
        "\"${env:MITRA_FUZZ_SECRET}\"", "\"${file:/nonexistent}\"", "\"\\u0000\"", "999999h", "-5s", "\"\\r\\n\"",
        "[" + String(repeating: "[", count: 200) + String(repeating: "]", count: 200) + "]",
    ]

    /// Structure-aware mutations of one line: drop it, or replace its value with another type.
    static func mutateStructure(_ text: String, using random: inout SeededRandom) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let candidates = lines.indices.filter { lines[$0].contains(": ") || lines[$0].trimmingCharacters(in: .whitespaces).hasPrefix("- ") }
        guard !candidates.isEmpty else { return text }
        let line = random.pick(candidates)
        switch Int.random(in: 0..<4, using: &random) {
        case 0:
            lines.remove(at: line)  // a deleted key (or list item)
        case 1:
            if let colon = lines[line].range(of: ": ") {
                lines[line] = String(lines[line][..<colon.upperBound]) + random.pick(replacementValues)
            }
        case 2:
            if let colon = lines[line].range(of: ": ") {  // a huge string value
                lines[line] = String(lines[line][..<colon.upperBound]) + "\"" + String(repeating: "x", count: 50_000) + "\""
            }
        default:
            lines[line] = lines[line].replacingOccurrences(of: ": ", with: ":")  // a key that swallows its value
        }
        return lines.joined(separator: "\n")
    }

    /// What is unclear about a rejection: no file:line:col, an empty or internal message,
    /// an expanded secret. Empty when the errors are clear.
    static func unclearReasons(_ errors: ConfigErrors, file: String, secrets: [String]) -> [String] {
        if errors.errors.isEmpty { return ["empty ConfigErrors"] }
        var reasons: [String] = []
        for error in errors.errors {
            let text = error.description
            if !hasLocation(text, file: file) { reasons.append("not file:line:col: \(text)") }
            if error.message.count < 8 || error.message.contains("Optional(") || error.message.contains("Swift.") {
                reasons.append("unclear message: \(text)")
            }
            if let secret = secrets.first(where: { text.contains($0) }) { reasons.append("secret \(secret) in: \(text)") }
        }
        return reasons
    }

    struct FuzzRun: Sendable {
        var iterations = 0, parsed = 0, rejected = 0
        var problems: [String] = []
    }

    /// Mutates the shipped configs until `deadline`; runs on a thread of its own.
    static func fuzzShippedConfigs(until deadline: ContinuousClock.Instant) -> FuzzRun {
        var run = FuzzRun()
        var random = SeededRandom(seed: 0x5EC0_F022)
        let secrets = secrets + shippedResolver.environment.values.filter { $0.hasPrefix("fz-") }
        while ContinuousClock.now < deadline {
            run.iterations += 1
            var text = random.pick(Self.shippedConfigs).text
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                text = random.chance(50) ? Self.mutateStructure(text, using: &random) : text.mutated(using: &random)
            }
            do {
                let config = try ConfigLoader.parse(text, file: "fuzz.yml", resolver: Self.shippedResolver)
                _ = config.summary
                run.parsed += 1
            } catch {
                run.rejected += 1
                let reasons = unclearReasons(error, file: "fuzz.yml", secrets: secrets)
                if !reasons.isEmpty, run.problems.count < 20 {
                    run.problems.append("iteration \(run.iterations): \(reasons.joined(separator: "; "))\ninput:\n\(text.prefix(2000))")
                }
            }
        }
        return run
    }

    /// Mutates the shipped example configs (deleted keys and items, swapped types, huge and
    /// odd values, plus the byte-level mutations) for a bounded time (MITRA_FUZZ_SECONDS,
    /// default 4): no crash (a crash ends the test run), every rejection a clear located
    /// error. The work runs on a thread of its own, not the cooperative pool that the
    /// timing-sensitive tests running beside it need.
    @Test func shippedConfigsSurviveBoundedTimeFuzzing() async throws {
        #expect(Self.shippedConfigs.count == 3, "the shipped configs were not found")
        for (name, text) in Self.shippedConfigs {
            do {
                _ = try ConfigLoader.parse(text, file: name, resolver: Self.shippedResolver)
            } catch {
                Issue.record("\(name) does not load: \(error.description)")
            }
        }
        let seconds = TestEnvironment.fuzzSeconds
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        let run: FuzzRun = await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: Self.fuzzShippedConfigs(until: deadline)) }.start()
        }
        print("config fuzzing: \(run.iterations) mutated configs in \(seconds)s, \(run.parsed) accepted, \(run.rejected) rejected with located errors")
        #expect(run.problems.isEmpty, "\(run.problems.joined(separator: "\n\n"))")
        #expect(run.parsed > 0 && run.rejected > 0, "parsed \(run.parsed), rejected \(run.rejected)")
    }

    /// Bytes that are not UTF-8 (a truncated multi-byte sequence, a lone continuation byte,
    /// Latin-1) are refused with one located error, never decoded into garbage.
    @Test func invalidUTF8IsRejectedClearly() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mitra-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var random = SeededRandom(seed: 0x0BAD_0F08)
        for iteration in 0..<50 {
            var bytes = Array(random.pick(Self.shippedConfigs).text.utf8)
            let position = Int.random(in: 0..<bytes.count, using: &random)
            bytes.insert(contentsOf: random.pick([[0xC3], [0x80], [0xE9, 0x20], [0xF0, 0x9F, 0x98], [0xFF, 0xFE]]), at: position)
            let path = directory.appendingPathComponent("bad-\(iteration).yml").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                _ = try ConfigLoader.load(path: path, resolver: Self.shippedResolver)
                Issue.record("invalid UTF-8 was accepted (iteration \(iteration))")
            } catch {
                #expect(error.errors.map(\.description) == ["\(path):1:1: file is not UTF-8"])
            }
        }
    }

    static let webCorpus = [
        """
        tls_server_config:
          cert_file: /nonexistent/server.crt
          key_file: /nonexistent/server.key
          client_auth_type: RequireAndVerifyClientCert
          client_ca_file: /nonexistent/ca.crt
          min_version: TLS12
        http_server_config:
          http2: false
          headers: {X-Frame-Options: deny}
        basic_auth_users:
          prometheus: $2y$10$Q8lOOf5qQ0cI8u3x0J1Zae7lFv5Jq6Cq2m8lIuZqkXbq2T8C3o7e2
        """,
        "basic_auth_users: {a: not-a-hash}\n",
        "tls_server_config: {cert_file: a, key_file: b}\n",
        "http_server_config: {http2: true}\n",
        "",
    ]

    @Test func mutatedWebConfigsNeverCrash() {
        var random = SeededRandom(seed: 0x3EBC_0F16)
        var rejected = 0
        for iteration in 0..<800 {
            var text = random.pick(Self.webCorpus)
            for _ in 0..<Int.random(in: 1...3, using: &random) { text = text.mutated(using: &random) }
            do {
                _ = try WebConfig.parse(text, file: "web.yml")
            } catch {
                rejected += 1
                Self.check(error, file: "web.yml", input: text, seed: UInt64(iteration))
            }
        }
        #expect(rejected > 0)
    }
}
