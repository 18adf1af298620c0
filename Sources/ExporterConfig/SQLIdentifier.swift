import Foundation

/// A possibly schema-qualified PostgreSQL identifier from the config (`key.table`,
/// `key.column`), quoted for splicing into SQL. Identifiers cannot be bound as parameters,
/// so they are parsed and every part is double-quoted: the text can then only ever name an
/// object, never add SQL of its own.
public struct SQLIdentifier: Sendable, Hashable {
    /// Each part as PostgreSQL resolves it: unquoted parts folded to lower case, quoted parts
    /// taken literally.
    public let parts: [String]

    /// `lic_schema.auth_events`, `"Audit"."Events"`, `event_id`; nil for anything else
    /// (empty parts, unbalanced quotes, characters outside an identifier).
    public init?(parsing text: String, maxParts: Int = 2) {
        var parts: [String] = []
        var characters = Array(text)[...]
        while true {
            var part = ""
            if characters.first == "\"" {
                characters = characters.dropFirst()
                var closed = false
                while let character = characters.first {
                    characters = characters.dropFirst()
                    if character == "\"" {
                        if characters.first == "\"" {
                            part.append("\"")
                            characters = characters.dropFirst()
                        } else {
                            closed = true
                            break
                        }
                    } else {
                        part.append(character)
                    }
                }
                guard closed, !part.isEmpty, !part.contains("\0") else { return nil }
            } else {
                while let character = characters.first, character != "." {
                    guard character == "_" || character == "$" || character.isLetter || character.isNumber,
                          !(part.isEmpty && (character.isNumber || character == "$")) else { return nil }
                    part.append(character)
                    characters = characters.dropFirst()
                }
                guard !part.isEmpty else { return nil }
                part = part.lowercased()
            }
            parts.append(part)
            guard let next = characters.first else { break }
            guard next == ".", parts.count < maxParts else { return nil }
            characters = characters.dropFirst()
        }
        self.parts = parts
    }

    /// `"lic_schema"."auth_events"`.
    public var quoted: String {
        parts.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: ".")
    }
}

extension ConfigValue {
    /// An identifier spliced into SQL; anything that does not parse as one is an error here,
    /// at its line and column, instead of a syntax error (or worse) on the server.
    func identifier(maxParts: Int, _ expected: String) -> String? {
        guard let text = exportedNonEmptyString() else { return nil }
        guard SQLIdentifier(parsing: text, maxParts: maxParts) != nil else {
            error("\"\(text)\" is not \(expected); use double quotes for names with other characters")
            return nil
        }
        return text
    }
}
