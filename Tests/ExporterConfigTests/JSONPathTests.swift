import ExporterConfig
import Testing

/// JSONPath: the subset the config accepts (`$`, `.key`, `[index]`, `['quoted key']`), what it
/// selects, and how selected values read as text.
@Suite struct JSONPathTests {
    static let document: JSONValue = {
        let text = #"""
        {"role": "agent", "count": 3, "ratio": 0.5, "ok": true, "none": null,
         "items": [{"id": 7, "tags": ["a", "b"]}, {"id": 8}],
         "odd key": {"x.y": 1}, "nested": {"a": {"b": [10, 20, 30]}}}
        """#
        do { return try JSONValue.parse(Array(text.utf8)) } catch { return .null }
    }()

    @Test(arguments: [
        ("$", [JSONPath.Component]()),
        ("$.role", [.key("role")]),
        ("$.nested.a.b[2]", [.key("nested"), .key("a"), .key("b"), .index(2)]),
        ("$[0].status", [.index(0), .key("status")]),
        ("$['odd key']", [.key("odd key")]),
        (#"$["odd key"]['x.y']"#, [.key("odd key"), .key("x.y")]),
        ("$.items[-1]", [.key("items"), .index(-1)]),
        ("  $.role  ", [.key("role")]),
    ])
    func parses(text: String, components: [JSONPath.Component]) throws {
        let path = try #require(JSONPath.parse(text))
        #expect(path.components == components)
        #expect(path.description == text)
    }

    @Test(arguments: ["", "role", ".role", "$.", "$..role", "$[", "$[x]", "$[1", "$['open]", "$['a'x", "$role", "$.a[]"])
    func rejects(text: String) {
        #expect(JSONPath.parse(text) == nil)
    }

    @Test(arguments: [
        ("$.role", "agent"),
        ("$.count", "3"),
        ("$.ratio", "0.5"),
        ("$.ok", "true"),
        ("$.none", "null"),
        ("$.items[0].id", "7"),
        ("$.items[-1].id", "8"),
        ("$.items[0].tags", #"["a","b"]"#),
        ("$['odd key']['x.y']", "1"),
        ("$.nested.a.b[1]", "20"),
        ("$.nested.a", #"{"b":[10,20,30]}"#),
    ])
    func selects(path: String, text: String) throws {
        let parsed = try #require(JSONPath.parse(path))
        let value = try #require(parsed.evaluate(Self.document))
        #expect(JSONPath.text(of: value) == text)
    }

    @Test(arguments: ["$.missing", "$.items[2]", "$.items[-3]", "$.role.length", "$.role[0]", "$.items.id", "$.nested.a.b[3]"])
    func missingValuesAreNil(path: String) throws {
        let parsed = try #require(JSONPath.parse(path))
        #expect(parsed.evaluate(Self.document) == nil)
    }

    @Test(arguments: [
        (JSONValue.number(42), "42"),
        (.number(-0.25), "-0.25"),
        (.number(1e16), "1e+16"),
        (.number(123_456_789_012), "123456789012"),
        (.string("a/b"), "a/b"),
        (.bool(false), "false"),
        (.null, "null"),
        (.array([.string("/"), .number(1)]), #"["\/",1]"#),
        (.object(["b": .null, "a": .string("\n")]), #"{"a":"\n","b":null}"#),
    ])
    func valuesReadAsText(value: JSONValue, text: String) {
        #expect(JSONPath.text(of: value) == text)
    }
}
