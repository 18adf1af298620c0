import ExporterConfig
import Testing
import TestSupport

/// Properties of `${env:}` / `${file:}` expansion against a simple model: generated strings
/// built from known pieces expand to the concatenation of the pieces' expected values.
@Suite struct SecretExpansionPropertyTests {
    // Values deliberately look like references: expansion must not recurse into them.
    static let environment = [
        "A": "alpha-Secret-1",
        "B_2": "x${env:A}y",
        "EMPTY": "",
        "SPACES": "p@ss w:rd/?#&=%'\"\\x}",
    ]
    static let files = ["/run/secrets/pw": "file-Secret-9", "/x y/z": "${file:/run/secrets/pw}"]

    static let resolver = SecretResolver(environment: environment) { path in
        if let value = files[path] { return value }
        throw SecretResolver.Failure(message: "cannot read secret file \(path)")
    }

    static let literalAlphabet = Array("abcXYZ019 _-.:/@#%&'\"\\\n\té🔥")

    @Test func generatedStringsExpandLikeTheModel() throws {
        var random = SeededRandom(seed: 0x5EC_2E75)
        for iteration in 0..<3000 {
            var input = "", expected = "", secrets: [String] = []
            for _ in 0..<Int.random(in: 0...8, using: &random) {
                switch Int.random(in: 0..<5, using: &random) {
                case 0:
                    let name = random.pick(Array(Self.environment.keys).sorted())
                    let value = Self.environment[name]!
                    input += "${env:\(name)}"
                    expected += value
                    if !value.isEmpty { secrets.append(value) }
                case 1:
                    let path = random.pick(Array(Self.files.keys).sorted())
                    input += "${file:\(path)}"
                    expected += Self.files[path]!
                    secrets.append(Self.files[path]!)
                case 2:
                    input += "$${"
                    expected += "${"
                case 3:
                    let name = String((0..<Int.random(in: 1...6, using: &random)).map { _ in random.pick(Array("abz_")) })
                    input += "${\(name)}"
                    expected += "${\(name)}"
                default:
                    let literal = String((0..<Int.random(in: 0...10, using: &random)).map { _ in random.pick(Self.literalAlphabet) })
                    input += literal
                    expected += literal
                }
            }
            let result = try Self.resolver.expand(input)
            #expect(result.value == expected, "seed \(iteration): \(input.debugDescription)")
            #expect(result.secrets == secrets, "seed \(iteration): \(input.debugDescription)")
            let redacted = Redactor(secrets: result.secrets).redact(result.value)
            for secret in result.secrets where secret.count >= Redactor.minimumSecretLength {
                #expect(!redacted.contains(secret), "seed \(iteration): \(redacted)")
            }
        }
    }

    @Test func arbitraryStringsNeverCrashAndFailuresCarryNoSecret() {
        var random = SeededRandom(seed: 0xBAD_5EC)
        let pieces = ["${", "$${", "}", "$", "{", "env:", "file:", "A", "B_2", "EMPTY", "SPACES", "NOPE", "/run/secrets/pw",
                      "/missing", ":", "x", " ", "\n", "é"]
        var failures = 0
        for iteration in 0..<5000 {
            let input = (0..<Int.random(in: 0...12, using: &random)).map { _ in random.pick(pieces) }.joined()
            do {
                let result = try Self.resolver.expand(input)
                if !input.contains("${") { #expect(result.value == input && result.secrets.isEmpty) }
            } catch {
                failures += 1
                #expect(!error.message.isEmpty)
                for secret in Array(Self.environment.values) + Array(Self.files.values) where !secret.isEmpty {
                    #expect(!error.message.contains(secret), "seed \(iteration): \(error.message)")
                }
            }
        }
        #expect(failures > 0)
    }
}
