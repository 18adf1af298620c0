import Exposition
import Testing

@Suite struct LineBufferTests {
    /// The digit-by-digit path for integral values and the string path for the rest print
    /// exactly what `formatNumber` prints (the golden files depend on it).
    @Test(arguments: [
        0.0, -0.0, 1, -1, 9, 10, 99, 100, 12_345, -987_654_321, 1_795_600_459, 999_999_999_999_999, -999_999_999_999_999,
        1e15, -1e15, 1e20, 0.5, -0.25, 1795600459.25, 0.006303129, 1.7e-05, Double.nan, Double.infinity, -Double.infinity,
        Double(Int64.max), Double.greatestFiniteMagnitude, Double.leastNonzeroMagnitude,
    ])
    func numbersAreWrittenAsFormatNumberPrintsThem(_ value: Double) {
        var buffer = LineBuffer(capacity: 1)
        buffer.appendNumber(value)
        #expect(buffer.string() == Renderer.formatNumber(value))
    }

    @Test func labelValuesAreEscapedOnlyWhereNeeded() {
        var buffer = LineBuffer()
        buffer.appendEscaped("plain value, ünïcödé")
        buffer.append(UInt8(ascii: "|"))
        buffer.appendEscaped("a\"b\\c\nd\r\ne")
        #expect(buffer.string() == "plain value, ünïcödé|a\\\"b\\\\c\\nd\r\\ne")
    }

    /// A buffer much smaller than its output grows without losing or reordering bytes, and
    /// `finish` hands over exactly what was written.
    @Test func growsPastItsCapacityAndHandsOverExactlyWhatWasWritten() {
        var buffer = LineBuffer(capacity: 1)
        var expected = ""
        for index in 0..<2_000 {
            let piece = "line_\(index){k=\"v\(index)\"} "
            buffer.append(piece)
            buffer.appendNumber(Double(index))
            buffer.append("\n" as StaticString)
            expected += piece + "\(index)\n"
        }
        #expect(buffer.count == expected.utf8.count)
        let lines = buffer.finish()
        #expect(lines.count == expected.utf8.count)
        #expect(lines.string == expected)
        let middle = expected.utf8.count / 2
        lines.withBytes(middle..<middle + 10) { bytes in
            #expect(Array(bytes) == Array(expected.utf8.dropFirst(middle).prefix(10)))
        }
    }

    @Test func anEmptyBufferFinishesEmpty() {
        let lines = LineBuffer().finish()
        #expect(lines.count == 0)
        #expect(lines.string == "")
        #expect(RenderedLines.empty.count == 0)
    }
}
