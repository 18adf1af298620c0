/// A parsed JSON document, for `json:` expectations and extraction. Parsed here rather than
/// with Foundation's JSONSerialization, which is not part of FoundationEssentials.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public struct SyntaxError: Error, Sendable {
        /// Byte offset of the problem.
        public let offset: Int
    }

    /// Parses one JSON value (any value at the top level, with surrounding whitespace).
    public static func parse(_ bytes: some Collection<UInt8>) throws(SyntaxError) -> JSONValue {
        var parser = Parser(bytes: Array(bytes))
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.position == parser.bytes.count else { throw SyntaxError(offset: parser.position) }
        return value
    }

    /// Compact JSON text with sorted object keys; strings escape `/` as `\/`, as Foundation did.
    public var compactText: String {
        switch self {
        case .null: "null"
        case .bool(let flag): flag ? "true" : "false"
        case .number: JSONPath.text(of: self)
        case .string(let text): "\"" + JSONText.escape(text).replacing("/", with: "\\/") + "\""
        case .array(let items): "[" + items.map(\.compactText).joined(separator: ",") + "]"
        case .object(let members):
            "{" + members.keys.sorted().map { JSONValue.string($0).compactText + ":" + members[$0]!.compactText }.joined(separator: ",") + "}"
        }
    }

    private struct Parser {
        let bytes: [UInt8]
        var position = 0
        /// Deeper documents are refused rather than risking the stack.
        static let maximumDepth = 512

        mutating func skipWhitespace() {
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        }

        func fail() -> SyntaxError { SyntaxError(offset: position) }

        mutating func expect(_ literal: StaticString) throws(SyntaxError) {
            let count = literal.utf8CodeUnitCount
            guard position + count <= bytes.count,
                  literal.withUTF8Buffer({ Array($0) }) == Array(bytes[position..<position + count]) else { throw fail() }
            position += count
        }

        mutating func value(depth: Int) throws(SyntaxError) -> JSONValue {
            guard depth < Self.maximumDepth else { throw fail() }
            skipWhitespace()
            guard position < bytes.count else { throw fail() }
            switch bytes[position] {
            case UInt8(ascii: "n"): try expect("null"); return .null
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "["):
                position += 1
                var items: [JSONValue] = []
                skipWhitespace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
                while true {
                    items.append(try value(depth: depth + 1))
                    skipWhitespace()
                    guard position < bytes.count else { throw fail() }
                    if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
                    guard bytes[position] == UInt8(ascii: ",") else { throw fail() }
                    position += 1
                }
            case UInt8(ascii: "{"):
                position += 1
                var members: [String: JSONValue] = [:]
                skipWhitespace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
                while true {
                    skipWhitespace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw fail() }
                    let key = try string()
                    skipWhitespace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw fail() }
                    position += 1
                    members[key] = try value(depth: depth + 1)
                    skipWhitespace()
                    guard position < bytes.count else { throw fail() }
                    if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
                    guard bytes[position] == UInt8(ascii: ",") else { throw fail() }
                    position += 1
                }
            default:
                return .number(try number())
            }
        }

        mutating func number() throws(SyntaxError) -> Double {
            let start = position
            func digits(_ position: inout Int, _ bytes: [UInt8]) -> Int {
                let from = position
                while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
                return position - from
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
            let integerStart = position
            let integerDigits = digits(&position, bytes)
            guard integerDigits > 0, !(integerDigits > 1 && bytes[integerStart] == UInt8(ascii: "0")) else { throw fail() }
            if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
                position += 1
                guard digits(&position, bytes) > 0 else { throw fail() }
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
                position += 1
                if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
                guard digits(&position, bytes) > 0 else { throw fail() }
            }
            guard let number = Double(String(decoding: bytes[start..<position], as: UTF8.self)) else { throw fail() }
            return number
        }

        mutating func string() throws(SyntaxError) -> String {
            position += 1 // opening quote
            var output: [UInt8] = []
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: output, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard position < bytes.count else { throw fail() }
                    let escape = bytes[position]
                    position += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(escape)
                    case UInt8(ascii: "b"): output.append(0x08)
                    case UInt8(ascii: "f"): output.append(0x0C)
                    case UInt8(ascii: "n"): output.append(0x0A)
                    case UInt8(ascii: "r"): output.append(0x0D)
                    case UInt8(ascii: "t"): output.append(0x09)
                    case UInt8(ascii: "u"):
                        var code = try hex4()
                        if (0xD800..<0xDC00).contains(code), position + 1 < bytes.count,
                           bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") {
                            position += 2
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw fail() }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        }
                        // A lone surrogate becomes U+FFFD, as a lenient decoder would.
                        output.append(contentsOf: String(Character(Unicode.Scalar(code) ?? "\u{FFFD}")).utf8)
                    default: throw fail()
                    }
                default:
                    guard byte >= 0x20 else { throw fail() }
                    output.append(byte)
                }
            }
            throw fail()
        }

        mutating func hex4() throws(SyntaxError) -> UInt32 {
            guard position + 4 <= bytes.count,
                  let code = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16) else { throw fail() }
            position += 4
            return code
        }
    }
}
