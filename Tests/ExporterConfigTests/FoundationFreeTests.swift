@testable import ExporterConfig
import Testing

/// The pieces that replace full Foundation (and with it ICU): YAML composition, the bounded
/// regex, the JSON reader and the locale-free formatting.
@Suite struct YAMLCompositionTests {
    func root(_ text: String) throws -> YAMLNode {
        try #require(try YAMLLoader.compose(text, file: "t.yml"))
    }

    func errors(_ text: String) -> [String] {
        do {
            _ = try YAMLLoader.compose(text, file: "t.yml")
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    @Test func marksCountFromOneInUnicodeScalars() throws {
        guard case .mapping(let mapping) = try root("a: 1\n\"é\": [x, {k: v}]\n") else { Issue.record("not a mapping"); return }
        #expect(mapping.mark.description == "1:1")
        let second = mapping.pairs[1]
        #expect(second.key.string == "é" && second.key.mark?.description == "2:1")
        guard case .sequence(let items) = second.value else { Issue.record("not a list"); return }
        #expect(items.mark.description == "2:6")
        #expect(items[1].mark?.description == "2:10")
    }

    @Test(arguments: [
        ("yes", YAMLTag.bool), ("Off", .bool), ("0x1f", .int), ("0o17", .int), ("1_000", .int), ("-12", .int),
        ("1.5e3", .float), (".inf", .float), ("~", .null), ("", .null), ("NULL", .null), ("2026-12-01", .str),
        ("<<", .str), ("abc", .str), ("yess", .str),
    ])
    func plainScalarsResolveAsYAML11(text: String, tag: YAMLTag) {
        #expect(YAMLTag.resolve(plain: text) == tag)
    }

    @Test func quotedAndTaggedScalarsAreStrings() throws {
        guard case .mapping(let mapping) = try root("a: 'yes'\nb: !!str 12\nc: !!int '7'\nd: yes") else { return }
        let tags = mapping.pairs.map { pair -> YAMLTag? in
            if case .scalar(let scalar) = pair.value { return scalar.resolvedTag } else { return nil }
        }
        #expect(tags == [.str, .str, .int, .bool])
    }

    @Test func aliasesStandForTheirAnchoredNode() throws {
        guard case .mapping(let mapping) = try root("base: &b {x: 1}\ncopy: *b\n") else { return }
        guard case .mapping(let copy) = mapping["copy"] else { Issue.record("alias not resolved"); return }
        #expect(copy["x"]?.string == "1")
    }

    @Test func problemsAreLocated() {
        #expect(errors("a: *nowhere\n") == ["t.yml:1:4: invalid YAML: found undefined alias"])
        #expect(errors("a: 1\n---\nb: 2\n") == ["t.yml:2:1: invalid YAML: expected a single document in the stream: but found another document"])
        // At the first occurrence of the alphabetically first duplicate, as before.
        #expect(errors("m:\n  b: 1\n  a: 2\n  b: 3\n  a: 4\n") == ["t.yml:3:3: duplicate key \"a\", \"b\" in the mapping that starts here"])
        #expect(errors("a: [1, 2\n") == ["t.yml:2:1: invalid YAML: while parsing a flow sequence: did not find expected ',' or ']'"])
        #expect(errors("a: \u{7}\n").first?.hasPrefix("t.yml:1:4: invalid YAML: control characters are not allowed") == true)
    }

    @Test func emptyStreamHasNoRoot() throws {
        #expect(try YAMLLoader.compose("", file: "t.yml") == nil)
        #expect(try YAMLLoader.compose("# only a comment\n", file: "t.yml") == nil)
    }
}

@Suite struct BoundedRegexTests {
    @Test func matchesWithGroupsAndUnicode() throws {
        let regex = try BoundedRegex(#"token=(\w+)(x)?"#)
        let match = try #require(try regex.firstMatch(in: "a token=héllo b", deadline: .now + .seconds(5)))
        #expect(match.groups == ["token=héllo", "héllo", nil])
        #expect(try BoundedRegex("(?i)^ABC$").firstMatch(in: "abc", deadline: .now + .seconds(5)) != nil)
        #expect(try BoundedRegex("abc", caseInsensitive: true).firstMatch(in: "xABCx", deadline: .now + .seconds(5)) != nil)
        #expect(try BoundedRegex("^$").firstMatch(in: "", deadline: .now + .seconds(5)) != nil)
    }

    @Test func invalidPatternsNameTheProblem() {
        #expect(throws: BoundedRegex.CompileError.self) { try BoundedRegex("(unclosed") }
        do {
            _ = try BoundedRegex("a{2,1}")
            Issue.record("accepted")
        } catch {
            #expect(!error.message.isEmpty && error.offset > 0)
        }
    }

    @Test func backtrackingStopsAtTheDeadline() throws {
        let regex = try BoundedRegex("(x+x+)+[yz]")
        let text = String(repeating: String(repeating: "x", count: 30) + "!", count: 1000)
        let clock = ContinuousClock()
        let started = clock.now
        #expect(throws: BoundedRegex.TimedOut.self) { try regex.firstMatch(in: text, deadline: started + .milliseconds(200)) }
        #expect(clock.now - started < .seconds(2))
    }

    @Test func replacesEveryMatchKeepingTheRest() throws {
        let regex = try BoundedRegex("(pin=)[0-9]+")
        #expect(regex.replacingMatches(in: "a pin=1234&pin=9 é", with: { ($0.groups[1] ?? "") + "<r>" }) == "a pin=<r>&pin=<r> é")
        // Empty matches advance by one character, including multi-byte ones.
        #expect(try BoundedRegex("x*").replacingMatches(in: "aé", with: { _ in "-" }) == "-a-é-")
    }

    @Test func escapedLiteralsMatchThemselves() throws {
        let literal = "a.b*c(d)[e]\\f$"
        let regex = try BoundedRegex("^" + BoundedRegex.escaped(literal) + "$")
        #expect(try regex.firstMatch(in: literal, deadline: .now + .seconds(5)) != nil)
        #expect(try regex.firstMatch(in: "aXb*c(d)[e]\\f$", deadline: .now + .seconds(5)) == nil)
    }
}

@Suite struct JSONValueTests {
    @Test func parsesDocumentsAndPaths() throws {
        let document = try JSONValue.parse(Array(#" {"a": [1, 2.5, -3e2, true, null, "x\"\u00e9\ud83d\ude00/"], "b": {"c": {}}} "#.utf8))
        let values = ["$.a[0]", "$.a[1]", "$.a[2]", "$.a[3]", "$.a[4]", "$.a[5]", "$.a[-1]", "$.b"].map { path in
            JSONPath.parse(path).flatMap { $0.evaluate(document) }.map(JSONPath.text(of:))
        }
        #expect(values == ["1", "2.5", "-300", "true", "null", "x\"é😀/", "x\"é😀/", #"{"c":{}}"#])
        #expect(JSONPath.parse("$.a[9]").flatMap { $0.evaluate(document) } == nil)
        #expect(JSONPath.text(of: try JSONValue.parse(Array(#"{"b":"/","a":[false]}"#.utf8))) == #"{"a":[false],"b":"\/"}"#)
    }

    // JSONDecoder accepts a trailing comma (`[1,]`), so that is not among these.
    @Test(arguments: ["", "{", "{\"a\" 1}", "01", "1.", "tru", "\"\\x\"", "\"a", "[1] 2", "\"\u{1}\""])
    func rejectsInvalidJSON(_ text: String) {
        #expect(throws: JSONValue.SyntaxError.self) { try JSONValue.parse(Array(text.utf8)) }
    }

    @Test(arguments: [("42", JSONValue.number(42)), (" \"x\" ", .string("x")), ("null", .null), ("false", .bool(false)),
                      ("[]", .array([])), ("{}", .object([:])), ("-0.5e1", .number(-5)),
                      (#"{"n": 1, "s": "1", "b": true}"#, .object(["n": .number(1), "s": .string("1"), "b": .bool(true)]))])
    func decodesEveryKindAtTheTopLevel(text: String, expected: JSONValue) throws {
        #expect(try JSONValue.parse(Array(text.utf8)) == expected)
    }

    @Test func acceptsNestingUpToTheLimit() throws {
        let deep = String(repeating: "[", count: 100) + "1" + String(repeating: "]", count: 100)
        var value = try JSONValue.parse(Array(deep.utf8))
        var depth = 0
        while case .array(let items) = value, let first = items.first {
            value = first
            depth += 1
        }
        #expect(depth == 100 && value == .number(1))
    }

    @Test func refusesPathologicalNesting() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONValue.SyntaxError.self) { try JSONValue.parse(Array(deep.utf8)) }
    }
}

@Suite struct LocaleFreeFormattingTests {
    @Test(arguments: [(0.0, 3, "0.000s"), (1.23456, 3, "1.235s"), (0.0004, 3, "0.000s"), (-2.5, 1, "-2.5s"),
                      (12.0, 0, "12s"), (0.000001, 6, "0.000001s"), (3.1, 6, "3.100000s")])
    func secondsLikePrintf(value: Double, digits: Int, expected: String) {
        #expect(DurationParser.formatSeconds(value, digits: digits) == expected)
    }

    @Test func percentEncodingKeepsUnreservedAndChosenCharacters() {
        #expect(PercentEncoding.encode("a b/é~") == "a%20b%2F%C3%A9~")
        #expect(PercentEncoding.encode("check/a&b c", keeping: PercentEncoding.queryCharacters) == "check/a&b%20c")
    }

    @Test func directoryOfAPathAsNSStringGaveIt() {
        #expect(WebConfig.directory(of: "/etc/mitra/web.yml") == "/etc/mitra")
        #expect(WebConfig.directory(of: "web.yml") == "")
        #expect(WebConfig.directory(of: "/web.yml") == "/")
        #expect(WebConfig.directory(of: "conf//web.yml") == "conf")
    }

    @Test func trimmingSpacesKeepsLineBreaksInside() {
        #expect("  a b \t".trimmingSpaces() == "a b")
        #expect(" \t ".trimmingSpaces() == "")
    }
}
