import Logging
import Synchronization

/// Keeps log events in memory, so tests can check what was logged (and that no secret was).
public final class LogRecorder: Sendable {
    public struct Event: Sendable {
        public var level: Logger.Level
        public var message: String
        /// The logger's metadata merged with the event's.
        public var metadata: Logger.Metadata
    }

    private let stored = Mutex<[Event]>([])

    public init() {}

    public func logger(label: String = "test") -> Logger {
        Logger(label: label) { _ in Handler(recorder: self) }
    }

    public var logger: Logger { logger() }

    public var events: [Event] { stored.withLock { $0 } }

    /// Every event as a line of level, message and metadata, for checking that a secret
    /// appears nowhere in the log.
    public var text: String {
        events.map { "\($0.level) \($0.message) \($0.metadata)" }.joined(separator: "\n")
    }

    /// Level and message of every event, in order.
    public var messages: [(Logger.Level, String)] { events.map { ($0.level, $0.message) } }

    struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            recorder.stored.withLock { $0.append(Event(level: event.level, message: "\(event.message)", metadata: merged)) }
        }
    }
}
