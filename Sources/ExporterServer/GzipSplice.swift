import CZlib
import NIOCore

/// Gzip bodies built from cached, compressed-once parts.
///
/// A `/metrics` body is the exporter's own metrics (new on every scrape: scrape count, CPU,
/// memory) followed by every sampler's series (unchanged until a sampler publishes). The
/// second part is kept as chunks (`SampleChunks`), each compressed once per change into raw
/// deflate blocks flushed to a byte boundary; each scrape compresses only its small first
/// part and the chunks that changed, and joins all parts, then a final one ending the stream,
/// into one gzip member. That is a valid deflate stream because every part's blocks refer only
/// to its own data, and the gzip trailer's CRC-32 of the whole is combined from the parts'
/// CRCs. Any gzip reader decodes it as one member (no reliance on multi-member support).
enum GzipSplice {
    /// Raw deflate data and what the gzip trailer needs to know of its input.
    struct Part: Sendable {
        var deflate: ByteBuffer
        var crc: UInt32
        var length: Int
    }

    struct Failure: Error, CustomStringConvertible {
        let code: Int32
        var description: String { "zlib error \(code)" }
    }

    /// Compresses `text`. A `final` part ends the deflate stream; any other part ends on a
    /// byte boundary (a sync flush) so another part can follow it.
    static func deflate(_ text: String, final: Bool, level: Int32, windowBits: Int32 = 15, memLevel: Int32 = 8) throws -> Part {
        var text = text
        return try text.withUTF8 { try deflate(UnsafeRawBufferPointer($0), final: final, level: level, windowBits: windowBits, memLevel: memLevel) }
    }

    /// Compresses `bytes` with a window no larger than they need: each chunk of a body is
    /// compressed on its own, so a larger window finds nothing more and only costs the
    /// memory zlib allocates and clears for it.
    static func deflate(_ bytes: [UInt8], final: Bool, level: Int32) throws -> Part {
        var windowBits: Int32 = 9
        while windowBits < 15, 1 << windowBits < bytes.count + 262 { windowBits += 1 }
        return try bytes.withUnsafeBytes {
            try deflate($0, final: final, level: level, windowBits: windowBits, memLevel: max(1, windowBits - 7))
        }
    }

    static func deflate(_ input: UnsafeRawBufferPointer, final: Bool, level: Int32, windowBits: Int32, memLevel: Int32) throws -> Part {
        var stream = z_stream()
        let status = mitra_deflate_init_raw(&stream, level, windowBits, memLevel)
        guard status == Z_OK else { throw Failure(code: status) }
        defer { deflateEnd(&stream) }
        // deflateBound covers a finished stream; a sync flush adds at most an empty
        // stored block (5 bytes) and the bits still pending.
        let capacity = Int(deflateBound(&stream, uLong(input.count))) + 16
        var output = ByteBufferAllocator().buffer(capacity: capacity)
        let flush = final ? Z_FINISH : Z_SYNC_FLUSH
        var result = Z_OK
        output.writeWithUnsafeMutableBytes(minimumWritableBytes: capacity) { destination in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(input.count)
            stream.next_out = destination.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(destination.count)
            result = CZlib.deflate(&stream, flush)
            return destination.count - Int(stream.avail_out)
        }
        let expected = final ? Z_STREAM_END : Z_OK
        guard result == expected, stream.avail_in == 0 else { throw Failure(code: result) }
        let crc = input.isEmpty ? 0 : UInt32(crc32(0, input.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt(input.count)))
        // Parts are kept: one sized to its data, not to the bound (several times larger).
        var exact = ByteBufferAllocator().buffer(capacity: output.readableBytes)
        exact.writeImmutableBuffer(output)
        return Part(deflate: exact, crc: crc, length: input.count)
    }

    /// One gzip member: header, `head` (not final), `tail` (final), trailer.
    static func member(head: Part, tail: Part) -> ByteBuffer {
        member([head, tail])
    }

    /// `parts` (none of them final) as one part: their deflate data in order and the CRC-32
    /// of their inputs combined, so a member of it needs no work per original part.
    static func join(_ parts: some Collection<Part>) -> Part {
        var deflate = ByteBufferAllocator().buffer(capacity: parts.reduce(0) { $0 + $1.deflate.readableBytes })
        let (crc, length) = append(parts, to: &deflate)
        return Part(deflate: deflate, crc: crc, length: length)
    }

    /// One gzip member of `parts` in order: every part but the last ends on a byte boundary
    /// without ending the stream, the last ends it.
    static func member(_ parts: [Part]) -> ByteBuffer {
        var body = ByteBufferAllocator().buffer(capacity: 18 + parts.reduce(0) { $0 + $1.deflate.readableBytes })
        // ID1 ID2, CM = deflate, no flags, no modification time, no extra flags, OS = Unix.
        body.writeBytes([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03] as [UInt8])
        let (crc, length) = append(parts, to: &body)
        body.writeInteger(crc, endianness: .little)
        body.writeInteger(UInt32(truncatingIfNeeded: length), endianness: .little)
        return body
    }

    /// Writes the parts' deflate data to `buffer`; returns the CRC-32 and length of their inputs.
    private static func append(_ parts: some Collection<Part>, to buffer: inout ByteBuffer) -> (crc: UInt32, length: Int) {
        var crc: uLong = 0
        var length = 0
        for part in parts {
            buffer.writeImmutableBuffer(part.deflate)
            crc = crc32_combine(crc, uLong(part.crc), off_t(part.length))
            length += part.length
        }
        return (UInt32(truncatingIfNeeded: crc), length)
    }
}
