#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

extension ConfigValue {
    /// One value or a list of them.
    func oneOrMany() -> [ConfigValue]? {
        if case .sequence = node { return list() }
        return [self]
    }

    /// A regular expression, compiled here once for the model to hold.
    func regex() -> ConfigRegex? {
        guard let pattern = string() else { return nil }
        do {
            return try ConfigRegex(pattern)
        } catch {
            self.error("\"\(pattern)\" is not a valid regular expression")
            return nil
        }
    }

    /// A scalar's text as written (numbers, booleans and strings alike).
    func scalarText() -> String? {
        guard case .scalar(let scalar) = node else {
            error("expected a scalar value, got \(kindDescription)")
            return nil
        }
        if scalar.style == .plain {
            // Composed nodes carry an unresolved tag; resolve it as the YAML core schema would.
            switch scalar.resolvedTag {
            case .null: return "null"
            case .bool: if let flag = bool() { return flag ? "true" : "false" }
            default: break
            }
        }
        return string()
    }

    /// A path to a file that exists and can be read now (it is read again on each use).
    func readableFile() -> String? {
        guard let path = nonEmptyString() else { return nil }
        if !FileManager.default.isReadableFile(atPath: path) {
            error("file \(path) does not exist or cannot be read")
            return nil
        }
        return path
    }

    /// A byte count: `1048576`, `512KiB`, `1MiB`, `2MB`.
    func byteSize(in range: ClosedRange<Int>) -> Int? {
        guard case .scalar(let scalar) = node else {
            error("expected a size such as 1MiB, got \(kindDescription)")
            return nil
        }
        let text = scalar.string.trimmingSpaces()
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1)]
        var number = text
        var multiplier = 1
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            number = String(text.dropLast(suffix.count)).trimmingSpaces()
            multiplier = factor
            break
        }
        guard let count = Int(number), count >= 0 else {
            error("\"\(text)\" is not a size (use e.g. 65536, 512KiB, 1MiB)")
            return nil
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: multiplier)
        guard !overflow, range.contains(bytes) else {
            error("\(text) is out of range \(range.lowerBound)...\(range.upperBound) bytes")
            return nil
        }
        return bytes
    }

    /// The YAML value as JSON text, with `${env:..}`/`${file:..}` expanded in strings.
    func jsonText() -> String? {
        var failed = false
        let text = jsonFragment(&failed)
        return failed ? nil : text
    }

    private func jsonFragment(_ failed: inout Bool) -> String {
        switch node {
        case .mapping:
            guard let object = object() else { failed = true; return "" }
            var members: [String] = []
            for key in object.keys {
                guard let value = object.value(key) else { continue }
                members.append(JSONText.quote(key) + ":" + value.jsonFragment(&failed))
            }
            object.finish()
            return "{" + members.joined(separator: ",") + "}"
        case .sequence:
            guard let items = list() else { failed = true; return "" }
            return "[" + items.map { $0.jsonFragment(&failed) }.joined(separator: ",") + "]"
        case .scalar(let scalar):
            if scalar.style == .plain {
                switch scalar.resolvedTag {
                case .null: return "null"
                case .bool: return bool() == true ? "true" : "false"
                case .int:
                    if let number = Int(scalar.string) { return String(number) }
                case .float:
                    if let number = Double(scalar.string), number.isFinite, !scalar.string.hasPrefix(".") { return String(number) }
                default: break
                }
            }
            guard let text = string() else { failed = true; return "" }
            return JSONText.quote(text)
        }
    }
}
