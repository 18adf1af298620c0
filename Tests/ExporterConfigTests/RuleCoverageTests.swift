import Foundation
import Testing

/// Every rule the validator enforces is an `error("…")` call in Sources/ExporterConfig. Each
/// must produce a line in at least one invalid fixture's expected messages, so a new rule
/// comes with a fixture that shows its exact text (blackbox_exporter's `testdata/invalid-*`).
@Suite struct RuleCoverageTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/ExporterConfig")

    struct Rule: CustomStringConvertible, Sendable {
        var location: String
        var literal: String
        var description: String { "\(location): \(literal)" }

        /// The message as a pattern: each interpolation `\(…)` matches any text.
        var pattern: String {
            var pattern = ""
            var text = Substring(literal)
            while let first = text.first {
                if text.hasPrefix("\\(") {
                    text = text.dropFirst(2)
                    var depth = 1
                    while let next = text.first, depth > 0 {
                        if next == "(" { depth += 1 } else if next == ")" { depth -= 1 }
                        text = text.dropFirst()
                    }
                    pattern += ".*"
                } else if first == "\\", let escaped = text.dropFirst().first {
                    pattern += NSRegularExpression.escapedPattern(for: String(escaped))
                    text = text.dropFirst(2)
                } else {
                    pattern += NSRegularExpression.escapedPattern(for: String(first))
                    text = text.dropFirst()
                }
            }
            return pattern
        }
    }

    /// The string literal that starts at `start` (just after its opening quote), up to its
    /// closing quote; quotes inside interpolations (`joined(separator: ", ")`) do not end it.
    static func literal(in line: Substring) -> String? {
        var result = ""
        var depth = 0
        var inNestedString = false
        var index = line.startIndex
        while index < line.endIndex {
            let character = line[index]
            let next = line.index(after: index)
            if character == "\\", next < line.endIndex {
                result.append(character)
                result.append(line[next])
                if depth == 0, line[next] == "(" { depth = 1 }
                index = line.index(after: next)
                continue
            }
            if depth > 0 {
                if character == "\"" { inNestedString.toggle() }
                if !inNestedString {
                    if character == "(" { depth += 1 } else if character == ")" { depth -= 1 }
                }
            } else if character == "\"" {
                return result
            }
            result.append(character)
            index = next
        }
        return nil
    }

    static let rules: [Rule] = {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: sources.path)) ?? []).filter { $0.hasSuffix(".swift") }.sorted()
        var rules: [Rule] = []
        for file in files {
            guard let text = try? String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8) else { continue }
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                var rest = line[...]
                while let call = rest.range(of: "error(\"") {
                    rest = rest[call.upperBound...]
                    if let literal = literal(in: rest) {
                        rules.append(Rule(location: "\(file):\(number + 1)", literal: literal))
                    }
                }
            }
        }
        return rules
    }()

    static let expectedMessages: [String] = {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: fixturesDirectory.path)) ?? [])
            .filter { $0.hasSuffix(".txt") && ($0.hasPrefix("invalid-") || $0.hasPrefix("web-invalid-")) }
        return names.flatMap { name in
            ((try? String(contentsOf: fixturesDirectory.appendingPathComponent(name), encoding: .utf8)) ?? "")
                .split(separator: "\n").map(String.init)
        }
    }()

    @Test func rulesAreFound() {
        // A guard against the scan silently finding nothing.
        #expect(Self.rules.count >= 60)
    }

    @Test(arguments: rules)
    func everyRuleHasAFixture(_ rule: Rule) throws {
        let regex = try NSRegularExpression(pattern: rule.pattern)
        let covered = Self.expectedMessages.contains { line in
            regex.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)) != nil
        }
        #expect(covered, "no invalid fixture produces \(rule)")
    }
}
