import Foundation
@testable import LogFormats
import Testing

/// The sink must never hold up the thread that logs: a destination that is full, closed or
/// not being read costs counted dropped lines, not a stalled exporter.
@Suite(.serialized) struct StandardErrorSinkTests {
    static let line = String(repeating: "x", count: 199)

    @Test func writesWholeLinesToAReadablePipe() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]) }
        let sink = StandardErrorSink(fileDescriptor: ends[1])
        let before = LogLineDrops.total
        sink.write("first")
        sink.write("second line")
        close(ends[1])
        let data = FileHandle(fileDescriptor: ends[0]).readDataToEndOfFile()
        #expect(String(decoding: data, as: UTF8.self) == "first\nsecond line\n")
        #expect(LogLineDrops.total == before)
    }

    @Test func aPipeNobodyReadsDropsLinesInsteadOfBlocking() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]); close(ends[1]) }
        let sink = StandardErrorSink(fileDescriptor: ends[1])
        let before = LogLineDrops.total
        // 2 MB of lines into a 64 KiB pipe buffer: a blocking write would never return.
        for _ in 0..<10_000 { sink.write(Self.line) }
        let dropped = LogLineDrops.total - before
        #expect(dropped > 9_000, "expected most lines dropped, dropped \(dropped)")
        // What did reach the pipe is whole lines only.
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        let flags = fcntl(ends[0], F_GETFL)
        _ = fcntl(ends[0], F_SETFL, flags | O_NONBLOCK)
        let count = read(ends[0], &buffer, buffer.count)
        #expect(count > 0 && count % 200 == 0, "partial line in the pipe: \(count) bytes")
        // Once the reader catches up, lines get through again.
        let afterDrain = LogLineDrops.total
        sink.write("back")
        #expect(LogLineDrops.total == afterDrain)
    }

    @Test func aFullDiskDropsLines() throws {
        let full = open("/dev/full", O_WRONLY)
        try #require(full >= 0, "/dev/full is not available")
        defer { close(full) }
        let before = LogLineDrops.total
        StandardErrorSink(fileDescriptor: full).write("lost")
        #expect(LogLineDrops.total == before + 1)
    }

    @Test func aClosedReaderDropsLinesWithoutSIGPIPE() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        close(ends[0])
        defer { close(ends[1]) }
        let previous = signal(SIGPIPE, SIG_IGN)  // the exporter ignores SIGPIPE at start-up
        defer { signal(SIGPIPE, previous) }
        let before = LogLineDrops.total
        StandardErrorSink(fileDescriptor: ends[1]).write("lost")
        #expect(LogLineDrops.total == before + 1)
    }
}
