extension StringProtocol {
    /// The text without leading and trailing spaces and tabs (Unicode spaces too, not line
    /// breaks), as Foundation's `trimmingCharacters(in: .whitespaces)`.
    public func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0.isWhitespace && !$0.isNewline }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}

/// Prometheus-style durations: `1h30m`, `15s`, `250ms`, `2d`. Units: ms, s, m, h, d, w, y.
public enum DurationParser {
    public static func parse(_ text: String) -> Duration? {
        guard !text.isEmpty else { return nil }
        var totalMilliseconds: Int64 = 0
        var rest = Substring(text)
        // Units must appear largest first and at most once, as in Prometheus. "ms" is
        // listed before "m" so the longer unit matches first.
        let units: [(name: String, milliseconds: Int64, rank: Int)] = [
            ("y", 365 * 86_400_000, 0), ("w", 7 * 86_400_000, 1), ("d", 86_400_000, 2),
            ("h", 3_600_000, 3), ("ms", 1, 6), ("m", 60_000, 4), ("s", 1_000, 5),
        ]
        var lastRank = -1
        while !rest.isEmpty {
            let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
            guard !digits.isEmpty, let amount = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let unitIndex = units.firstIndex(where: { rest.hasPrefix($0.name) }) else { return nil }
            guard units[unitIndex].rank > lastRank else { return nil }
            lastRank = units[unitIndex].rank
            let (product, overflow) = amount.multipliedReportingOverflow(by: units[unitIndex].milliseconds)
            guard !overflow else { return nil }
            let (sum, sumOverflow) = totalMilliseconds.addingReportingOverflow(product)
            guard !sumOverflow else { return nil }
            totalMilliseconds = sum
            rest = rest.dropFirst(units[unitIndex].name.count)
        }
        return .milliseconds(totalMilliseconds)
    }

    /// `seconds` with `digits` decimals and an "s", as printf's `%.3fs` would write it.
    public static func formatSeconds(_ seconds: Double, digits: Int) -> String {
        fixed(seconds, digits: digits) + "s"
    }

    /// `value` with `digits` decimals, as printf's `%.2f` would write it (locale-independent,
    /// without Foundation's `String(format:)`, which is not in FoundationEssentials).
    public static func fixed(_ value: Double, digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard value.isFinite, scaled < 9e18 else { return "\(value)" }
        let units = Int64(scaled), factor = Int64(scale)
        let sign = value < 0 && units != 0 ? "-" : ""
        var fraction = String(units % factor)
        fraction = String(repeating: "0", count: max(0, digits - fraction.count)) + fraction
        return sign + String(units / factor) + (digits > 0 ? "." + fraction : "")
    }

    /// The shortest Prometheus-style spelling, for summaries and the status page.
    public static func format(_ duration: Duration) -> String {
        var ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if ms == 0 { return "0s" }
        var out = ""
        for (unit, size) in [("h", Int64(3_600_000)), ("m", 60_000), ("s", 1000), ("ms", 1)] where ms >= size {
            out += "\(ms / size)\(unit)"
            ms %= size
        }
        return out
    }
}

