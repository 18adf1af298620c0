/// Prometheus-style durations: `1h30m`, `15s`, `250ms`, `2d`. Units: ms, s, m, h, d, w, y.
public enum DurationParser {
    public static func parse(_ text: String) -> Duration? {
        guard !text.isEmpty else { return nil }
        var totalMilliseconds: Int64 = 0
        var rest = Substring(text)
        // Units must appear largest first and at most once, as in Prometheus.
        let units: [(String, Int64)] = [
            ("y", 365 * 86_400_000), ("w", 7 * 86_400_000), ("d", 86_400_000),
            ("h", 3_600_000), ("ms", 1), ("m", 60_000), ("s", 1_000),
        ]
        var lastUnitIndex = -1
        while !rest.isEmpty {
            let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
            guard !digits.isEmpty, let amount = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let unitIndex = units.firstIndex(where: { rest.hasPrefix($0.0) }) else { return nil }
            // "ms" must be matched before "m" but ranks after "m" and "s" in size order.
            let rank = units[unitIndex].0 == "ms" ? 6 : (units[unitIndex].0 == "s" ? 5 : unitIndex)
            guard rank > lastUnitIndex else { return nil }
            lastUnitIndex = rank
            let (product, overflow) = amount.multipliedReportingOverflow(by: units[unitIndex].1)
            guard !overflow else { return nil }
            totalMilliseconds += product
            rest = rest.dropFirst(units[unitIndex].0.count)
        }
        return .milliseconds(totalMilliseconds)
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

