#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A JSON document, for `json:` expectations and extraction.
///
/// Read with FoundationEssentials' `JSONDecoder` (which has no ICU dependency), decoding into
/// this enum; JSONSerialization would need full Foundation and with it ICU.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The bytes are not one JSON value.
    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        /// What the decoder reported (position and problem).
        public let message: String
        public var description: String { message }
    }

    /// Parses one JSON value (any value at the top level, with surrounding whitespace).
    /// Documents nested deeper than the decoder's limit (512) are refused rather than risking
    /// the stack.
    public static func parse(_ bytes: some Collection<UInt8>) throws(SyntaxError) -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw SyntaxError(message: "\(error)")
        }
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
            "{" + members.sorted { $0.key < $1.key }
                .map { JSONValue.string($0.key).compactText + ":" + $0.value.compactText }
                .joined(separator: ",") + "}"
        }
    }
}

extension JSONValue: Decodable {
    /// The decoder has already checked the syntax of the whole document, so each node is
    /// exactly one of these kinds; the common kinds (strings, numbers) are tried first.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let text = try? container.decode(String.self) {
            self = .string(text)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let flag = try? container.decode(Bool.self) {
            self = .bool(flag)
        } else if let members = try? container.decode([String: JSONValue].self) {
            self = .object(members)
        } else {
            self = .array(try container.decode([JSONValue].self))
        }
    }
}
