/// Renders metric families in the Prometheus text format 0.0.4 or OpenMetrics 1.0.0.
/// This is the only rendering path of the exporter.

public enum ExpositionFormat: Sendable, Hashable, CaseIterable {
    case prometheusText
    case openMetrics

    public var contentType: String {
        switch self {
        case .prometheusText: "text/plain; version=0.0.4; charset=utf-8"
        case .openMetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8"
        }
    }

    /// Chooses the format from an HTTP `Accept` header: OpenMetrics when the client ranks it
    /// at least as high as the text format, as Prometheus does when it supports both.
    public static func negotiate(accept: String?) -> ExpositionFormat {
        guard let accept, !accept.isEmpty else { return .prometheusText }
        var openMetricsQuality = -1.0
        var textQuality = -1.0
        for entry in accept.split(separator: ",") {
            let parts = entry.split(separator: ";").map { $0.trimmingSpaces() }
            guard let mediaType = parts.first?.lowercased() else { continue }
            var quality = 1.0
            var version: String?
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces() }
                guard pair.count == 2 else { continue }
                if pair[0] == "q", let q = Double(pair[1]) { quality = q }
                if pair[0] == "version" { version = pair[1] }
            }
            switch mediaType {
            case "application/openmetrics-text":
                if version == nil || version == "1.0.0" { openMetricsQuality = max(openMetricsQuality, quality) }
            case "text/plain", "*/*", "text/*":
                textQuality = max(textQuality, quality)
            default:
                continue
            }
        }
        return openMetricsQuality > 0 && openMetricsQuality >= textQuality ? .openMetrics : .prometheusText
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> String {
        var slice = self[...]
        while slice.first == " " || slice.first == "\t" { slice = slice.dropFirst() }
        while slice.last == " " || slice.last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}

public enum Renderer {
    /// Groups families that share a name (e.g. `probe_success` from many checks) into one
    /// block, keeping first-seen order, so HELP/TYPE appear exactly once per name.
    public static func merge(_ families: [MetricFamily]) -> [MetricFamily] {
        var order: [String] = []
        var byName: [String: MetricFamily] = [:]
        for family in families {
            if var existing = byName[family.name] {
                existing.series.append(contentsOf: family.series)
                byName[family.name] = existing
            } else {
                order.append(family.name)
                byName[family.name] = family
            }
        }
        return order.compactMap { byName[$0] }
    }

    /// Renders already-merged families. OpenMetrics output does not include `# EOF`: the
    /// caller appends `eofMarker` once after the last block.
    public static func render(_ families: [MetricFamily], format: ExpositionFormat, into output: inout String) {
        for family in families where !family.series.isEmpty {
            writeHeader(name: family.name, help: family.help, type: family.type, format: format, into: &output)
            writeSamples(family, into: &output)
        }
    }

    public static func render(_ families: [MetricFamily], format: ExpositionFormat) -> String {
        var output = ""
        render(merge(families), format: format, into: &output)
        if format == .openMetrics { output += eofMarker }
        return output
    }

    public static let eofMarker = "# EOF\n"

    /// The HELP and TYPE lines of a family. Only these differ between the two formats: the
    /// sample lines are the same, which lets samplers' output be rendered once, at publish
    /// time, and reused by every scrape in either format.
    public static func writeHeader(name: String, help: String, type: MetricType, format: ExpositionFormat, into output: inout String) {
        switch format {
        case .prometheusText:
            output += "# HELP \(name) \(escapeHelp(help))\n"
            output += "# TYPE \(name) \(type.rawValue)\n"
        case .openMetrics:
            var familyName = name
            var typeName = type.rawValue
            if type == .counter, familyName.hasSuffix("_total") {
                familyName.removeLast(6)
            } else if type == .counter || type == .untyped {
                // OpenMetrics counter samples must end in `_total`. Counters named without it
                // (postgres_exporter's, kept for its dashboards) are declared `unknown` so their
                // names stay the same in both formats and in Prometheus' storage.
                typeName = "unknown"
            }
            output += "# TYPE \(familyName) \(typeName)\n"
            output += "# HELP \(familyName) \(escapeHelp(help))\n"
        }
    }

    /// The sample lines of a family, identical in both formats.
    public static func writeSamples(_ family: MetricFamily, into output: inout String) {
        var lines = LineBuffer()
        writeSamples(family, into: &lines)
        output += lines.string()
    }

    /// The sample lines of a family as UTF-8, appended to `output`.
    public static func writeSamples(_ family: MetricFamily, into output: inout LineBuffer) {
        let name = family.name
        // The series of a histogram family share their bounds: each bound is formatted once.
        var boundTexts: [Double: String] = [:]
        for series in family.series {
            switch series.value {
            case .number(let value):
                writeSample(name, suffix: nil, series.labels, nil, value, into: &output)
            case .histogram(let histogram):
                for bucket in histogram.buckets where bucket.upperBound.isFinite {
                    let bound = boundTexts[bucket.upperBound] ?? {
                        let text = formatLabelFloat(bucket.upperBound)
                        boundTexts[bucket.upperBound] = text
                        return text
                    }()
                    writeSample(name, suffix: "_bucket", series.labels, Label("le", bound), Double(bucket.count), into: &output)
                }
                writeSample(name, suffix: "_bucket", series.labels, Label("le", "+Inf"), Double(histogram.count), into: &output)
                writeSample(name, suffix: "_sum", series.labels, nil, histogram.sum, into: &output)
                writeSample(name, suffix: "_count", series.labels, nil, Double(histogram.count), into: &output)
            }
        }
    }

    private static func writeSample(_ name: String, suffix: StaticString?, _ labels: [Label], _ extra: Label?, _ value: Double,
                                    into output: inout LineBuffer) {
        output.append(name)
        if let suffix { output.append(suffix) }
        if !labels.isEmpty || extra != nil {
            output.append(UInt8(ascii: "{"))
            var first = true
            for label in labels {
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                writeLabel(label, into: &output)
            }
            if let extra {
                if !first { output.append(UInt8(ascii: ",")) }
                writeLabel(extra, into: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
        output.append(UInt8(ascii: " "))
        output.appendNumber(value)
        output.append(UInt8(ascii: "\n"))
    }

    private static func writeLabel(_ label: Label, into output: inout LineBuffer) {
        output.append(label.name)
        output.append("=\"" as StaticString)
        output.appendEscaped(label.value)
        output.append(UInt8(ascii: "\""))
    }

    /// Integral values print without a fraction (as Go's `strconv.FormatFloat(v, 'g', -1, 64)`
    /// does for them), so golden files stay readable.
    public static func formatNumber(_ value: Double) -> String {
        if let integer = integral(value) { return String(integer) }
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        return "\(value)"
    }

    /// `value` as an integer when `formatNumber` prints it as one (integral and below 1e15 in
    /// magnitude), else nil; `LineBuffer.appendNumber` writes those digit by digit.
    static func integral(_ value: Double) -> Int64? {
        value == value.rounded() && value.magnitude < 1e15 ? Int64(value) : nil
    }

    /// A float label value (`le` of a histogram bucket, `quantile` of a summary) in the form
    /// Prometheus 3 stores: it rewrites these labels at ingestion with Go's shortest `%g`
    /// plus ".0" when neither a "." nor an exponent is present (`1` is stored as `1.0`,
    /// `1e6` as `1e+06`). Exposing that form means a selector such as `le="1.0"` matches on
    /// Prometheus 2 and 3 alike.
    public static func formatLabelFloat(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == 0 { return "0.0" }
        let (negative, digits, pointPosition) = shortestDecimal(value)
        // Go's 'g' with the shortest precision uses the exponent form when the decimal
        // exponent is below -4 or at least 6.
        let exponent = pointPosition - 1
        var text = negative ? "-" : ""
        if exponent < -4 || exponent >= 6 {
            text += String(digits.first!)
            if digits.count > 1 { text += "." + digits.dropFirst() }
            text += exponent < 0 ? "e-" : "e+"
            let magnitude = String(abs(exponent))
            text += magnitude.count < 2 ? "0" + magnitude : magnitude
            return text
        }
        if pointPosition <= 0 {
            text += "0." + String(repeating: "0", count: -pointPosition) + digits
        } else if pointPosition >= digits.count {
            text += digits + String(repeating: "0", count: pointPosition - digits.count) + ".0"
        } else {
            text += digits.prefix(pointPosition) + "." + digits.dropFirst(pointPosition)
        }
        return text
    }

    /// The shortest digits that round-trip `value` (as Swift's `description` prints them,
    /// without leading or trailing zeros) and where the decimal point goes:
    /// `value = 0.d1d2… × 10^pointPosition`.
    private static func shortestDecimal(_ value: Double) -> (negative: Bool, digits: String, pointPosition: Int) {
        var text = Substring(abs(value).description)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = text[..<e]
        }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let integer = parts[0]
        let fraction = parts.count > 1 ? parts[1] : ""
        var digits = Substring(integer + fraction)
        var pointPosition = integer.count + exponent
        while digits.first == "0" {
            digits = digits.dropFirst()
            pointPosition -= 1
        }
        while digits.last == "0" { digits = digits.dropLast() }
        return (value < 0, String(digits), pointPosition)
    }

    // Walks Unicode scalars: as Characters, "\r\n" is one grapheme that never equals "\n",
    // and a raw line break would split the exposition line.
    private static func escapeHelp(_ help: String) -> String {
        guard help.unicodeScalars.contains(where: { $0 == "\\" || $0 == "\n" }) else { return help }
        var out = ""
        for scalar in help.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
