#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
public import Logging
import Synchronization

/// The two log line formats of Prometheus exporters: logfmt (`ts=... level=info msg="..."
/// key=value`) and JSON (one object per line).
public enum LogFormat: String, Sendable, CaseIterable {
    case logfmt, json
}

/// Where finished lines go; a test can capture them.
public protocol LogSink: Sendable {
    func write(_ line: String)
}

/// Writes log lines to a file descriptor (standard error by default) without ever stalling the
/// exporter. A log reader that stopped reading (a full pipe), a full disk or a closed stream
/// costs dropped lines, counted in `LogLineDrops`, instead of a blocked thread: logging runs on
/// whatever thread logs, including the ones serving /metrics and handling SIGHUP.
public struct StandardErrorSink: LogSink {
    /// Linux pipes guarantee a write of at most this many bytes fits once poll reports POLLOUT.
    static let chunkSize = 4096
    /// How long the rest of a line that is already half written may wait for the reader.
    static let continuationWaitMilliseconds: Int32 = 100
    /// One writer at a time, so a line is never interleaved with another and poll's answer
    /// still holds when the write happens.
    private static let writing = Mutex<Void>(())

    private let fileDescriptor: Int32

    public init(fileDescriptor: Int32 = 2) {
        self.fileDescriptor = fileDescriptor
    }

    public func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        let written = Self.writing.withLock { _ in Self.writeWithoutBlocking(bytes, to: fileDescriptor) }
        if !written { LogLineDrops.record() }
    }

    /// Writes `bytes` in chunks the descriptor can take without blocking; false when the line
    /// could not be written completely.
    static func writeWithoutBlocking(_ bytes: [UInt8], to fileDescriptor: Int32) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                var poller = pollfd(fd: fileDescriptor, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&poller, 1, offset == 0 ? 0 : continuationWaitMilliseconds)
                if ready < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                if ready == 0 || poller.revents & Int16(POLLOUT) == 0 { return false }
                let length = min(chunkSize, buffer.count - offset)
                let count = Glibc.write(fileDescriptor, buffer.baseAddress! + offset, length)
                if count < 0 {
                    if errno == EINTR { continue }
                    return false  // ENOSPC, EPIPE, EAGAIN, EBADF: the line is lost, the exporter goes on
                }
                offset += count
            }
            return true
        }
    }
}

/// Log lines that could not be written; exported as `mitra_exporter_log_lines_dropped_total`.
public enum LogLineDrops {
    private static let count = Atomic<UInt64>(0)
    public static var total: UInt64 { count.load(ordering: .relaxed) }
    static func record() { count.add(1, ordering: .relaxed) }
}

/// A swift-log handler writing one line per event. `redact` runs on the message and every
/// metadata value, so a secret passed by mistake never reaches the log.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let format: LogFormat
    private let sink: any LogSink
    private let redact: @Sendable (String) -> String

    public init(label: String, level: Logger.Level, format: LogFormat, sink: any LogSink = StandardErrorSink(),
                redact: @escaping @Sendable (String) -> String = { $0 }) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.sink = sink
        self.redact = redact
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var fields: [(String, String)] = [
            ("ts", Self.timestamp()),
            ("level", Self.levelName(event.level)),
            ("msg", redact(event.message.description)),
        ]
        if label != "mitra-exporter" { fields.append(("logger", label)) }
        for key in merged.keys.sorted() {
            fields.append((key, redact(Self.flatten(merged[key]!))))
        }
        sink.write(format == .json ? Self.json(fields) : Self.logfmt(fields))
    }

    static func levelName(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug: "debug"
        case .info, .notice: "info"
        case .warning: "warn"
        case .error, .critical: "error"
        }
    }

    static func flatten(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        case .array(let array): "[" + array.map(flatten).joined(separator: ",") + "]"
        case .dictionary(let dictionary):
            "{" + dictionary.keys.sorted().map { "\($0)=\(flatten(dictionary[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    static func logfmt(_ fields: [(String, String)]) -> String {
        fields.map { key, value in "\(key)=\(logfmtValue(value))" }.joined(separator: " ")
    }

    static func logfmtValue(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.contains { $0 == " " || $0 == "=" || $0 == "\"" || $0 == "\\" || $0.isNewline || $0.asciiValue.map { $0 < 0x20 } ?? false }
        return needsQuotes ? quoted(value) : value
    }

    static func json(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\(quoted($0.0)):\(quoted($0.1))" }.joined(separator: ",") + "}"
    }

    /// A double-quoted string with JSON escapes; logfmt quotes values the same way.
    static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += "\\u00" + Self.padded(Int(scalar.value), 2, radix: 16) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }

    static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var tm = tm()
        var seconds = spec.tv_sec
        gmtime_r(&seconds, &tm)
        return padded(Int(tm.tm_year) + 1900, 4) + "-" + padded(Int(tm.tm_mon) + 1, 2) + "-" + padded(Int(tm.tm_mday), 2)
            + "T" + padded(Int(tm.tm_hour), 2) + ":" + padded(Int(tm.tm_min), 2) + ":" + padded(Int(tm.tm_sec), 2)
            + "." + padded(Int(spec.tv_nsec / 1_000_000), 3) + "Z"
    }

    /// `value` with leading zeros to `width` digits, as printf's `%0*d` (no Foundation formatter).
    static func padded(_ value: Int, _ width: Int, radix: Int = 10) -> String {
        let digits = String(value, radix: radix)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

/// The redactor used by every log handler; replaced on reload with the new config's secrets.
public final class LogRedaction: Sendable {
    /// The closure sits in a struct so the mutex's generic storage holds a struct, not a
    /// function. A bare `Mutex<(String) -> String>` is stored at the generic abstraction level:
    /// every `withLock` access re-wrapped the closure in two reabstraction thunks and wrote the
    /// wrapped one back, so each log line made the next one slower and its call chain deeper
    /// (quadratic CPU, and a stack overflow after enough lines).
    private struct Current: Sendable {
        let redact: @Sendable (String) -> String
    }

    private let current = Mutex(Current(redact: { $0 }))
    public init() {}
    public func set(_ redact: @escaping @Sendable (String) -> String) { current.withLock { $0 = Current(redact: redact) } }
    public func redact(_ text: String) -> String { current.withLock { $0 }.redact(text) }
}
