import CPCRE2

/// A regular expression (PCRE2 syntax, Unicode-aware) whose searches stop at a deadline.
///
/// Patterns come from the config and run against response bodies of any size, so a pattern
/// that backtracks catastrophically (`(a+)+$` on a megabyte) must not hold a thread for
/// minutes. PCRE2 calls back before every pattern item and the search is abandoned once the
/// deadline has passed. Swift's `Regex` cannot be interrupted, and Foundation's
/// `NSRegularExpression` links ICU and its data into the binary.
public final class BoundedRegex: @unchecked Sendable {
    // @unchecked: PCRE2's compiled code is immutable and documented as shareable between
    // threads; every search gets its own match data.
    private let code: OpaquePointer
    public let pattern: String
    /// Capture groups in the pattern, not counting the whole match.
    public let captureCount: Int

    public struct CompileError: Error, Sendable {
        public let message: String
        /// Byte offset of the problem in the pattern.
        public let offset: Int
    }

    /// The search did not finish before its deadline.
    public struct TimedOut: Error, Sendable {}

    /// A match: the whole match at 0, then each capture group (nil when it did not take part).
    public struct Match: Sendable {
        public let groups: [String?]
        /// Byte range of the whole match in the UTF-8 text.
        let range: Range<Int>
    }

    public init(_ pattern: String, caseInsensitive: Bool = false) throws(CompileError) {
        let messageSize = 256
        var message = [CChar](repeating: 0, count: messageSize)
        var offset = 0
        var source = pattern
        let compiled = source.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                mitra_regex_compile(chars.baseAddress, chars.count, caseInsensitive ? 1 : 0, &message, messageSize, &offset)
            }
        }
        guard let compiled else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw CompileError(message: text, offset: offset)
        }
        code = compiled
        self.pattern = pattern
        captureCount = Int(mitra_regex_capture_count(compiled))
    }

    deinit { mitra_regex_free(code) }

    /// The first match in `text`, searched until `deadline`.
    public func firstMatch(in text: String, deadline: ContinuousClock.Instant) throws(TimedOut) -> Match? {
        var text = text
        let budget = deadline - .now
        let nanoseconds = budget <= .zero ? 0 : Self.nanoseconds(budget)
        switch text.withUTF8({ search($0, from: 0, budget: nanoseconds) }) {
        case .found(let match): return match
        case .none: return nil
        case .timedOut: throw TimedOut()
        }
    }

    /// `text` with every match replaced, for the exporter's own linear patterns (no deadline).
    public func replacingMatches(in text: String, with replacement: (Match) -> String) -> String {
        var text = text
        return text.withUTF8 { bytes in
            var output: [UInt8] = []
            output.reserveCapacity(bytes.count)
            var position = 0
            var copied = 0
            while position <= bytes.count, case .found(let match) = search(bytes, from: position, budget: .max) {
                output.append(contentsOf: bytes[copied..<match.range.lowerBound])
                output.append(contentsOf: replacement(match).utf8)
                copied = match.range.upperBound
                if match.range.isEmpty {
                    // Step over one character so an empty match cannot repeat forever.
                    guard match.range.upperBound < bytes.count else { break }
                    var next = match.range.upperBound + 1
                    while next < bytes.count, bytes[next] & 0xC0 == 0x80 { next += 1 }
                    position = next
                } else {
                    position = match.range.upperBound
                }
            }
            output.append(contentsOf: bytes[copied...])
            return String(decoding: output, as: UTF8.self)
        }
    }

    /// `literal` with every character that has a meaning in a pattern escaped.
    public static func escaped(_ literal: String) -> String {
        var result = ""
        for scalar in literal.unicodeScalars {
            if scalar.isASCII, !(scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_") {
                result += "\\"
            }
            result.unicodeScalars.append(scalar)
        }
        return result
    }

    private enum Outcome { case found(Match), none, timedOut }

    private func search(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, budget: Int64) -> Outcome {
        let pairs = captureCount + 1
        var ovector = [Int](repeating: 0, count: 2 * pairs)
        let result: Int32
        if let base = bytes.baseAddress {
            result = base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                mitra_regex_match(code, $0, bytes.count, start, budget, &ovector, UInt32(pairs))
            }
        } else {
            // An empty buffer may have no address; PCRE2 needs one.
            var empty: CChar = 0
            result = mitra_regex_match(code, &empty, 0, start, budget, &ovector, UInt32(pairs))
        }
        switch result {
        case 1:
            let unset = Int(bitPattern: UInt(bitPattern: -1))
            var groups: [String?] = []
            for group in 0..<pairs {
                let lower = ovector[2 * group], upper = ovector[2 * group + 1]
                groups.append(lower == unset ? nil : String(decoding: bytes[lower..<upper], as: UTF8.self))
            }
            return .found(Match(groups: groups, range: ovector[0]..<ovector[1]))
        case -1: return .timedOut
        default: return .none // no match, or an error PCRE2 reports for this subject
        }
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        if seconds >= Int64.max / 1_000_000_000 { return .max }
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
