import Foundation
import LogFormats
import Logging
import Synchronization
import Testing

final class CapturingSink: LogSink {
    private let storage = Mutex<[String]>([])
    var lines: [String] { storage.withLock { $0 } }
    func write(_ line: String) { storage.withLock { $0.append(line) } }
}

@Suite struct LineLogHandlerTests {
    @Test func logfmtLine() throws {
        let sink = CapturingSink()
        let logger = Logger(label: "mitra-exporter") { label in LineLogHandler(label: label, level: .info, format: .logfmt, sink: sink) }
        logger.warning("collector failed", metadata: ["collector": "postgres/db/locks", "error": "permission denied: \"x\"", "n": "3"])
        logger.debug("not shown")
        let line = try #require(sink.lines.first)
        #expect(sink.lines.count == 1)
        #expect(line.hasPrefix("ts="))
        #expect(line.hasSuffix(#" level=warn msg="collector failed" collector=postgres/db/locks error="permission denied: \"x\"" n=3"#))
    }

    @Test func jsonLine() throws {
        let sink = CapturingSink()
        let logger = Logger(label: "mitra-exporter") { label in LineLogHandler(label: label, level: .debug, format: .json, sink: sink) }
        logger.debug("multi\nline", metadata: ["k": "v\"q"])
        let line = try #require(sink.lines.first)
        #expect(line.hasPrefix(#"{"ts":""#))
        #expect(line.hasSuffix(#","level":"debug","msg":"multi\nline","k":"v\"q"}"#))
        #expect(!line.contains("\n"))
    }

    @Test func redactsMessageAndMetadata() throws {
        let sink = CapturingSink()
        let logger = Logger(label: "mitra-exporter") { label in
            LineLogHandler(label: label, level: .info, format: .logfmt, sink: sink, redact: { $0.replacingOccurrences(of: "hunter2", with: "<secret>") })
        }
        logger.error("login with hunter2 failed", metadata: ["dsn": "postgresql://u:hunter2@db/x"])
        let line = try #require(sink.lines.first)
        #expect(!line.contains("hunter2"))
        #expect(line.contains("<secret>"))
    }

    @Test func levelsMapToPrometheusNames() {
        let sink = CapturingSink()
        let logger = Logger(label: "other") { label in LineLogHandler(label: label, level: .trace, format: .logfmt, sink: sink) }
        logger.trace("t"); logger.notice("n"); logger.critical("c")
        #expect(sink.lines.map { $0.contains("level=debug") } == [true, false, false])
        #expect(sink.lines[1].contains("level=info") && sink.lines[2].contains("level=error"))
        #expect(sink.lines[0].contains("logger=other"))
    }

    /// Every log line goes through the shared redaction. Its closure used to gain two
    /// reabstraction thunks per call, so line n cost n calls and n stack frames: 100,000 lines
    /// took quadratic time and overflowed the stack. Now the 100,000th line costs what the first did.
    @Test func redactionCostDoesNotGrowWithTheLinesLogged() {
        let redaction = LogRedaction()
        redaction.set { $0.replacingOccurrences(of: "hunter2", with: "<secret>") }
        var last = ""
        for index in 0..<100_000 {
            last = redaction.redact("line \(index) password=hunter2")
        }
        #expect(last == "line 99999 password=<secret>")
        // A reload replaces the redaction instead of wrapping the old one.
        redaction.set { $0.replacingOccurrences(of: "swordfish", with: "<secret>") }
        #expect(redaction.redact("hunter2 swordfish") == "hunter2 <secret>")
    }
}
