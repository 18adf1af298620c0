import TestSupport

/// Fragments that stress YAML, the key-path walker, durations, URLs and secret references.
enum Fragments {
    static let tokens: [String] = [
        ":", ": ", "- ", "-", "{", "}", "[", "]", ",", "'", "\"", "#", "&a", "*a", "!!str ", "!!binary ", "|", ">",
        "? ", "%YAML 1.2\n", "---\n", "...\n", "\n", "\t", "  ", "\\", "\u{0}", "\u{FEFF}", "é", "🔥", "\r\n",
        "${", "}", "$${", "${env:", "${file:", "${env:}", "${bogus:x}", "${token}", "${env:MITRA_FUZZ_SECRET}",
        "${file:/nonexistent/secret}", "${env:MITRA_FUZZ_SECRET", "0", "-1", "1e400", "0x10", ".nan", "~", "null",
        "true", "yes", "15s", "0s", "-5s", "1h1m1s1ms", "99999999999999999999h", "2s500ms", "http://", "https://[::1]:99999/",
        "postgresql://u:${env:MITRA_FUZZ_SECRET}@127.0.0.1:1/db", "interval", "timeout", "name", "url", "checks",
        "scenarios", "postgres", "steps", "expect", "status", "labels", "queries", "collectors", "dsn",
        String(repeating: "a", count: 300), String(repeating: "[", count: 60), String(repeating: "{a: ", count: 40),
    ]
}

extension String {
    /// A random edit: the mutations a fuzzer would make, kept on character boundaries.
    func mutated(using random: inout SeededRandom) -> String {
        var characters = Array(self)
        let edits = Int.random(in: 1...4, using: &random)
        for _ in 0..<edits {
            let position = characters.isEmpty ? 0 : Int.random(in: 0...characters.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0 where !characters.isEmpty && position < characters.count:
                let length = Int.random(in: 1...min(20, characters.count - position), using: &random)
                characters.removeSubrange(position..<position + length)
            case 1:
                characters.insert(contentsOf: random.pick(Fragments.tokens), at: position)
            case 2 where !characters.isEmpty && position < characters.count:
                characters[position] = Character(Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &random)))
            case 3:
                // Duplicate a slice: repeated keys and list items.
                let lines = String(characters).split(separator: "\n", omittingEmptySubsequences: false)
                guard lines.count > 1 else { continue }
                var copy = lines.map(String.init)
                let line = Int.random(in: 0..<copy.count, using: &random)
                copy.insert(copy[line], at: Int.random(in: 0...copy.count, using: &random))
                characters = Array(copy.joined(separator: "\n"))
            case 4:
                // Re-indent a line: YAML structure changes.
                let lines = String(characters).split(separator: "\n", omittingEmptySubsequences: false)
                guard !lines.isEmpty else { continue }
                var copy = lines.map(String.init)
                let line = Int.random(in: 0..<copy.count, using: &random)
                if random.chance(50) { copy[line] = "  " + copy[line] } else { copy[line] = String(copy[line].drop(while: { $0 == " " })) }
                characters = Array(copy.joined(separator: "\n"))
            default:
                characters.insert(Character(Unicode.Scalar(UInt8.random(in: 0...0x7F, using: &random))), at: position)
            }
        }
        return String(characters)
    }
}
