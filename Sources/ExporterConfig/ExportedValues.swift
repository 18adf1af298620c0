import Foundation
import Yams

/// Values that leave the process in the clear: label values, names that become the
/// `check`, `scenario`, `step`, `instance_name` or `collector` labels, metric help texts and
/// anything logged as a field. A `${env:…}` or `${file:…}` reference there would export a
/// secret verbatim on every series, so it is a configuration error rather than something
/// the redactor is trusted to catch downstream (Prometheus stores label values unredacted).
extension ConfigValue {
    /// A string that is exported as written; secret references are refused at their line and column.
    public func exportedString() -> String? {
        if case .scalar(let scalar) = node, let reference = ConfigValue.secretReference(in: scalar.string) {
            error("\(reference) is not allowed here: this value is exported in series labels and logs, so it must not hold a secret")
            return nil
        }
        return string()
    }

    /// An exported string that must not be empty.
    public func exportedNonEmptyString() -> String? {
        guard let value = exportedString() else { return nil }
        if value.isEmpty {
            error("must not be empty")
            return nil
        }
        return value
    }

    /// The first `${env:…}` / `${file:…}` reference, as written, skipping `$${` escapes.
    static func secretReference(in text: String) -> String? {
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            let escaped = rest[..<start.lowerBound].hasSuffix("$")
            let reference = rest[start.upperBound...]
            if !escaped, reference.hasPrefix("env:") || reference.hasPrefix("file:") {
                let scheme = reference.hasPrefix("env:") ? "env" : "file"
                return "the secret reference ${\(scheme):…}"
            }
            rest = reference
        }
        return nil
    }
}
