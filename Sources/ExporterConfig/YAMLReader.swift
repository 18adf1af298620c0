#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The single config decoding path: walks the YAML node tree, reads typed values, and
/// records every problem with its file, line, column and key path instead of stopping at
/// the first. Unknown keys are errors (strict decoding), as in blackbox_exporter.
public final class DecodeContext {
    public let file: String
    public private(set) var errors: [ConfigError] = []
    public private(set) var secrets: [String] = []
    public let resolver: SecretResolver

    public init(file: String, resolver: SecretResolver) {
        self.file = file
        self.resolver = resolver
    }

    public func error(at mark: YAMLMark?, path: String, _ message: String) {
        errors.append(ConfigError(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, path: path, message: message))
    }

    func addSecrets(_ values: [String]) {
        secrets.append(contentsOf: values)
    }
}

/// A YAML value with its key path, for reading one typed value and reporting errors on it.
public struct ConfigValue {
    public let node: YAMLNode
    public let path: String
    public let context: DecodeContext

    public var mark: YAMLMark? { node.mark }

    public func error(_ message: String) {
        context.error(at: node.mark, path: path, message)
    }

    var kindDescription: String {
        switch node {
        case .scalar: "a scalar"
        case .mapping: "a mapping"
        case .sequence: "a list"
        }
    }

    /// Any scalar as text, with `${env:..}`/`${file:..}` references expanded.
    public func string() -> String? {
        guard case .scalar(let scalar) = node else {
            error("expected a string, got \(kindDescription)")
            return nil
        }
        // Composed plain scalars carry no resolved tag, so YAML's null spellings are checked here.
        if scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
            error("expected a string, got null")
            return nil
        }
        do {
            let (value, secrets) = try context.resolver.expand(scalar.string)
            context.addSecrets(secrets)
            return value
        } catch {
            self.error(error.message)
            return nil
        }
    }

    /// A string that must not be empty.
    public func nonEmptyString() -> String? {
        guard let value = string() else { return nil }
        if value.isEmpty {
            error("must not be empty")
            return nil
        }
        return value
    }

    public func duration() -> Duration? {
        guard case .scalar(let scalar) = node else {
            error("expected a duration such as \"15s\", got \(kindDescription)")
            return nil
        }
        guard let duration = DurationParser.parse(scalar.string) else {
            error("\"\(scalar.string)\" is not a duration (use e.g. 250ms, 15s, 1m30s)")
            return nil
        }
        return duration
    }

    public func positiveDuration() -> Duration? {
        guard let duration = duration() else { return nil }
        if duration <= .zero {
            error("must be greater than 0s")
            return nil
        }
        return duration
    }

    public func int(in range: ClosedRange<Int>? = nil) -> Int? {
        guard case .scalar(let scalar) = node, let value = Int(scalar.string) else {
            error("expected an integer, got \(describeScalar())")
            return nil
        }
        if let range, !range.contains(value) {
            error("\(value) is out of range \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return value
    }

    public func double() -> Double? {
        guard case .scalar(let scalar) = node, let value = Double(scalar.string), value.isFinite else {
            error("expected a number, got \(describeScalar())")
            return nil
        }
        return value
    }

    public func bool() -> Bool? {
        guard case .scalar(let scalar) = node else {
            error("expected true or false, got \(kindDescription)")
            return nil
        }
        switch scalar.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            error("expected true or false, got \"\(scalar.string)\"")
            return nil
        }
    }

    /// An absolute http(s) URL (scenario variables such as `${base}` are allowed in it).
    public func httpURL(schemes: Set<String> = ["http", "https"]) -> String? {
        guard let text = nonEmptyString() else { return nil }
        if text.contains("${") { return text }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              schemes.contains(scheme), let host = components.host, !host.isEmpty
        else {
            error("\"\(context.redactor.redact(text))\" is not a valid \(schemes.sorted().joined(separator: "/")) URL")
            return nil
        }
        return text
    }

    public func object() -> ConfigObject? {
        guard case .mapping(let mapping) = node else {
            if case .scalar(let scalar) = node, scalar.string.isEmpty || scalar.string == "null" || scalar.string == "~" {
                // `key:` with nothing after it: an empty mapping.
                return ConfigObject(pairs: [], mark: node.mark, path: path, context: context)
            }
            error("expected a mapping, got \(kindDescription)")
            return nil
        }
        return ConfigObject(mapping: mapping, mark: node.mark, path: path, context: context)
    }

    public func list() -> [ConfigValue]? {
        switch node {
        case .sequence(let sequence):
            return sequence.enumerated().map { ConfigValue(node: $0.element, path: "\(path)[\($0.offset)]", context: context) }
        case .scalar(let scalar) where scalar.string.isEmpty || scalar.string == "null" || scalar.string == "~":
            return []
        default:
            error("expected a list, got \(kindDescription)")
            return nil
        }
    }

    public func stringList() -> [String]? {
        guard let items = list() else { return nil }
        let values = items.compactMap { $0.string() }
        return values.count == items.count ? values : nil
    }

    /// A mapping of string keys to string values, in file order (labels, headers).
    public func stringPairs() -> [(key: String, value: String)]? {
        guard let object = object() else { return nil }
        var result: [(key: String, value: String)] = []
        for key in object.keys {
            if let value = object.value(key)?.string() { result.append((key, value)) }
        }
        object.finish()
        return result
    }

    private func describeScalar() -> String {
        if case .scalar(let scalar) = node { return "\"\(scalar.string)\"" }
        return kindDescription
    }
}

/// A YAML mapping being read. Keys that are never read are reported by `finish()`.
public final class ConfigObject {
    public let mark: YAMLMark?
    public let path: String
    public let context: DecodeContext
    private let pairs: [(key: String, keyMark: YAMLMark?, value: YAMLNode)]
    private var used: Set<String> = []

    init(pairs: [(key: String, keyMark: YAMLMark?, value: YAMLNode)], mark: YAMLMark?, path: String, context: DecodeContext) {
        self.pairs = pairs
        self.mark = mark
        self.path = path
        self.context = context
    }

    convenience init(mapping: YAMLNode.Mapping, mark: YAMLMark?, path: String, context: DecodeContext) {
        var pairs: [(key: String, keyMark: YAMLMark?, value: YAMLNode)] = []
        var seen: Set<String> = []
        for (keyNode, valueNode) in mapping {
            let key = keyNode.string ?? ""
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            if seen.contains(key) {
                context.error(at: keyNode.mark, path: keyPath, "duplicate key")
                continue
            }
            seen.insert(key)
            pairs.append((key, keyNode.mark, valueNode))
        }
        self.init(pairs: pairs, mark: mark, path: path, context: context)
    }

    public var keys: [String] { pairs.map(\.key) }

    public func childPath(_ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    /// The value under `key`, or nil when absent. Marks the key as known.
    public func value(_ key: String) -> ConfigValue? {
        used.insert(key)
        guard let pair = pairs.first(where: { $0.key == key }) else { return nil }
        return ConfigValue(node: pair.value, path: childPath(key), context: context)
    }

    /// The value under `key`; records "required key is missing" when absent.
    public func required(_ key: String) -> ConfigValue? {
        guard let value = value(key) else {
            context.error(at: mark, path: childPath(key), "required key is missing")
            return nil
        }
        return value
    }

    public func contains(_ key: String) -> Bool { pairs.contains { $0.key == key } }

    public func error(_ message: String) {
        context.error(at: mark, path: path, message)
    }

    /// Reports every key that was never read, naming the closest known key when one is near.
    public func finish() {
        for pair in pairs where !used.contains(pair.key) {
            var message = "unknown key"
            if let suggestion = used.min(by: { editDistance($0, pair.key) < editDistance($1, pair.key) }),
               editDistance(suggestion, pair.key) <= 2 {
                message += " (did you mean \"\(suggestion)\"?)"
            }
            context.error(at: pair.keyMark, path: childPath(pair.key), message)
        }
    }
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}

extension DecodeContext {
    /// A redactor over the secrets resolved so far, for messages that quote config values.
    public var redactor: Redactor { Redactor(secrets: secrets) }
}

/// Parses YAML text into a node tree, turning syntax errors into located `ConfigError`s.
public enum YAMLLoader {
    public static func compose(_ text: String, file: String) throws(ConfigErrors) -> YAMLNode? {
        do {
            return try YAMLComposer.compose(text)
        } catch {
            let message = error.isSyntax ? "invalid YAML: \(error.message)" : error.message
            throw ConfigErrors([ConfigError(file: file, line: error.mark?.line ?? 1, column: error.mark?.column ?? 1, path: "", message: message)])
        }
    }
}
