import CZlib
import NIOCore

/// Gzip bodies built from a cached, compressed-once part.
///
/// A `/metrics` body is the exporter's own metrics (new on every scrape: scrape count, CPU,
/// memory) followed by every sampler's series (unchanged until a sampler publishes). The
/// second part is compressed once per change into raw deflate blocks that end the stream;
/// each scrape compresses only its small first part, flushed to a byte boundary without
/// ending the stream, and joins the two into one gzip member. That is a valid deflate stream
/// because every block of the second part refers only to its own data, and the gzip trailer's
/// CRC-32 of the whole is combined from the two parts' CRCs. Any gzip reader decodes it as
/// one member (no reliance on multi-member support).
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
    /// byte boundary (a sync flush) so a final part can follow it.
    static func deflate(_ text: String, final: Bool, level: Int32, windowBits: Int32 = 15, memLevel: Int32 = 8) throws -> Part {
        var text = text
        return try text.withUTF8 { input in
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
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = destination.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(destination.count)
                result = CZlib.deflate(&stream, flush)
                return destination.count - Int(stream.avail_out)
            }
            let expected = final ? Z_STREAM_END : Z_OK
            guard result == expected, stream.avail_in == 0 else { throw Failure(code: result) }
            let crc = input.isEmpty ? 0 : UInt32(crc32(0, input.baseAddress, uInt(input.count)))
            return Part(deflate: output, crc: crc, length: input.count)
        }
    }

    /// One gzip member: header, `head` (not final), `tail` (final), trailer.
    static func member(head: Part, tail: Part) -> ByteBuffer {
        var body = ByteBufferAllocator().buffer(capacity: 10 + head.deflate.readableBytes + tail.deflate.readableBytes + 8)
        // ID1 ID2, CM = deflate, no flags, no modification time, no extra flags, OS = Unix.
        body.writeBytes([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03] as [UInt8])
        body.writeImmutableBuffer(head.deflate)
        body.writeImmutableBuffer(tail.deflate)
        let crc = UInt32(crc32_combine(uLong(head.crc), uLong(tail.crc), off_t(tail.length)))
        body.writeInteger(crc, endianness: .little)
        body.writeInteger(UInt32(truncatingIfNeeded: head.length + tail.length), endianness: .little)
        return body
    }
}
