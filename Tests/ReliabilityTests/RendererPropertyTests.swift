import Exposition
import Foundation
import Testing
import TestSupport

/// Random families with hostile label values and help texts: the text format output must
/// stay line-structured, and label values and numbers must read back exactly.
@Suite struct RendererPropertyTests {
    // "\r" is left out here: "\r\n" forms one Character, covered by its own test below.
    static let valueAlphabet: [String] = ["a", "Z", "0", " ", "\"", "\\", "\n", "\\n", "{", "}", ",", "=", "é", "🔥", "\t", "#", "\u{0}", "\u{2028}"]

    static func randomString(_ random: inout SeededRandom, maxLength: Int) -> String {
        (0..<Int.random(in: 0...maxLength, using: &random)).map { _ in random.pick(valueAlphabet) }.joined()
    }

    static func randomName(_ random: inout SeededRandom) -> String {
        let first = Array("abcxyz_:ABC"), rest = Array("abcxyz_:ABC0123456789")
        return String(random.pick(first)) + String((0..<Int.random(in: 0...12, using: &random)).map { _ in random.pick(rest) })
    }

    static func randomNumber(_ random: inout SeededRandom) -> Double {
        switch Int.random(in: 0..<8, using: &random) {
        case 0: return .nan
        case 1: return random.chance(50) ? .infinity : -.infinity
        case 2: return Double(Int64.random(in: -1_000_000...1_000_000, using: &random))
        case 3: return -0.0
        case 4: return Double.random(in: -1e300...1e300, using: &random)
        case 5: return Double.random(in: -1e-300...1e-300, using: &random)
        case 6: return random.pick([1e15, 1e15 - 1, 9_007_199_254_740_993, .leastNonzeroMagnitude, .greatestFiniteMagnitude])
        default: return Double.random(in: 0...1000, using: &random)
        }
    }

    struct ParsedSample: Equatable {
        var name: String
        var labels: [Label]
        var value: String
    }

    /// A strict reader for one text-format sample line; nil when the line is malformed.
    static func parseSample(_ line: Substring) -> ParsedSample? {
        var index = line.startIndex
        let nameEnd = line.firstIndex(where: { $0 == "{" || $0 == " " }) ?? line.endIndex
        let name = String(line[index..<nameEnd])
        guard !name.isEmpty else { return nil }
        index = nameEnd
        var labels: [Label] = []
        if index < line.endIndex, line[index] == "{" {
            index = line.index(after: index)
            while index < line.endIndex, line[index] != "}" {
                guard let equals = line[index...].firstIndex(of: "=") else { return nil }
                let labelName = String(line[index..<equals])
                index = line.index(after: equals)
                guard index < line.endIndex, line[index] == "\"" else { return nil }
                index = line.index(after: index)
                var value = ""
                var closed = false
                while index < line.endIndex {
                    let character = line[index]
                    index = line.index(after: index)
                    if character == "\"" { closed = true; break }
                    if character == "\\" {
                        guard index < line.endIndex else { return nil }
                        switch line[index] {
                        case "\\": value.append("\\")
                        case "n": value.append("\n")
                        case "\"": value.append("\"")
                        default: return nil
                        }
                        index = line.index(after: index)
                    } else {
                        value.append(character)
                    }
                }
                guard closed else { return nil }
                labels.append(Label(labelName, value))
                if index < line.endIndex, line[index] == "," { index = line.index(after: index) }
            }
            guard index < line.endIndex else { return nil }
            index = line.index(after: index)
        }
        guard index < line.endIndex, line[index] == " " else { return nil }
        return ParsedSample(name: name, labels: labels, value: String(line[line.index(after: index)...]))
    }

    static func sameNumber(_ text: String, _ value: Double) -> Bool {
        switch text {
        case "NaN": return value.isNaN
        case "+Inf": return value == .infinity
        case "-Inf": return value == -.infinity
        default: return Double(text) == value
        }
    }

    @Test func randomFamiliesRenderParseableText() {
        var random = SeededRandom(seed: 0x7E47)
        for iteration in 0..<400 {
            var families: [MetricFamily] = []
            var expected: [(name: String, labels: [Label], value: Double)] = []
            var histogramLines = 0
            for familyIndex in 0..<Int.random(in: 0...6, using: &random) {
                let name = "f\(familyIndex)_" + Self.randomName(&random)
                let help = Self.randomString(&random, maxLength: 20)
                if random.chance(20) {
                    let bounds = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10]
                    var series: [Series] = []
                    for _ in 0..<Int.random(in: 1...3, using: &random) {
                        var histogram = HistogramValue(upperBounds: bounds)
                        for _ in 0..<Int.random(in: 0...20, using: &random) { histogram.observe(Double.random(in: 0...12, using: &random)) }
                        series.append(Series(labels: [Label("l", Self.randomString(&random, maxLength: 6))], value: .histogram(histogram)))
                        histogramLines += bounds.count + 3
                    }
                    families.append(MetricFamily(name: name, help: help, type: .histogram, series: series))
                    continue
                }
                var series: [Series] = []
                for _ in 0..<Int.random(in: 1...5, using: &random) {
                    let labels = (0..<Int.random(in: 0...4, using: &random)).map { index in
                        Label("l\(index)_" + Self.randomName(&random), Self.randomString(&random, maxLength: 12))
                    }
                    let value = Self.randomNumber(&random)
                    series.append(Series(labels, value))
                    expected.append((name, labels, value))
                }
                families.append(random.chance(50) ? .gauge(name, help, series) : .counter(name, help, series))
            }

            let text = Renderer.render(families, format: .prometheusText)
            if !text.isEmpty { #expect(text.hasSuffix("\n"), "seed \(iteration)") }
            var samples: [ParsedSample] = []
            var helpLines = 0, typeLines = 0, histogramSamples = 0
            // Split on the byte, as Prometheus does: a "\r\n" grapheme must not hide a raw newline.
            let lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            for line in lines.dropLast().map({ Substring(String(decoding: $0, as: UTF8.self)) }) {
                if line.hasPrefix("# HELP ") { helpLines += 1; continue }
                if line.hasPrefix("# TYPE ") { typeLines += 1; continue }
                guard let sample = Self.parseSample(line) else {
                    Issue.record("seed \(iteration): malformed line \(line.debugDescription)")
                    continue
                }
                if families.contains(where: { $0.type == .histogram && sample.name.hasPrefix($0.name + "_") }) {
                    histogramSamples += 1
                } else {
                    samples.append(sample)
                }
            }
            #expect(helpLines == families.count && typeLines == families.count, "seed \(iteration): \(text.debugDescription)")
            #expect(histogramSamples == histogramLines, "seed \(iteration)")
            #expect(samples.count == expected.count, "seed \(iteration)")
            for (sample, want) in zip(samples, expected) {
                #expect(sample.name == want.name && sample.labels == want.labels, "seed \(iteration): \(sample) vs \(want)")
                #expect(Self.sameNumber(sample.value, want.value), "seed \(iteration): \(sample.value) vs \(want.value)")
            }

            let openMetrics = Renderer.render(families, format: .openMetrics)
            #expect(openMetrics.hasSuffix(Renderer.eofMarker), "seed \(iteration)")
            #expect(openMetrics.components(separatedBy: Renderer.eofMarker).count == 2, "seed \(iteration): # EOF twice")
        }
    }

    /// Prometheus splits the exposition on the byte 0x0A. In Swift "\r\n" is a single
    /// Character, so escaping that compares Characters with "\n" writes it raw and the
    /// sample is cut in two.
    @Test func carriageReturnNewlineStaysEscaped() {
        let family = MetricFamily.gauge("crlf_metric", "help\r\nline", [Series([Label("v", "a\r\nb")], 1)])
        for format in ExpositionFormat.allCases {
            let text = Renderer.render([family], format: format)
            let lines = text.utf8.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
            #expect(lines.count == (format == .openMetrics ? 4 : 3), "\(text.debugDescription)")
            #expect(lines.contains { $0.hasPrefix("crlf_metric{v=\"a\r\\nb\"} 1") }, "\(text.debugDescription)")
        }
    }
}
