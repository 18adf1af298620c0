#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The growing UTF-8 output of `Renderer.writeSamples`. A sample is thousands of lines, each
/// a dozen small pieces: here a piece costs a capacity check and a copy, where `[UInt8]`'s
/// generic appends (uniqueness check, growth, then the copy) cost several times that.
///
/// Noncopyable, so the memory it owns has exactly one owner: it is freed with the buffer, or
/// handed over to the `RenderedLines` that `finish()` makes. Memory comes from malloc
/// directly, so growing is a `realloc`, which often needs no copy.
public struct LineBuffer: ~Copyable {
    private var start: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// Bytes written so far.
    public private(set) var count = 0

    /// `capacity` is a hint: a caller that knows the size of its last render passes it, so the
    /// buffer grows rarely (or never) and no half-used copies are left for the allocator.
    public init(capacity: Int = 1024) {
        self.capacity = max(capacity, 64)
        start = Self.reallocate(nil, self.capacity)
    }

    deinit {
        free(start)
    }

    private static func reallocate(_ pointer: UnsafeMutablePointer<UInt8>?, _ size: Int) -> UnsafeMutablePointer<UInt8> {
        guard let raw = realloc(pointer, size) else { fatalError("LineBuffer: out of memory (\(size) bytes)") }
        return raw.assumingMemoryBound(to: UInt8.self)
    }

    /// The bytes written, in memory of exactly their size that now belongs to the result.
    /// A small buffer is copied once into a new block rather than shrunk in place: a shrink
    /// leaves the cut-off tail as a hole between live blocks (a thousand checks' snapshots
    /// left ~1 MiB of such holes resident), where the whole old block, freed, merges with its
    /// neighbours. A large one (a PostgreSQL instance's hundreds of kB) is shrunk in place:
    /// its tail is at most an eighth of it, and a copy would touch as many fresh pages again.
    public consuming func finish() -> RenderedLines {
        let exact: UnsafeMutablePointer<UInt8>
        if capacity >= Self.shrinkInPlaceFrom {
            exact = Self.reallocate(start, max(count, 1))
        } else {
            exact = Self.reallocate(nil, max(count, 1))
            exact.initialize(from: start, count: count)
            free(start)
        }
        let count = count
        discard self
        return RenderedLines(taking: exact, count: count)
    }

    private static let shrinkInPlaceFrom = 64 * 1024

    /// The bytes as a string of exactly their size.
    public func string() -> String {
        String(unsafeUninitializedCapacity: count) { target in
            _ = target.initialize(from: UnsafeBufferPointer(start: start, count: count))
            return count
        }
    }

    @inline(__always)
    private mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(toAtLeast: count + extra) }
    }

    @inline(never)
    private mutating func grow(toAtLeast needed: Int) {
        capacity = max(needed, capacity * 2)
        start = Self.reallocate(start, capacity)
    }

    @inline(__always)
    public mutating func append(_ byte: UInt8) {
        reserve(1)
        start[count] = byte
        count += 1
    }

    @inline(__always)
    public mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        (start + count).initialize(from: source, count: bytes.count)
        count += bytes.count
    }

    public mutating func append(_ text: String) {
        if let _ = text.utf8.withContiguousStorageIfAvailable({ append($0) }) { return }
        var text = text
        text.withUTF8 { append($0) }
    }

    public mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { append($0) }
    }

    /// Appends `bytes` with `\\`, `\n` and `"` escaped as a label value needs. All three are
    /// ASCII, and a UTF-8 byte below 0x80 is never part of a multi-byte character, so the
    /// bytes can be walked directly ("\r\n" leaves its "\n" escaped as well).
    public mutating func appendEscaped(_ text: String) {
        if let _ = text.utf8.withContiguousStorageIfAvailable({ appendEscaped($0) }) { return }
        var text = text
        text.withUTF8 { appendEscaped($0) }
    }

    private mutating func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>) {
        var plain = true
        for byte in bytes where byte == 0x5C || byte == 0x0A || byte == 0x22 {
            plain = false
            break
        }
        if plain { return append(bytes) }
        reserve(bytes.count * 2)
        for byte in bytes {
            switch byte {
            case 0x5C: start[count] = 0x5C; start[count + 1] = 0x5C; count += 2
            case 0x0A: start[count] = 0x5C; start[count + 1] = UInt8(ascii: "n"); count += 2
            case 0x22: start[count] = 0x5C; start[count + 1] = 0x22; count += 2
            default: start[count] = byte; count += 1
            }
        }
    }

    /// Appends a sample value exactly as `Renderer.formatNumber` prints it; integral values
    /// (most of them: counters, sizes, counts) are written digit by digit without a string.
    public mutating func appendNumber(_ value: Double) {
        guard let integer = Renderer.integral(value) else {
            return append(Renderer.formatNumber(value))
        }
        var magnitude = integer.magnitude
        var digits = 1
        var rest = magnitude
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        reserve(digits + 1)
        if integer < 0 {
            start[count] = UInt8(ascii: "-")
            count += 1
        }
        var position = count + digits - 1
        repeat {
            start[position] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10)
            magnitude /= 10
            position -= 1
        } while magnitude > 0
        count += digits
    }
}

/// Rendered sample lines, immutable once made: the bytes a `LineBuffer` wrote, taken over
/// without a copy (nor the UTF-8 validation a `String` would need: the renderer writes only
/// whole UTF-8 strings and ASCII). Shared by reference between the store, scrapes and the
/// gzip caches; freed when the last of them lets go.
public final class RenderedLines: @unchecked Sendable {  // immutable after init
    private let start: UnsafeMutablePointer<UInt8>
    public let count: Int

    fileprivate init(taking start: UnsafeMutablePointer<UInt8>, count: Int) {
        self.start = start
        self.count = count
    }

    deinit {
        free(start)
    }

    public static let empty: RenderedLines = {
        let buffer = LineBuffer(capacity: 1)
        return buffer.finish()
    }()

    /// Calls `body` with the bytes in `range`.
    public func withBytes<Result>(_ range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "RenderedLines: range out of bounds")
        return try body(UnsafeRawBufferPointer(start: start + range.lowerBound, count: range.count))
    }

    /// The lines as a string (for logs and tests; scrapes use the bytes).
    public var string: String {
        withBytes(0..<count) { String(decoding: $0, as: UTF8.self) }
    }
}
