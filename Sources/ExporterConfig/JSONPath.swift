/// A path into a JSON document: `$`, `$.key`, `$.a.b[0]`, `$[0].status`, `$['odd key']`.
public struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public var components: [Component]
    public var description: String

    public static func parse(_ text: String) -> JSONPath? {
        var rest = Substring(text.trimmingSpaces())
        guard rest.first == "$" else { return nil }
        rest = rest.dropFirst()
        var components: [Component] = []
        while let first = rest.first {
            if first == "." {
                rest = rest.dropFirst()
                let key = rest.prefix { $0 != "." && $0 != "[" }
                guard !key.isEmpty else { return nil }
                components.append(.key(String(key)))
                rest = rest.dropFirst(key.count)
            } else if first == "[" {
                rest = rest.dropFirst()
                if let quote = rest.first, quote == "'" || quote == "\"" {
                    rest = rest.dropFirst()
                    guard let end = rest.firstIndex(of: quote) else { return nil }
                    components.append(.key(String(rest[..<end])))
                    rest = rest[rest.index(after: end)...]
                    guard rest.first == "]" else { return nil }
                    rest = rest.dropFirst()
                } else {
                    guard let end = rest.firstIndex(of: "]"), let index = Int(rest[..<end]) else { return nil }
                    components.append(.index(index))
                    rest = rest[rest.index(after: end)...]
                }
            } else {
                return nil
            }
        }
        return JSONPath(components: components, description: text)
    }

    /// The value at this path, or nil when absent. Negative indexes count from the end.
    public func evaluate(_ root: JSONValue) -> JSONValue? {
        var current = root
        for component in components {
            switch component {
            case .key(let key):
                guard case .object(let object) = current, let next = object[key] else { return nil }
                current = next
            case .index(let index):
                guard case .array(let array) = current else { return nil }
                let position = index < 0 ? array.count + index : index
                guard array.indices.contains(position) else { return nil }
                current = array[position]
            }
        }
        return current
    }

    /// A JSON scalar as text, for comparisons and extracted variables: strings as they are,
    /// integral numbers without a fraction, `true`/`false`, `null`; containers as compact JSON.
    public static func text(of value: JSONValue) -> String {
        switch value {
        case .string(let string):
            return string
        case .number(let double):
            if double.rounded() == double, abs(double) < 1e15 { return String(Int64(double)) }
            return String(double)
        default:
            return value.compactText
        }
    }
}
